"""Periodic re-reviews (年审): opened on time by the nightly job, run with the partner active, overdue → suspended."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail
from django_fsm_log.models import StateLog

from onboarding import services
from onboarding.errors import EvidenceIncomplete, NotPermitted
from onboarding.models import (
    AdmissionState,
    EvidenceDecision,
    PartnerReview,
    ReviewState,
    ReviewTrigger,
    RiskRating,
)
from onboarding.selectors import partner_state_log
from onboarding.services.schedule import add_months
from onboarding.tasks import reviews_nightly_task
from tests.onboarding.applying import notices_sent, tasks_in_process
from workspace.models import Notification, NotificationKind

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tasks():
    with tasks_in_process():
        yield


@pytest.fixture
def active(case_in):
    def make(*, next_review_on: date, risk_rating: str = RiskRating.MEDIUM):
        partner = case_in(AdmissionState.ACTIVE, risk_rating=risk_rating)
        partner.next_review_on = next_review_on
        partner.contact_email = f"contact{partner.pk}@partner.example"
        partner.save(update_fields=["next_review_on", "contact_email"])
        return partner

    return make


def _accept_all(partner, reviewer):
    for item in partner.evidence_items.all():
        services.evidence_item_decide(item=item, decision=EvidenceDecision.ACCEPTED, by=reviewer)


@pytest.mark.parametrize(
    ("risk", "first_review"),
    [(RiskRating.HIGH, date(2026, 8, 28)), (RiskRating.MEDIUM, date(2027, 2, 28)), (RiskRating.LOW, date(2028, 2, 28))],
)
def test_activation_sets_the_first_re_review_date_from_the_risk_rating(case_in, rm_a, risk, first_review):
    partner = case_in(AdmissionState.CONTRACTED, risk_rating=risk)
    partner = services.partner_activate(partner=partner, by=rm_a, today=date(2026, 2, 28))
    assert partner.next_review_on == first_review


def test_add_months_keeps_the_day_or_takes_the_months_last():
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2026, 1, 15), 12) == date(2027, 1, 15)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)


def test_a_re_review_opens_lead_days_before_the_date_once(active, rm_a, reviewer_a, settings):
    settings.REREVIEW_LEAD_DAYS = 30
    partner = active(next_review_on=date(2026, 12, 31))
    assert services.reviews_nightly(today=date(2026, 11, 30))["opened"] == 0
    mail.outbox.clear()
    with notices_sent():
        report = services.reviews_nightly(today=date(2026, 12, 1))
    assert report["opened"] == 1
    review = PartnerReview.objects.get(partner=partner)
    assert (review.trigger, review.due_on, review.branch, review.state) == (
        ReviewTrigger.SCHEDULE,
        date(2026, 12, 31),
        partner.branch,
        ReviewState.OPEN,
    )
    recipients = {address for message in mail.outbox for address in message.to}
    assert rm_a.email in recipients and partner.contact_email in recipients
    # The RM finds it in the inbox too, linked to the re-review; the branch's reviewers, who decide it, as well.
    notice = Notification.objects.get(recipient=rm_a, kind=NotificationKind.REVIEW_OPENED)
    assert notice.url == f"/admin/onboarding/partnerreview/{review.pk}/change/" and partner.legal_name in notice.title
    assert Notification.objects.filter(kind=NotificationKind.REVIEW_OPENED, recipient=reviewer_a).exists()
    assert not Notification.objects.filter(recipient__partner__isnull=False).exists()
    # Running again (the same night, or the next) opens nothing more.
    assert services.reviews_nightly(today=date(2026, 12, 1))["opened"] == 0
    assert services.reviews_nightly(today=date(2026, 12, 2))["opened"] == 0
    assert PartnerReview.objects.filter(partner=partner).count() == 1
    assert partner_state_log(partner=partner).filter(transition="open_review", by=None).count() == 1


def test_the_nightly_task_is_idempotent(active):
    active(next_review_on=date(2020, 1, 1))  # long due whatever today is
    reviews_nightly_task.delay()
    reviews_nightly_task.delay()
    assert PartnerReview.objects.count() == 1


def test_an_expiring_licence_opens_a_re_review_before_the_date(active, settings):
    settings.REREVIEW_LEAD_DAYS = 30
    partner = active(next_review_on=date(2027, 6, 30))
    item = partner.evidence_items.first()
    item.expires_on = date(2026, 12, 15)
    item.save(update_fields=["expires_on"])
    assert services.reviews_nightly(today=date(2026, 11, 14))["opened"] == 0
    services.reviews_nightly(today=date(2026, 11, 15))
    review = PartnerReview.objects.get(partner=partner)
    assert (review.trigger, review.due_on) == (ReviewTrigger.EVIDENCE_EXPIRY, date(2026, 12, 15))


def test_a_re_review_keeps_the_partner_active_and_approval_sets_the_next_date(active, rm_a, rm_b, reviewer_a):
    partner = active(next_review_on=date(2026, 12, 31))
    item = partner.evidence_items.select_related("requirement").first()
    item.expires_on = date(2026, 12, 20)
    item.save(update_fields=["expires_on"])
    services.reviews_nightly(today=date(2026, 12, 1))
    review = PartnerReview.objects.get(partner=partner)
    partner.refresh_from_db()
    assert partner.state == AdmissionState.ACTIVE
    assert partner.active_periods.filter(ended_at__isnull=True).exists()
    # Every item is decided anew; a licence expiring within the lead days must be renewed first.
    assert not partner.evidence_items.filter(decision=EvidenceDecision.ACCEPTED).exists()
    _accept_all(partner, reviewer_a)
    with pytest.raises(EvidenceIncomplete, match="expires"):
        services.review_approve(review=review, by=reviewer_a, today=date(2026, 12, 5))
    # The RM refreshes the licence while the partner is active; the reviewer decides it.
    services.evidence_item_record(
        partner=partner, requirement=item.requirement, reference="新执照", expires_on=date(2031, 12, 20), by=rm_a
    )
    with pytest.raises(NotPermitted):  # another branch's RM
        services.evidence_item_record(partner=partner, requirement=item.requirement, reference="X", by=rm_b)
    with pytest.raises(EvidenceIncomplete):
        services.review_approve(review=review, by=reviewer_a, today=date(2026, 12, 5))
    services.evidence_item_decide(item=item, decision=EvidenceDecision.ACCEPTED, by=reviewer_a)
    with pytest.raises(NotPermitted):  # the RM prepared the case and cannot approve it
        services.review_approve(review=review, by=rm_a, today=date(2026, 12, 5))
    review = services.review_approve(review=review, by=reviewer_a, today=date(2026, 12, 5))
    partner.refresh_from_db()
    assert review.state == ReviewState.APPROVED and review.approved_on == date(2026, 12, 5)
    assert partner.state == AdmissionState.ACTIVE
    assert partner.next_review_on == date(2027, 12, 5)  # medium risk: 12 months


def test_a_high_risk_re_review_needs_head_office_from_someone_else(active, reviewer_a, head_office):
    partner = active(next_review_on=date(2026, 12, 31), risk_rating=RiskRating.HIGH)
    services.reviews_nightly(today=date(2026, 12, 1))
    review = PartnerReview.objects.get(partner=partner)
    _accept_all(partner, reviewer_a)
    review = services.review_approve(review=review, by=reviewer_a, today=date(2026, 12, 2))
    assert review.state == ReviewState.PENDING_HEAD_OFFICE
    with pytest.raises(NotPermitted):
        services.review_approve_head_office(review=review, by=reviewer_a, today=date(2026, 12, 2))
    review = services.review_approve_head_office(review=review, by=head_office, today=date(2026, 12, 3))
    partner.refresh_from_db()
    assert review.state == ReviewState.APPROVED
    assert partner.next_review_on == date(2027, 6, 3)


def test_an_overdue_partner_is_suspended_by_the_nightly_job_and_reinstated_when_it_passes(
    active, rm_a, reviewer_a, settings
):
    settings.REREVIEW_GRACE_DAYS = 30
    partner = active(next_review_on=date(2026, 10, 1))
    services.reviews_nightly(today=date(2026, 9, 15))
    assert services.reviews_nightly(today=date(2026, 10, 31))["suspended"] == 0  # 30 days: still in grace
    mail.outbox.clear()
    with notices_sent():
        report = services.reviews_nightly(today=date(2026, 11, 1))
    assert report["suspended"] == 1
    partner.refresh_from_db()
    assert partner.state == AdmissionState.SUSPENDED
    assert not partner.active_periods.filter(ended_at__isnull=True).exists()
    entry = partner_state_log(partner=partner).filter(transition="suspend").get()
    assert entry.by is None and "overdue" in entry.description  # the system is the actor
    assert any(partner.contact_email in m.to and "overdue" in m.body for m in mail.outbox)
    notice = Notification.objects.get(kind=NotificationKind.REVIEW_OVERDUE_SUSPENDED)
    assert notice.recipient == rm_a and notice.actor is None
    assert services.reviews_nightly(today=date(2026, 11, 2))["suspended"] == 0
    assert StateLog.objects.filter(transition="suspend", object_id=partner.pk).count() == 1

    review = PartnerReview.objects.get(partner=partner)
    _accept_all(partner, reviewer_a)
    services.review_approve(review=review, by=reviewer_a, today=date(2026, 11, 5))
    partner.refresh_from_db()
    assert partner.state == AdmissionState.ACTIVE
    assert partner_state_log(partner=partner).filter(transition="reinstate").get().by is None


def test_a_partner_suspended_by_staff_is_left_alone(active, rm_a):
    partner = active(next_review_on=date(2026, 10, 1))
    services.reviews_nightly(today=date(2026, 9, 15))
    services.partner_suspend(partner=partner, by=rm_a, comment="风险事件")
    assert services.reviews_nightly(today=date(2026, 12, 1))["suspended"] == 0


def test_partner_kpis_count_re_reviews_approved_by_their_due_date(active, reviewer_a):
    from datetime import datetime
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from performance.periods import ReportingPeriod
    from performance.selectors import partner_figures_for_period

    late = active(next_review_on=date(2026, 12, 10))
    on_time = active(next_review_on=date(2026, 12, 20))
    services.reviews_nightly(today=date(2026, 12, 1))
    for partner, approved in ((late, date(2026, 12, 15)), (on_time, date(2026, 12, 15))):
        _accept_all(partner, reviewer_a)
        services.review_approve(review=PartnerReview.objects.get(partner=partner), by=reviewer_a, today=approved)
    figures = partner_figures_for_period(
        period=ReportingPeriod.parse("2026-12"),
        as_of=datetime(2027, 1, 5, tzinfo=ZoneInfo("Asia/Shanghai")),
        partner_ids=[late.pk, on_time.pk],
        dispute_rates={},
    )
    assert figures[late.pk].reviews_on_time == Decimal(0)
    assert figures[on_time.pk].reviews_on_time == Decimal(1)
    november = partner_figures_for_period(
        period=ReportingPeriod.parse("2026-11"),
        as_of=datetime(2027, 1, 5, tzinfo=ZoneInfo("Asia/Shanghai")),
        partner_ids=[late.pk],
        dispute_rates={},
    )
    assert november[late.pk].reviews_on_time is None  # nothing due then
