"""Applications to join the alliance (申请加入联盟) made by companies themselves in the portal.

An application opens an ordinary draft admission case in the chosen branch
(``origin = self_application``) through the same path as an RM's case
(``partner_case_open``), and an applicant account bound to it that cannot sign
in until its e-mail is confirmed by a signed link that expires after
APPLICATION_CONFIRM_HOURS. The confirmed applicant records the case's evidence
and submits and resubmits it with the admission services themselves, which
let an applicant do exactly that to their own case (``policies.APPLICANT_ACTIONS``);
everything else (review, maker-checker, head office) is the bank's, unchanged.
Applications and confirmation e-mails are limited per client address and per
e-mail address (``APPLICATION_MAX_PER_ADDRESS`` / ``_PER_EMAIL`` in
``APPLICATION_WINDOW_SECONDS``): no CAPTCHA, the confirmation is the proof.
"""

from __future__ import annotations

import re
import time
from datetime import date

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from onboarding.errors import InvalidState, NotPermitted, TooManyApplications
from onboarding.models import (
    AdmissionState,
    CaseOrigin,
    EvidenceItem,
    EvidenceRequirement,
    Partner,
    PartnerApplication,
    PartnerTier,
)
from onboarding.services.notices import notice_send, portal_url
from organisation.models import Branch, User
from organisation.roles import Role

# China mobile numbers: 11 digits, 1 then 3-9.
MOBILE_PATTERN = re.compile(r"^1[3-9]\d{9}$")
CONFIRM_SALT = "onboarding.application.confirm"
# Told to whoever gives a code that is taken, whoever holds it (a partner, an earlier application).
CODE_TAKEN_MESSAGE = _(
    "This unified social credit code cannot be used for a new application. If your company already works "
    "with the bank, please contact its relationship manager."
)
EMAIL_TAKEN_MESSAGE = _("This e-mail address cannot be used for a new application. Use another address.")


def validate_china_mobile(value: str) -> None:
    if not MOBILE_PATTERN.match(value or ""):
        raise ValidationError(_("Enter an 11-digit mainland China mobile number, such as 13800138000."))


# ---- rate limits ----------------------------------------------------------------------------


def _count_in_window(key: str, *, now: float) -> tuple[int, int]:
    """Add one to the fixed-window counter ``key``; (count, seconds left in the window)."""
    window = settings.APPLICATION_WINDOW_SECONDS
    index = int(now // window)
    full_key = f"{key}:{index}"
    if cache.add(full_key, 1, window):
        count = 1
    else:
        try:
            count = cache.incr(full_key)
        except ValueError:  # expired between add() and incr()
            cache.set(full_key, 1, window)
            count = 1
    return count, max(1, int((index + 1) * window - now))


def application_throttle(*, kind: str, address: str | None, email: str, now: float | None = None) -> None:
    """Count one ``kind`` (application or confirmation e-mail) for the client address and the e-mail address.

    Raises ``TooManyApplications`` (with ``extra["wait"]`` seconds) once either is over its limit.
    """
    now = time.time() if now is None else now
    by_address, wait_address = _count_in_window(f"application:{kind}:address:{address or '-'}", now=now)
    by_email, wait_email = _count_in_window(f"application:{kind}:email:{email.lower()}", now=now)
    if by_address > settings.APPLICATION_MAX_PER_ADDRESS or by_email > settings.APPLICATION_MAX_PER_EMAIL:
        wait = max(wait_address, wait_email)
        raise TooManyApplications(
            _("Too many applications or e-mails in a short time. Please try again in %(minutes)d minutes.")
            % {"minutes": max(1, wait // 60)},
            extra={"wait": wait},
        )


# ---- applying and confirming ----------------------------------------------------------------


def application_branches():
    """Branches a company may apply to (head office takes no applications)."""
    return Branch.objects.filter(is_head_office=False).order_by("code")


def _relationship_manager_for(*, branch: Branch, referral_code: str) -> User:
    """The RM the applicant named (an active RM of the branch with that user name), else the branch's least busy RM."""
    rms = User.objects.filter(is_active=True, branch=branch, groups__name=Role.BRANCH_RM.value)
    if referral_code:
        referred = rms.filter(username=referral_code).first()
        if referred is None:
            raise ValidationError({"referral_code": _("No relationship manager of this branch has this code.")})
        return referred
    rm = rms.annotate(cases=Count("managed_partners")).order_by("cases", "username").first()
    if rm is None:
        raise ValidationError({"branch": _("This branch does not take applications at the moment.")})
    return rm


def confirmation_token(application: PartnerApplication) -> str:
    return signing.dumps({"a": application.pk, "e": application.email.lower()}, salt=CONFIRM_SALT)


def _send_confirmation(application: PartnerApplication) -> None:
    link = portal_url(reverse("portal:apply-confirm", args=[confirmation_token(application)]))
    notice_send(
        to=[application.email],
        template="application_confirm",
        context={
            "company": application.partner.legal_name,
            "link": link,
            "hours": settings.APPLICATION_CONFIRM_HOURS,
        },
    )


@transaction.atomic
def application_create(
    *,
    legal_name: str,
    credit_code: str,
    legal_representative: str,
    partner_type: str,
    branch: Branch,
    contact_name: str,
    email: str,
    mobile: str,
    password: str,
    referral_code: str = "",
    client_address: str | None = None,
) -> PartnerApplication:
    """Open a self-application: a draft case in ``branch``, an applicant account (inactive) and the confirmation e-mail.

    Refused with ``ValidationError`` naming the field (nothing written) for a bad or taken credit code — without
    saying who holds it —, a mobile that is not a China mobile, an e-mail that has an account, a weak password or
    an RM code that is not the branch's; with ``TooManyApplications`` over the rate limits.
    """
    email = email.strip().lower()
    credit_code = credit_code.strip().upper()
    referral_code = referral_code.strip()
    application_throttle(kind="apply", address=client_address, email=email)
    if branch.is_head_office:
        raise ValidationError({"branch": _("Choose a branch.")})
    validate_china_mobile(mobile)
    if Partner.objects.filter(credit_code=credit_code).exists():
        raise ValidationError({"credit_code": CODE_TAKEN_MESSAGE})
    if User.objects.filter(Q(username__iexact=email) | Q(email__iexact=email)).exists():
        raise ValidationError({"email": EMAIL_TAKEN_MESSAGE})
    relationship_manager = _relationship_manager_for(branch=branch, referral_code=referral_code)

    applicant = User(username=email, email=email, display_name=contact_name.strip(), is_active=False)
    try:
        validate_password(password, applicant)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    applicant.set_password(password)
    applicant.full_clean(exclude=["password"])
    try:
        with transaction.atomic():
            applicant.save()
    except IntegrityError as exc:  # the same address applying twice at the same moment
        raise ValidationError({"email": EMAIL_TAKEN_MESSAGE}) from exc

    from onboarding.services.partners import partner_case_open

    partner = Partner(
        partner_type=partner_type,
        legal_name=legal_name.strip(),
        credit_code=credit_code,
        legal_representative=legal_representative.strip(),
        contact_name=contact_name.strip(),
        contact_phone=mobile,
        contact_email=email,
        branch=branch,
        relationship_manager=relationship_manager,
        tier=PartnerTier.STANDARD,
        origin=CaseOrigin.SELF_APPLICATION,
        created_by=applicant,
    )
    try:
        with transaction.atomic():
            partner_case_open(partner=partner, by=applicant, comment=str(_("Application made in the partner portal.")))
    except IntegrityError as exc:
        # The same code applied for at the same moment: the unique constraint decides, with the same answer.
        raise ValidationError({"credit_code": CODE_TAKEN_MESSAGE}) from exc
    except ValidationError as exc:
        # The unique check's own message would be the same, but keep one wording for a taken code.
        if "credit_code" in getattr(exc, "error_dict", {}) and any(
            e.code == "unique" for e in exc.error_dict["credit_code"]
        ):
            raise ValidationError({"credit_code": CODE_TAKEN_MESSAGE}) from exc
        raise
    application = PartnerApplication.objects.create(
        partner=partner, applicant=applicant, email=email, mobile=mobile, referral_code=referral_code
    )
    _send_confirmation(application)
    return application


def application_confirmation_resend(*, email: str, client_address: str | None = None) -> bool:
    """Send the confirmation link again for an unconfirmed application of ``email``; whether one was sent.

    Counted against the same limits; the caller says the same thing either way (no address enumeration).
    """
    email = email.strip().lower()
    application_throttle(kind="confirm", address=client_address, email=email)
    application = (
        PartnerApplication.objects.select_related("partner")
        .filter(email=email, email_confirmed_at__isnull=True)
        .first()
    )
    if application is None:
        return False
    with transaction.atomic():
        _send_confirmation(application)
    return True


@transaction.atomic
def application_confirm_email(*, token: str) -> PartnerApplication:
    """Confirm the applicant's e-mail from the signed link: the account can sign in from now on.

    A link that is forged, for another address or older than APPLICATION_CONFIRM_HOURS is refused
    (``InvalidState``); confirming twice is harmless.
    """
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=settings.APPLICATION_CONFIRM_HOURS * 3600)
    except signing.SignatureExpired as exc:
        raise InvalidState(_("This confirmation link has expired. Ask for a new one below.")) from exc
    except signing.BadSignature as exc:
        raise InvalidState(_("This confirmation link is not valid.")) from exc
    application = (
        PartnerApplication.objects.select_for_update().select_related("applicant").filter(pk=data.get("a")).first()
    )
    if application is None or application.email.lower() != data.get("e"):
        raise InvalidState(_("This confirmation link is not valid."))
    if application.email_confirmed_at is None:
        application.email_confirmed_at = timezone.now()
        application.save(update_fields=["email_confirmed_at"])
        User.objects.filter(pk=application.applicant_id).update(is_active=True)
        application.applicant.is_active = True
    return application


# ---- the applicant's part of the case ------------------------------------------------------


def application_of(*, user: User) -> PartnerApplication:
    """The signed-in applicant's own application (``NotPermitted`` for anyone else): never another's."""
    application = (
        PartnerApplication.objects.select_related("partner", "partner__branch")
        .filter(applicant_id=user.pk, email_confirmed_at__isnull=False)
        .first()
    )
    if application is None or not user.is_active:
        raise NotPermitted(_("You have no application to join."))
    return application


def application_evidence_record(
    *,
    application: PartnerApplication,
    requirement: EvidenceRequirement,
    reference: str,
    by: User,
    document: File | None = None,
    expires_on: date | None = None,
) -> EvidenceItem:
    """The applicant records one evidence item of their case (the admission service's rules: type by content, size)."""
    from onboarding.services.evidence import evidence_item_record, evidence_upload_complete

    if application.applicant_id != by.pk:
        raise NotPermitted(_("You have no application to join."))
    evidence_upload_complete(
        partner=application.partner, requirement=requirement, reference=reference, document=document
    )
    return evidence_item_record(
        partner=application.partner,
        requirement=requirement,
        reference=reference,
        document=document,
        expires_on=expires_on,
        by=by,
    )


def application_submit(*, application: PartnerApplication, by: User, comment: str = "") -> Partner:
    """The applicant submits the case (a draft) or resubmits it (after a request for information)."""
    from onboarding.services.admission import partner_resubmit, partner_submit

    if application.applicant_id != by.pk:
        raise NotPermitted(_("You have no application to join."))
    partner = application.partner
    partner.refresh_from_db()
    submit = partner_resubmit if partner.state == AdmissionState.NEEDS_INFO else partner_submit
    return submit(partner=partner, by=by, comment=comment)


# ---- what the admission steps tell the applicant ---------------------------------------------


def _application(partner: Partner) -> PartnerApplication | None:
    if partner.origin != CaseOrigin.SELF_APPLICATION:
        return None
    return PartnerApplication.objects.select_related("applicant").filter(partner_id=partner.pk).first()


def application_notify_needs_info(*, partner: Partner, request: str) -> None:
    """Tell the applicant the bank asks for more information (what is asked is on their application page)."""
    application = _application(partner)
    if application is None:
        return
    notice_send(
        to=[application.email],
        template="application_needs_info",
        context={
            "company": partner.legal_name,
            "request": request,
            "link": portal_url(reverse("portal:application")),
        },
    )


def application_notify_rejected(*, partner: Partner, shared_reason: str) -> None:
    """Keep the reason the reviewer chose to share and tell the applicant."""
    application = _application(partner)
    if application is None:
        return
    application.shared_reason = shared_reason.strip()[:500]
    application.save(update_fields=["shared_reason"])
    notice_send(
        to=[application.email],
        template="application_rejected",
        context={"company": partner.legal_name, "reason": application.shared_reason},
    )


def application_admit_applicant(*, partner: Partner) -> None:
    """On activation: the applicant account becomes the partner's first portal user, and is told."""
    application = _application(partner)
    if application is None:
        return
    applicant = application.applicant
    applicant.partner = partner
    applicant.save(update_fields=["partner"])
    applicant.groups.add(*Group.objects.filter(name=Role.PARTNER_USER.value))
    notice_send(
        to=[application.email],
        template="application_activated",
        context={
            "company": partner.legal_name,
            "username": applicant.get_username(),
            "link": portal_url(reverse("portal:login")),
        },
    )
