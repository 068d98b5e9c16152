"""Forms of the partner portal and the verification page (validation only; writes go through the services)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from organisation.sign_in import sign_in_refused
from portal.selectors import PartnerAccess, user_partner_access
from revenue.statements.services import is_partner_user


class PartnerLoginForm(AuthenticationForm):
    """The portal's sign-in: partner users only.

    Anyone else (bank staff) gets the wrong-password error even with the right password, and it
    counts as a failed sign-in: the portal never confirms a staff password. The page links to the
    admin's sign-in for staff who came to the wrong door.
    """

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not user.partner_id:
            sign_in_refused(request=self.request, username=user.get_username())
            raise self.get_invalid_login_error()
        if not is_partner_user(user):
            raise forms.ValidationError(
                _("Your account cannot read settlements. Ask the bank to grant you access."), code="no_access"
            )
        if user_partner_access(user=user) is PartnerAccess.NONE:
            raise forms.ValidationError(
                _("Your organisation's access to the partner portal is suspended or has ended."), code="access_ended"
            )


class DisputeForm(forms.Form):
    comment = forms.CharField(
        label=_("What is wrong with this line?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class WebhookForm(forms.Form):
    url = forms.URLField(
        label=_("Endpoint URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_("https:// recommended. Events are POSTed as JSON and signed (see the API documentation)."),
    )


class VerifyForm(forms.Form):
    code = forms.CharField(
        label=_("Verification code"),
        max_length=32,
        widget=forms.TextInput(attrs={"placeholder": "XXXX-XXXX-XXXX-XXXX", "autocomplete": "off"}),
    )
