"""Maker-checker (四眼原则), the assignee rule and branch scope on admission decisions."""

from __future__ import annotations

import pytest

from onboarding import services
from onboarding.errors import MakerChecker, NotPermitted
from onboarding.models import AdmissionState, EvidenceDecision, PartnerType, RiskRating
from onboarding.policies import Action, allowed_actions
from onboarding.selectors import evidence_items
from organisation.roles import Role
from tests.factories import UserFactory
from tests.onboarding.conftest import accept_all_evidence, record_all_evidence


@pytest.fixture
def rm_reviewer_a(branch_a):
    """Someone of branch A who is both RM and risk reviewer: can prepare and could review."""
    return UserFactory(username="rm_reviewer_a", branch=branch_a, roles=[Role.BRANCH_RM, Role.RISK_REVIEWER])


@pytest.fixture
def head_office_2(head_office_branch):
    return UserFactory(username="hq_admin_2", branch=head_office_branch, roles=[Role.HEAD_OFFICE_ADMIN])


def test_submitter_cannot_be_assigned_as_reviewer(case_in, rm_reviewer_a, reviewer_a):
    partner = case_in(AdmissionState.DRAFT)
    services.partner_submit(partner=partner, by=rm_reviewer_a)

    with pytest.raises(NotPermitted, match="maker-checker"):
        services.partner_start_review(partner=partner, by=rm_reviewer_a)
    with pytest.raises(NotPermitted, match="maker-checker"):
        services.partner_assign_reviewer(partner=partner, reviewer=rm_reviewer_a, by=reviewer_a)
    assert partner.state == AdmissionState.SUBMITTED


def test_head_office_who_prepared_a_case_can_neither_approve_nor_give_head_office_approval(
    head_office, head_office_2, rm_a, reviewer_a, branch_a
):
    partner = services.partner_create(
        by=head_office,
        branch=branch_a,
        relationship_manager=rm_a,
        partner_type=PartnerType.PE_VC,
        legal_name="深圳前海创新投资管理有限公司",
        credit_code="91440300192185379H",
        legal_representative="赵六",
    )
    record_all_evidence(partner, rm_a)
    services.partner_submit(partner=partner, by=rm_a)
    services.partner_start_review(partner=partner, by=reviewer_a)
    accept_all_evidence(partner, reviewer_a)

    with pytest.raises(MakerChecker):
        services.partner_approve(partner=partner, by=head_office)
    services.partner_approve(partner=partner, by=reviewer_a)
    assert partner.state == AdmissionState.PENDING_HEAD_OFFICE

    with pytest.raises(MakerChecker):
        services.partner_approve_head_office(partner=partner, by=head_office)
    services.partner_approve_head_office(partner=partner, by=head_office_2)
    assert partner.state == AdmissionState.APPROVED


def test_rm_who_submitted_cannot_approve_even_as_head_office(case_in, rm_a, reviewer_a, head_office_branch):
    """A maker who later moves to head office still cannot approve their own case."""
    partner = case_in(AdmissionState.UNDER_REVIEW, risk_rating=RiskRating.HIGH)
    accept_all_evidence(partner, reviewer_a)
    services.partner_approve(partner=partner, by=reviewer_a)
    rm_a.branch = head_office_branch
    rm_a.save()
    rm_a.groups.add(*UserFactory(roles=[Role.HEAD_OFFICE_ADMIN]).groups.all())
    rm_a = type(rm_a).objects.get(pk=rm_a.pk)  # fresh permission cache

    with pytest.raises(MakerChecker):
        services.partner_approve_head_office(partner=partner, by=rm_a)
    assert partner.state == AdmissionState.PENDING_HEAD_OFFICE


def test_branch_approver_cannot_also_give_head_office_approval(case_in, head_office, head_office_2, rm_a):
    partner = case_in(AdmissionState.UNDER_REVIEW, risk_rating=RiskRating.HIGH)
    accept_all_evidence(partner, head_office)  # head office may decide a case under review
    services.partner_approve(partner=partner, by=head_office)
    assert partner.state == AdmissionState.PENDING_HEAD_OFFICE

    with pytest.raises(MakerChecker, match="branch approval"):
        services.partner_approve_head_office(partner=partner, by=head_office)
    services.partner_approve_head_office(partner=partner, by=head_office_2)
    assert partner.state == AdmissionState.APPROVED


def test_evidence_recorder_cannot_decide_that_evidence(case_in, head_office, rm_a, reviewer_a):
    """Head office corrected one item while preparing; it may not then accept that item."""
    partner = case_in(AdmissionState.DRAFT)
    item = evidence_items(partner=partner).first()
    services.evidence_item_record(partner=partner, requirement=item.requirement, reference="HQ-REF", by=head_office)
    services.partner_submit(partner=partner, by=rm_a)
    services.partner_start_review(partner=partner, by=reviewer_a)

    with pytest.raises(MakerChecker):
        services.evidence_item_decide(item=item, decision=EvidenceDecision.ACCEPTED, by=head_office)
    services.evidence_item_decide(item=item, decision=EvidenceDecision.ACCEPTED, by=reviewer_a)


def test_only_the_assigned_reviewer_or_head_office_decides(case_in, reviewer_a, head_office, branch_a):
    other_reviewer = UserFactory(username="reviewer_a2", branch=branch_a, roles=[Role.RISK_REVIEWER])
    partner = case_in(AdmissionState.UNDER_REVIEW)
    assert partner.assigned_reviewer == reviewer_a
    item = evidence_items(partner=partner).first()

    with pytest.raises(NotPermitted, match="assigned reviewer"):
        services.evidence_item_decide(item=item, decision=EvidenceDecision.ACCEPTED, by=other_reviewer)
    with pytest.raises(NotPermitted, match="assigned reviewer"):
        services.partner_reject(partner=partner, by=other_reviewer, comment="越权")
    with pytest.raises(NotPermitted, match="assigned reviewer"):
        services.partner_start_review(partner=partner, by=other_reviewer)

    # The assignee hands it over; now the other reviewer decides and the first may not.
    services.partner_assign_reviewer(partner=partner, reviewer=other_reviewer, by=reviewer_a)
    accept_all_evidence(partner, other_reviewer)
    with pytest.raises(NotPermitted):
        services.partner_approve(partner=partner, by=reviewer_a)
    services.partner_approve(partner=partner, by=other_reviewer)
    assert partner.state == AdmissionState.APPROVED


def test_head_office_can_decide_a_case_assigned_to_someone_else(case_in, head_office):
    partner = case_in(AdmissionState.UNDER_REVIEW)
    accept_all_evidence(partner, head_office)
    services.partner_approve(partner=partner, by=head_office)
    assert partner.state == AdmissionState.APPROVED


def test_other_branch_and_roles_without_permission_are_refused(case_in, rm_a, rm_b, finance, partner_user_x):
    partner = case_in(AdmissionState.UNDER_REVIEW)
    reviewer_b = UserFactory(username="reviewer_b", branch=rm_b.branch, roles=[Role.RISK_REVIEWER])

    with pytest.raises(NotPermitted, match="another branch"):
        services.partner_approve(partner=partner, by=reviewer_b)
    with pytest.raises(NotPermitted, match="permission"):
        services.partner_approve(partner=partner, by=rm_a)
    with pytest.raises(NotPermitted, match="permission"):
        services.partner_approve(partner=partner, by=finance)
    with pytest.raises(NotPermitted):
        services.partner_approve(partner=partner, by=partner_user_x)
    partner.refresh_from_db()
    assert partner.state == AdmissionState.UNDER_REVIEW


def test_reviewer_of_another_branch_cannot_be_assigned(case_in, reviewer_a, rm_b):
    partner = case_in(AdmissionState.SUBMITTED)
    reviewer_b = UserFactory(username="reviewer_b", branch=rm_b.branch, roles=[Role.RISK_REVIEWER])
    with pytest.raises(NotPermitted):
        services.partner_assign_reviewer(partner=partner, reviewer=reviewer_b, by=reviewer_a)


def test_only_head_office_decides_a_case_awaiting_head_office(case_in, reviewer_a, head_office_2):
    partner = case_in(AdmissionState.PENDING_HEAD_OFFICE)
    with pytest.raises(NotPermitted, match="head office"):
        services.partner_reject(partner=partner, by=reviewer_a, comment="拒绝")
    services.partner_reject(partner=partner, by=head_office_2, comment="总行不同意")
    assert partner.state == AdmissionState.REJECTED


def test_allowed_actions_follow_the_same_rules(case_in, rm_a, reviewer_a, head_office, rm_b):
    partner = case_in(AdmissionState.UNDER_REVIEW)
    assert Action.APPROVE in allowed_actions(partner=partner, user=reviewer_a)
    assert Action.DECIDE_EVIDENCE in allowed_actions(partner=partner, user=reviewer_a)
    assert Action.APPROVE not in allowed_actions(partner=partner, user=rm_a)
    assert allowed_actions(partner=partner, user=rm_b) == []
    assert Action.APPROVE_HEAD_OFFICE not in allowed_actions(partner=partner, user=head_office)
