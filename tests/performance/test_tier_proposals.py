"""Tier proposals from the rules and partner KPIs, decided by the partner's RM through the admission service."""

from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from core.errors import NotPermitted
from onboarding.models import PartnerTierChange
from onboarding.services import partner_tier_change
from performance.errors import TierProposalClosed
from performance.models import TierProposal, TierProposalState, TierRule
from performance.periods import ReportingPeriod
from performance.services import partner_tier_proposals, tier_proposal_confirm, tier_proposal_dismiss
from tests.performance.ledger import at

OCTOBER = ReportingPeriod.parse("2026-10")
AFTER_CLOSE = at(2026, 11, 5)

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def rules(db):
    gold = TierRule.objects.create(
        name="金牌", tier="gold", priority=30, min_revenue=D("10.00"), min_growth_rate=D("0.2"), min_active_months=2
    )
    silver = TierRule.objects.create(name="银牌", tier="silver", priority=20, min_revenue=D("3.00"))
    return gold, silver


@pytest.fixture
def proposals(alliance, rules):
    run = partner_tier_proposals(period=OCTOBER, as_of=AFTER_CLOSE)
    assert (run.evaluated, run.proposed) == (5, 3)
    return {p.partner_id: p for p in TierProposal.objects.all()}


def test_proposals_hand_computed(alliance, rules, proposals):
    gold, silver = rules
    # x: revenue 12.00, growth (12 − 8) / 8 = 50 %, active September and October → gold.
    x = proposals[alliance.x.pk]
    assert (x.current_tier, x.proposed_tier, x.rule, x.rule_name) == ("standard", "gold", gold, "金牌")
    assert (x.revenue, x.volume, x.smes, x.active_months, x.previous_revenue, x.growth_rate) == (
        D("12.00"),
        D("1600.00"),
        3,
        2,
        D("8.00"),
        D("0.5000"),
    )
    assert x.dispute_rate is None  # no settlements yet
    # a2: revenue 3.00 → silver. a3: gold without business → standard (no rule met).
    assert (proposals[alliance.a2.pk].proposed_tier, proposals[alliance.a2.pk].rule) == ("silver", silver)
    assert (proposals[alliance.a3.pk].proposed_tier, proposals[alliance.a3.pk].rule) == ("standard", None)
    # y already silver (gold needs growth, y had no September), c1 standard at 2.00: no change, no proposal.
    assert alliance.y.pk not in proposals and alliance.c1.pk not in proposals


def test_confirm_changes_the_tier_through_the_admission_service(alliance, proposals, rm_a):
    proposal = tier_proposal_confirm(proposal=proposals[alliance.x.pk], by=rm_a)
    alliance.x.refresh_from_db()
    assert alliance.x.tier == "gold"
    assert (proposal.state, proposal.decided_by, proposal.decided_at is not None) == ("confirmed", rm_a, True)
    change = PartnerTierChange.objects.get(partner=alliance.x)
    assert (change.from_tier, change.to_tier, change.changed_by) == ("standard", "gold", rm_a)
    assert "2026-10" in change.reason and "金牌" in change.reason
    # Decided once: a second decision is refused.
    with pytest.raises(TierProposalClosed):
        tier_proposal_confirm(proposal=proposal, by=rm_a)


def test_an_rm_of_another_branch_is_refused(alliance, proposals, rm_b):
    with pytest.raises(NotPermitted):
        tier_proposal_confirm(proposal=proposals[alliance.x.pk], by=rm_b)
    with pytest.raises(NotPermitted):
        tier_proposal_dismiss(proposal=proposals[alliance.x.pk], by=rm_b, note="不同意")
    alliance.x.refresh_from_db()
    assert alliance.x.tier == "standard"
    assert TierProposal.objects.get(partner=alliance.x).state == TierProposalState.PROPOSED


def test_head_office_may_decide_any(alliance, proposals, head_office):
    tier_proposal_confirm(proposal=proposals[alliance.a2.pk], by=head_office, note="总行确认")
    alliance.a2.refresh_from_db()
    assert alliance.a2.tier == "silver"
    assert PartnerTierChange.objects.get(partner=alliance.a2).reason == "总行确认"


def test_dismiss_needs_a_reason_and_keeps_the_tier(alliance, proposals, rm_a):
    with pytest.raises(ValidationError):
        tier_proposal_dismiss(proposal=proposals[alliance.a3.pk], by=rm_a, note=" ")
    proposal = tier_proposal_dismiss(proposal=proposals[alliance.a3.pk], by=rm_a, note="大客户，保留金牌")
    alliance.a3.refresh_from_db()
    assert (proposal.state, alliance.a3.tier) == ("dismissed", "gold")
    assert not PartnerTierChange.objects.filter(partner=alliance.a3).exists()


def test_a_proposal_made_from_a_tier_the_partner_no_longer_has_is_refused(alliance, proposals, rm_a):
    partner_tier_change(partner=alliance.a2, tier="gold", by=rm_a, reason="手工调整")
    with pytest.raises(TierProposalClosed):
        tier_proposal_confirm(proposal=proposals[alliance.a2.pk], by=rm_a)
    alliance.a2.refresh_from_db()
    assert alliance.a2.tier == "gold"


def test_evaluating_again_replaces_open_proposals_and_keeps_decided_ones(alliance, proposals, rm_a):
    tier_proposal_confirm(proposal=proposals[alliance.x.pk], by=rm_a)
    tier_proposal_dismiss(proposal=proposals[alliance.a3.pk], by=rm_a, note="保留")
    run = partner_tier_proposals(period=OCTOBER, as_of=AFTER_CLOSE)
    assert (run.proposed, run.kept_decided) == (1, 2)
    states = dict(TierProposal.objects.values_list("partner_id", "state"))
    assert states == {alliance.x.pk: "confirmed", alliance.a3.pk: "dismissed", alliance.a2.pk: "proposed"}


def test_without_rules_nothing_is_proposed(alliance):
    run = partner_tier_proposals(period=OCTOBER, as_of=AFTER_CLOSE)
    assert run.proposed == 0 and not TierProposal.objects.exists()


def test_dispute_rates_when_supplied_are_evaluated(alliance, rules):
    TierRule.objects.filter(name="银牌").update(max_dispute_rate=D("0.05"))
    partner_tier_proposals(period=OCTOBER, as_of=AFTER_CLOSE, dispute_rates={alliance.a2.pk: D("0.10")})
    assert not TierProposal.objects.filter(partner=alliance.a2).exists()  # silver refused, standard = no change


# -- in the admin ---------------------------------------------------------------


def test_rm_sees_and_confirms_own_branch_proposals_in_the_admin(client, alliance, proposals, rm_a):
    client.force_login(rm_a)
    response = client.get(reverse("admin:performance_tierproposal_changelist"))
    assert response.status_code == 200
    assert {p.partner_id for p in response.context["cl"].result_list} == {alliance.x.pk, alliance.a2.pk, alliance.a3.pk}
    proposal = proposals[alliance.x.pk]
    page = client.get(reverse("admin:performance_tierproposal_change", args=[proposal.pk]))
    assert page.status_code == 200 and 'id="tier-decision"' in page.content.decode()
    response = client.post(
        reverse("admin:performance_tierproposal_decide", args=[proposal.pk, "confirm"]), {"note": ""}
    )
    assert response.status_code == 302
    alliance.x.refresh_from_db()
    assert alliance.x.tier == "gold"


def test_rm_of_another_branch_gets_404_in_the_admin(client, alliance, proposals, rm_b):
    client.force_login(rm_b)
    proposal = proposals[alliance.x.pk]
    assert client.get(reverse("admin:performance_tierproposal_change", args=[proposal.pk])).status_code == 404
    response = client.post(reverse("admin:performance_tierproposal_decide", args=[proposal.pk, "confirm"]))
    assert response.status_code == 404
    alliance.x.refresh_from_db()
    assert alliance.x.tier == "standard"
    listed = client.get(reverse("admin:performance_tierproposal_changelist")).context["cl"].result_list
    assert list(listed) == []


def test_rm_confirms_several_from_the_list(client, alliance, proposals, rm_a):
    client.force_login(rm_a)
    chosen = [proposals[alliance.x.pk].pk, proposals[alliance.a2.pk].pk]
    response = client.post(
        reverse("admin:performance_tierproposal_changelist"),
        {"action": "confirm_selected", "_selected_action": chosen},
    )
    assert response.status_code == 302
    alliance.x.refresh_from_db()
    alliance.a2.refresh_from_db()
    assert (alliance.x.tier, alliance.a2.tier) == ("gold", "silver")
    assert TierProposal.objects.get(partner=alliance.a3).state == "proposed"
