"""Every allowed and every forbidden step of the admission state machine, from a table."""

from __future__ import annotations

import pytest
from django_fsm import TransitionNotAllowed

from onboarding import services
from onboarding.errors import InvalidState
from onboarding.models import AdmissionState as S
from onboarding.models import Partner, PartnerType, RiskRating
from onboarding.policies import Action
from onboarding.selectors import evidence_needing_revision, partner_state_log
from tests.onboarding.conftest import accept_all_evidence

# (from state, action, case kind) → to state. The case kind matters only for approve.
ALLOWED = [
    (S.DRAFT, Action.SUBMIT, "standard", S.SUBMITTED),
    (S.SUBMITTED, Action.ASSIGN_REVIEWER, "standard", S.UNDER_REVIEW),
    (S.RESUBMITTED, Action.ASSIGN_REVIEWER, "standard", S.UNDER_REVIEW),
    (S.UNDER_REVIEW, Action.ASSIGN_REVIEWER, "standard", S.UNDER_REVIEW),
    (S.UNDER_REVIEW, Action.REQUEST_INFO, "standard", S.NEEDS_INFO),
    (S.NEEDS_INFO, Action.RESUBMIT, "standard", S.RESUBMITTED),
    (S.UNDER_REVIEW, Action.APPROVE, "standard", S.APPROVED),
    (S.UNDER_REVIEW, Action.APPROVE, "high_risk", S.PENDING_HEAD_OFFICE),
    (S.UNDER_REVIEW, Action.APPROVE, "pe_vc", S.PENDING_HEAD_OFFICE),
    (S.PENDING_HEAD_OFFICE, Action.APPROVE_HEAD_OFFICE, "high_risk", S.APPROVED),
    (S.APPROVED, Action.CONTRACT, "standard", S.CONTRACTED),
    (S.CONTRACTED, Action.ACTIVATE, "standard", S.ACTIVE),
    (S.ACTIVE, Action.SUSPEND, "standard", S.SUSPENDED),
    (S.SUSPENDED, Action.REINSTATE, "standard", S.ACTIVE),
    (S.ACTIVE, Action.TERMINATE, "standard", S.TERMINATED),
    (S.SUSPENDED, Action.TERMINATE, "standard", S.TERMINATED),
    *[
        (state, Action.REJECT, "high_risk" if state == S.PENDING_HEAD_OFFICE else "standard", S.REJECTED)
        for state in (
            S.DRAFT,
            S.SUBMITTED,
            S.UNDER_REVIEW,
            S.NEEDS_INFO,
            S.RESUBMITTED,
            S.PENDING_HEAD_OFFICE,
            S.APPROVED,
            S.CONTRACTED,
        )
    ],
]
ALLOWED_PAIRS = {(source, action) for source, action, _kind, _target in ALLOWED}
TRANSITION_ACTIONS = [a for a in Action if a not in (Action.DECIDE_EVIDENCE, Action.EDIT, Action.CHANGE_TIER)]

KINDS = {
    "standard": {"partner_type": PartnerType.SOFTWARE_DATA, "risk_rating": RiskRating.MEDIUM},
    "high_risk": {"partner_type": PartnerType.HARDWARE, "risk_rating": RiskRating.HIGH},
    "pe_vc": {"partner_type": PartnerType.PE_VC, "risk_rating": RiskRating.LOW},
}


def _act(action: Action, partner: Partner, *, rm, reviewer, head_office) -> Partner:
    """Take ``action`` as the person whose job it is."""
    if action == Action.ASSIGN_REVIEWER:
        return services.partner_assign_reviewer(partner=partner, reviewer=reviewer, by=reviewer)
    if action == Action.REQUEST_INFO:
        return services.partner_request_info(partner=partner, by=reviewer, comment="请补充最新的审计报告")
    if action == Action.RESUBMIT:
        for item in evidence_needing_revision(partner=partner):
            services.evidence_item_record(partner=partner, requirement=item.requirement, reference="REF-NEW", by=rm)
    if action == Action.APPROVE:
        accept_all_evidence(partner, reviewer)
        return services.partner_approve(partner=partner, by=reviewer)
    if action == Action.APPROVE_HEAD_OFFICE:
        return services.partner_approve_head_office(partner=partner, by=head_office)
    if action == Action.REJECT:
        by = head_office if partner.state == S.PENDING_HEAD_OFFICE else reviewer
        return services.partner_reject(partner=partner, by=by, comment="不符合准入条件")
    by = rm
    service = services.ACTION_SERVICES[action]
    return service(partner=partner, by=by, comment="按流程办理")


@pytest.mark.parametrize(("source", "action", "kind", "target"), ALLOWED, ids=lambda v: str(v))
def test_allowed_transition(case_in, rm_a, reviewer_a, head_office, source, action, kind, target):
    partner = case_in(source, **KINDS[kind])
    logged_before = partner_state_log(partner=partner).count()

    _act(action, partner, rm=rm_a, reviewer=reviewer_a, head_office=head_office)

    partner.refresh_from_db()
    assert partner.state == target
    last = partner_state_log(partner=partner).last()
    assert partner_state_log(partner=partner).count() > logged_before
    assert (last.source_state, last.state) == (source, target)


@pytest.mark.parametrize("source", [s for s in S], ids=lambda v: str(v))
def test_forbidden_transitions_refused_and_nothing_changes(case_in, head_office, reviewer_a, source):
    """From each state, every action not in the table is refused, even for head office, leaving no trace."""
    partner = case_in(source, **KINDS["high_risk" if source == S.PENDING_HEAD_OFFICE else "standard"])
    logged = partner_state_log(partner=partner).count()
    forbidden = [a for a in TRANSITION_ACTIONS if (source, a) not in ALLOWED_PAIRS]
    assert forbidden, "every state forbids something"
    for action in forbidden:
        with pytest.raises(InvalidState):
            if action == Action.ASSIGN_REVIEWER:
                services.partner_assign_reviewer(partner=partner, reviewer=reviewer_a, by=head_office)
            else:
                services.ACTION_SERVICES[action](partner=partner, by=head_office, comment="强行操作")
        partner.refresh_from_db()
        assert partner.state == source
    assert partner_state_log(partner=partner).count() == logged


def test_table_covers_every_state_machine_edge():
    """The table and the model's transitions describe the same graph (conditions aside)."""
    from onboarding.policies import TRANSITION_METHODS

    method_to_action = {m: a for a, methods in TRANSITION_METHODS.items() for m in methods}
    edges = {
        (str(t.source), method_to_action[t.name]) for t in Partner._meta.get_field("state").get_all_transitions(Partner)
    }
    assert edges == {(str(s), a) for s, a in ALLOWED_PAIRS}


def test_state_field_cannot_be_assigned_directly(partner_x):
    with pytest.raises(AttributeError):
        partner_x.state = S.ACTIVE


def test_model_transition_refuses_unmet_condition(new_case):
    """The evidence condition lives on the transition itself, not only in the service."""
    partner = new_case(evidence=False)
    with pytest.raises(TransitionNotAllowed):
        partner.submit()


@pytest.mark.django_db
def test_active_partner_factory_gives_an_open_period_from_go_live():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from onboarding.models import PartnerActivePeriod
    from tests.factories import ActivePartnerFactory

    partner = ActivePartnerFactory()
    assert partner.state == S.ACTIVE
    (period,) = PartnerActivePeriod.objects.filter(partner=partner)
    assert period.started_at == datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")) and period.ended_at is None
