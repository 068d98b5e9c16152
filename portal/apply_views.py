"""The application to join the alliance (申请加入联盟) in the portal: public form, e-mail confirmation, the
applicant's own sign-in and application page (state, what is asked, evidence upload, submission).

Thin views: ``onboarding.services.applications`` decides and writes. An applicant reaches only their own
application (``application_of`` reads it by the signed-in user, never by an id from the request).
"""

from __future__ import annotations

import functools
from functools import wraps

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core.admin import error_text
from core.errors import ApplicationError
from onboarding.errors import TooManyApplications
from onboarding.models import EDITABLE_STATES, AdmissionState
from onboarding.selectors import partner_state_log
from onboarding.services.applications import (
    application_confirm_email,
    application_confirmation_resend,
    application_create,
    application_evidence_record,
    application_of,
    application_submit,
)
from portal.apply_forms import ApplicantLoginForm, ApplicationForm, ResendForm
from portal.evidence import evidence_items_with_forms, evidence_upload
from revenue.statements.services import is_partner_user


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _throttled(request, template: str, context: dict, exc: TooManyApplications):
    response = render(request, template, {**context, "throttled": exc.message}, status=429)
    response["Retry-After"] = str(exc.extra.get("wait", 60))
    return response


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        form.add_error(None, exc)


@never_cache
def apply(request):
    """The public application form."""
    form = ApplicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            application_create(
                legal_name=data["legal_name"],
                credit_code=data["credit_code"],
                legal_representative=data["legal_representative"],
                partner_type=data["partner_type"],
                branch=data["branch"],
                referral_code=data["referral_code"],
                contact_name=data["contact_name"],
                email=data["email"],
                mobile=data["mobile"],
                password=data["password1"],
                client_address=_ip(request),
            )
        except TooManyApplications as exc:
            return _throttled(request, "portal/apply/apply.html", {"form": form}, exc)
        except ValidationError as exc:
            # Field "password" is the form's password1.
            if hasattr(exc, "error_dict") and "password" in exc.error_dict:
                exc.error_dict["password1"] = exc.error_dict.pop("password")
            _apply_errors(form, exc)
        else:
            request.session["application_email"] = data["email"]
            return redirect("portal:apply-sent")
    return render(request, "portal/apply/apply.html", {"form": form})


@never_cache
def apply_sent(request):
    """Check your e-mail; send the link again (the same answer whether or not the address applied)."""
    form = ResendForm(request.POST or None, initial={"email": request.session.get("application_email", "")})
    if request.method == "POST" and form.is_valid():
        try:
            application_confirmation_resend(email=form.cleaned_data["email"], client_address=_ip(request))
        except TooManyApplications as exc:
            return _throttled(request, "portal/apply/sent.html", {"form": form}, exc)
        messages.success(request, _("If an unconfirmed application uses this address, a new link is on its way."))
        return redirect("portal:apply-sent")
    return render(request, "portal/apply/sent.html", {"form": form})


@never_cache
def apply_confirm(request, token: str):
    try:
        application_confirm_email(token=token)
    except ApplicationError as exc:
        return render(request, "portal/apply/sent.html", {"form": ResendForm(), "error": exc.message}, status=400)
    messages.success(request, _("Your e-mail address is confirmed. Sign in to continue your application."))
    return redirect("portal:apply-sign-in")


class ApplicantLoginView(auth_views.LoginView):
    """Applicants' sign-in; failed sign-ins are limited by django-axes as everywhere."""

    template_name = "portal/apply/sign_in.html"
    authentication_form = ApplicantLoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return reverse("portal:application")


def applicant_required(view):
    """The signed-in applicant's own application as ``application``; an admitted partner's user goes to the portal."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:apply-sign-in"))
        try:
            application = application_of(user=user)
        except ApplicationError:
            if is_partner_user(user):
                return redirect("portal:settlements")
            if user.is_staff:
                return redirect("admin:index")
            raise Http404 from None
        return view(request, application, *args, **kwargs)

    return wrapper


def _what_is_asked(partner) -> str:
    """The reviewer's latest request for information, as logged (comment and the items to fix)."""
    entry = partner_state_log(partner=partner).filter(transition="request_info").last()
    return (entry.description or "") if entry else ""


@never_cache
@applicant_required
def application(request, application):
    partner = application.partner
    editable = partner.state in EDITABLE_STATES
    items = evidence_items_with_forms(partner=partner)
    return render(
        request,
        "portal/apply/application.html",
        {
            "application": application,
            "partner": partner,
            "items": items,
            "editable": editable,
            "asked": _what_is_asked(partner) if partner.state == AdmissionState.NEEDS_INFO else "",
            "can_submit": editable,
            "is_active": partner.state == AdmissionState.ACTIVE,
            "is_rejected": partner.state == AdmissionState.REJECTED,
        },
    )


@require_POST
@applicant_required
def application_evidence(request, application, requirement_id: int):
    return evidence_upload(
        request,
        partner=application.partner,
        requirement_id=requirement_id,
        record=functools.partial(application_evidence_record, application=application),
        back=reverse("portal:application"),
    )


@require_POST
@applicant_required
def application_send(request, application):
    try:
        partner = application_submit(application=application, by=request.user, comment=request.POST.get("comment", ""))
    except (ApplicationError, ValidationError) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request,
            _("Your application was sent to the bank (now: %(state)s).") % {"state": partner.get_state_display()},
        )
    return redirect("portal:application")
