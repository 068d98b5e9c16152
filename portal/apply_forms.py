"""Forms of the application to join (validation for display only; the services decide and write)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from onboarding.documents import evidence_document_check
from onboarding.models import PartnerApplication, PartnerType
from onboarding.services.applications import application_branches, validate_china_mobile
from onboarding.validators import validate_uscc
from organisation.sign_in import sign_in_refused


class ApplicationForm(forms.Form):
    legal_name = forms.CharField(label=_("Company name"), max_length=128)
    credit_code = forms.CharField(
        label=_("Unified social credit code"),
        max_length=18,
        min_length=18,
        help_text=_("18 characters, as on the business licence."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "style": "text-transform: uppercase"}),
    )
    legal_representative = forms.CharField(label=_("Legal representative"), max_length=64)
    partner_type = forms.ChoiceField(label=_("Partner type"), choices=PartnerType.choices)
    branch = forms.ModelChoiceField(label=_("Region (branch)"), queryset=application_branches(), empty_label=None)
    referral_code = forms.CharField(
        label=_("Referring relationship manager's code"),
        max_length=150,
        required=False,
        help_text=_("If a relationship manager of the bank referred you, their staff code."),
    )
    contact_name = forms.CharField(label=_("Contact person"), max_length=64)
    email = forms.EmailField(
        label=_("E-mail"), help_text=_("Your sign-in name. We send a confirmation link to this address.")
    )
    mobile = forms.CharField(
        label=_("Mobile"),
        max_length=11,
        validators=[validate_china_mobile],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "tel"}),
    )
    password1 = forms.CharField(label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(
        label=_("Password again"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean_credit_code(self) -> str:
        code = self.cleaned_data["credit_code"].strip().upper()
        validate_uscc(code)
        return code

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return cleaned


class ResendForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))


class ApplicantLoginForm(AuthenticationForm):
    """Sign-in of applicants (and of applicants since admitted): anyone else gets the wrong-password error."""

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        has_application = PartnerApplication.objects.filter(
            applicant_id=user.pk, email_confirmed_at__isnull=False
        ).exists()
        if not has_application:
            sign_in_refused(request=self.request, username=user.get_username())
            raise self.get_invalid_login_error()


class EvidenceForm(forms.Form):
    reference = forms.CharField(label=_("Number or registration on the document"), max_length=255)
    document = forms.FileField(
        label=_("Document (PDF, JPEG or PNG)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
    )
    expires_on = forms.DateField(
        label=_("Valid until (licences)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def clean_document(self):
        # The service's own check, run here too so the refusal shows next to the field.
        document = self.cleaned_data.get("document")
        if isinstance(document, UploadedFile):
            try:
                evidence_document_check(document)
            except ValidationError as exc:
                raise ValidationError(exc.messages) from exc
        return document
