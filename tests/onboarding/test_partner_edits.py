"""Editing a case (draft / needs info only, own branch) and changing an admitted partner's tier."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from onboarding import services
from onboarding.errors import ConcurrentChange, InvalidState, NotPermitted
from onboarding.models import AdmissionState, PartnerTier, PartnerTierChange, PartnerType, RiskRating
from onboarding.selectors import evidence_items
from organisation.roles import Role
from tests.factories import UserFactory


def test_rm_corrects_a_draft(case_in, rm_a):
    partner = case_in(AdmissionState.DRAFT)
    services.partner_update(
        partner=partner, by=rm_a, data={"legal_name": "深圳更名科技有限公司", "contact_name": "刘八"}
    )
    assert partner.legal_name == "深圳更名科技有限公司"
    assert partner.contact_name == "刘八"


@pytest.mark.parametrize("state", [AdmissionState.SUBMITTED, AdmissionState.UNDER_REVIEW, AdmissionState.ACTIVE])
def test_case_under_way_cannot_be_edited(case_in, rm_a, state):
    partner = case_in(state)
    with pytest.raises(InvalidState):
        services.partner_update(partner=partner, by=rm_a, data={"legal_name": "改名"})


def test_a_branch_may_raise_but_not_lower_the_risk_rating(new_case, rm_a, head_office):
    partner = new_case(risk_rating=RiskRating.MEDIUM)
    services.partner_update(partner=partner, by=rm_a, data={"risk_rating": RiskRating.HIGH})
    assert partner.risk_rating == RiskRating.HIGH
    # Lowering it would let the case skip head-office approval.
    with pytest.raises(NotPermitted, match="Only head office can lower"):
        services.partner_update(partner=partner, by=rm_a, data={"risk_rating": RiskRating.LOW})
    partner.refresh_from_db()
    assert partner.risk_rating == RiskRating.HIGH
    services.partner_update(partner=partner, by=head_office, data={"risk_rating": RiskRating.MEDIUM})
    assert partner.risk_rating == RiskRating.MEDIUM


def test_needs_info_case_can_be_edited(case_in, rm_a):
    partner = case_in(AdmissionState.NEEDS_INFO)
    services.partner_update(partner=partner, by=rm_a, data={"registered_capital": Decimal("8000000.00")})
    assert partner.registered_capital == Decimal("8000000.00")


def test_other_branch_cannot_edit_or_take_over(case_in, rm_a, rm_b):
    partner = case_in(AdmissionState.DRAFT)
    with pytest.raises(NotPermitted):
        services.partner_update(partner=partner, by=rm_b, data={"legal_name": "改名"})
    with pytest.raises(NotPermitted):
        services.partner_update(partner=partner, by=rm_a, data={"branch": rm_b.branch, "relationship_manager": rm_b})


def test_relationship_manager_must_be_an_rm_of_the_branch(case_in, rm_a, reviewer_a):
    partner = case_in(AdmissionState.DRAFT)
    with pytest.raises(ValidationError) as exc:
        services.partner_update(partner=partner, by=rm_a, data={"relationship_manager": reviewer_a})
    assert "relationship_manager" in exc.value.message_dict


def test_state_and_tier_are_not_editable_fields(case_in, rm_a):
    partner = case_in(AdmissionState.DRAFT)
    with pytest.raises(ValueError):
        services.partner_update(partner=partner, by=rm_a, data={"tier": PartnerTier.GOLD})


def test_type_change_replaces_the_checklist_only_before_evidence(new_case, rm_a):
    blank = new_case(partner_type=PartnerType.HARDWARE, evidence=False)
    services.partner_update(partner=blank, by=rm_a, data={"partner_type": PartnerType.PE_VC})
    assert {i.requirement.code for i in evidence_items(partner=blank)} == {"amac_registration", "aum"}

    recorded = new_case(partner_type=PartnerType.HARDWARE)
    with pytest.raises(InvalidState):
        services.partner_update(partner=recorded, by=rm_a, data={"partner_type": PartnerType.PE_VC})


def test_stale_edit_is_refused(case_in, rm_a, reviewer_a):
    partner = case_in(AdmissionState.DRAFT)
    stale = type(partner).objects.get(pk=partner.pk)
    services.partner_submit(partner=partner, by=rm_a)
    with pytest.raises(ConcurrentChange):
        services.partner_update(partner=stale, by=rm_a, data={"legal_name": "改名"})


def test_tier_change_is_recorded(case_in, rm_a):
    partner = case_in(AdmissionState.ACTIVE)
    change = services.partner_tier_change(partner=partner, tier=PartnerTier.GOLD, by=rm_a, reason="季度业绩前10%")
    assert partner.tier == PartnerTier.GOLD
    assert (change.from_tier, change.to_tier, change.changed_by, change.reason) == (
        PartnerTier.STANDARD,
        PartnerTier.GOLD,
        rm_a,
        "季度业绩前10%",
    )
    with pytest.raises(InvalidState):
        services.partner_tier_change(partner=partner, tier=PartnerTier.GOLD, by=rm_a, reason="again")


def test_tier_change_refusals(case_in, rm_a, rm_b, reviewer_a):
    active = case_in(AdmissionState.ACTIVE)
    with pytest.raises(NotPermitted):
        services.partner_tier_change(partner=active, tier=PartnerTier.SILVER, by=rm_b, reason="x")
    with pytest.raises(NotPermitted):
        services.partner_tier_change(partner=active, tier=PartnerTier.SILVER, by=reviewer_a, reason="x")
    with pytest.raises(ValidationError):
        services.partner_tier_change(partner=active, tier=PartnerTier.SILVER, by=rm_a, reason=" ")
    draft = case_in(AdmissionState.DRAFT)
    with pytest.raises(InvalidState):
        services.partner_tier_change(partner=draft, tier=PartnerTier.SILVER, by=rm_a, reason="x")
    assert not PartnerTierChange.objects.exists()


def test_create_defaults_and_scope(rm_a, rm_b, branch_a):
    partner = services.partner_create(
        by=rm_a,
        partner_type=PartnerType.SUPPLY_CHAIN,
        legal_name="深圳市鲜达冷链供应链管理有限公司",
        credit_code="91440300192185379H",
        legal_representative="黄九",
    )
    assert (partner.branch, partner.relationship_manager, partner.created_by) == (branch_a, rm_a, rm_a)
    assert partner.state == AdmissionState.DRAFT
    with pytest.raises(NotPermitted):
        services.partner_create(
            by=rm_a,
            branch=rm_b.branch,
            relationship_manager=rm_b,
            partner_type=PartnerType.SUPPLY_CHAIN,
            legal_name="杭州某某有限公司",
            credit_code="91110000100017643K",
            legal_representative="周十",
        )


def test_reviewer_cannot_create(reviewer_a):
    with pytest.raises(NotPermitted):
        services.partner_create(
            by=reviewer_a,
            partner_type=PartnerType.HARDWARE,
            legal_name="深圳某某有限公司",
            credit_code="91110000100017643K",
            legal_representative="吴一",
        )


def test_roles_grant_what_each_role_needs(rm_a, reviewer_a, head_office, finance, branch_a):
    assert rm_a.has_perm("onboarding.submit_partner") and not rm_a.has_perm("onboarding.approve_partner")
    assert reviewer_a.has_perm("onboarding.approve_partner")
    assert not reviewer_a.has_perm("onboarding.approve_partner_head_office")
    assert not reviewer_a.has_perm("onboarding.change_partner")
    assert head_office.has_perm("onboarding.approve_partner_head_office")
    assert head_office.has_perm("onboarding.import_partner")
    assert finance.has_perm("onboarding.view_partner") and not finance.has_perm("onboarding.change_partner")
    partner_staff = UserFactory(roles=[Role.PARTNER_USER], is_staff=False)
    assert not partner_staff.has_perm("onboarding.view_partner")
