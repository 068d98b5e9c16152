"""The partner lifecycle in the demo: one application to join in progress and one re-review due.

Idempotent: each part is made only when the demo has none yet. Runs on the real services, as a company in
the portal and the branch's staff in the admin would.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from onboarding import services
from onboarding.models import AdmissionState, EvidenceDecision, Partner, PartnerApplication, PartnerReview
from onboarding.services.applications import confirmation_token
from onboarding.validators import uscc_build
from organisation.models import Branch, User

DEMO_APPLICANT_EMAIL = "zhang.min@dongguan-iot.example"
# Lead days before the demo's re-review falls due, and how far the other partners' re-reviews are spread.
DEMO_REVIEW_IN_DAYS = 14


def demo_application_create(*, password: str) -> PartnerApplication | None:
    """A company's application to the Shenzhen branch, returned by its reviewer for a clearer certificate."""
    if PartnerApplication.objects.exists():
        return None
    branch = Branch.objects.get(code="SZ")
    reviewer = User.objects.get(username="reviewer_sz")
    with transaction.atomic():
        application = services.application_create(
            legal_name="东莞智联物联网科技有限公司",
            credit_code=uscc_build(division="441900", organisation="MA5DG001"),
            legal_representative="张伟",
            partner_type="hardware",
            branch=branch,
            contact_name="张敏",
            email=DEMO_APPLICANT_EMAIL,
            mobile="13800138000",
            password=password,
            referral_code="rm_sz",
            client_address="127.0.0.1",
        )
    application = services.application_confirm_email(token=confirmation_token(application))
    applicant = application.applicant
    for item in application.partner.evidence_items.select_related("requirement"):
        services.application_evidence_record(
            application=application,
            requirement=item.requirement,
            reference=f"DG-{item.requirement.code.upper()}-2026",
            document=ContentFile(b"%PDF-1.7\n% demo evidence\n", name=f"{item.requirement.code}.pdf"),
            by=applicant,
        )
    partner = services.application_submit(application=application, by=applicant, comment="请审核")
    partner = services.partner_start_review(partner=partner, by=reviewer)
    first = partner.evidence_items.select_related("requirement").first()
    services.evidence_item_decide(
        item=first, decision=EvidenceDecision.NEEDS_REVISION, reason="证书照片不清晰，请重新上传", by=reviewer
    )
    services.partner_request_info(partner=partner, by=reviewer, comment="请补充清晰的认证证书")
    return application


def demo_reviews_schedule(*, today: date | None = None) -> PartnerReview | None:
    """Date every active partner's next re-review beyond the lead window but one, and run the nightly job.

    The one (the first active partner of Shenzhen) falls due in DEMO_REVIEW_IN_DAYS days, so the job opens
    its re-review; the others are due over the coming year.
    """
    if PartnerReview.objects.exists():
        return None
    today = today or timezone.localdate()
    active = list(Partner.objects.filter(state=AdmissionState.ACTIVE).order_by("branch__code", "pk"))
    if not active:
        return None
    due_soon = next((p for p in active if p.branch.code == "SZ"), active[0])
    for index, partner in enumerate(active):
        when = today + timedelta(days=DEMO_REVIEW_IN_DAYS if partner == due_soon else 90 + 9 * index)
        Partner.objects.filter(pk=partner.pk).update(next_review_on=when)
    services.reviews_nightly(today=today)
    return PartnerReview.objects.filter(partner=due_soon).first()
