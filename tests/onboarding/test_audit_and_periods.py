"""The audit log of every step (who, when, from, to, comment) and the active periods revenue relies on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from onboarding import services
from onboarding.errors import InvalidState, NotPermitted
from onboarding.models import AdmissionState, PartnerActivePeriod
from onboarding.selectors import partner_state_log


def test_every_step_is_logged_with_who_when_from_to_and_comment(case_in, rm_a, reviewer_a):
    before = timezone.now()
    partner = case_in(AdmissionState.ACTIVE)
    after = timezone.now()

    steps = [
        (e.transition, e.source_state, e.state, e.by)
        for e in partner_state_log(partner=partner)
        if e.transition != "decide_evidence"
    ]
    assert steps == [
        ("create", None, "draft", rm_a),
        ("submit", "draft", "submitted", rm_a),
        ("assign_reviewer", "submitted", "under_review", reviewer_a),
        ("approve", "under_review", "approved", reviewer_a),
        ("sign_contract", "approved", "contracted", rm_a),
        ("activate", "contracted", "active", rm_a),
    ]
    submit = partner_state_log(partner=partner).get(transition="submit")
    assert submit.description == "材料齐全"
    assert before <= submit.timestamp <= after
    decisions = partner_state_log(partner=partner).filter(transition="decide_evidence")
    assert decisions.count() == 3  # one per required item of a software & data provider
    assert all(d.by == reviewer_a and "Accepted" in d.description for d in decisions)


def test_refused_step_leaves_no_log(case_in, rm_b):
    partner = case_in(AdmissionState.DRAFT)
    count = partner_state_log(partner=partner).count()
    with pytest.raises(NotPermitted):
        services.partner_submit(partner=partner, by=rm_b)
    assert partner_state_log(partner=partner).count() == count


def test_active_periods_open_and_close_with_the_state(case_in, rm_a):
    partner = case_in(AdmissionState.ACTIVE)
    (first,) = PartnerActivePeriod.objects.filter(partner=partner)
    assert first.ended_at is None

    services.partner_suspend(partner=partner, by=rm_a, comment="涉嫌违规，暂停")
    first.refresh_from_db()
    assert first.ended_at is not None and first.ended_at >= first.started_at

    services.partner_reinstate(partner=partner, by=rm_a, comment="核查完毕")
    periods = list(PartnerActivePeriod.objects.filter(partner=partner).order_by("started_at"))
    assert len(periods) == 2 and periods[1].ended_at is None

    services.partner_terminate(partner=partner, by=rm_a, comment="合作到期")
    assert not PartnerActivePeriod.objects.filter(partner=partner, ended_at__isnull=True).exists()
    assert PartnerActivePeriod.objects.filter(partner=partner).count() == 2


def test_terminating_a_suspended_partner_opens_nothing(case_in, rm_a):
    partner = case_in(AdmissionState.SUSPENDED)
    closed = PartnerActivePeriod.objects.get(partner=partner)
    services.partner_terminate(partner=partner, by=rm_a, comment="终止")
    assert list(PartnerActivePeriod.objects.filter(partner=partner)) == [closed]
    closed.refresh_from_db()
    assert closed.ended_at < timezone.now() + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("service", "state"),
    [
        (services.partner_reject, AdmissionState.UNDER_REVIEW),
        (services.partner_suspend, AdmissionState.ACTIVE),
        (services.partner_terminate, AdmissionState.ACTIVE),
    ],
)
def test_final_or_disruptive_steps_need_a_reason(case_in, rm_a, reviewer_a, service, state):
    partner = case_in(state)
    by = reviewer_a if service is services.partner_reject else rm_a
    with pytest.raises(InvalidState):
        service(partner=partner, by=by, comment="  ")
    partner.refresh_from_db()
    assert partner.state == state
