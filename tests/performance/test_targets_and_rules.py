"""Target and tier-rule invariants: database constraints, model validation, the save service and roles."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.errors import NotPermitted
from performance.errors import TargetWeightsInvalid
from performance.models import BranchScorecard, BranchTarget, TierRule
from performance.selectors import branch_target_weight_sums, branch_targets_visible_to
from performance.services import branch_target_delete, branch_target_save

pytestmark = pytest.mark.usefixtures("english")


def new_target(branch, **overrides):
    fields = dict(
        branch=branch,
        period_kind="month",
        period_start=dt.date(2026, 10, 1),
        kpi="bank_revenue",
        target_value=D("100.00"),
        weight=D("0.5"),
    )
    return BranchTarget(**{**fields, **overrides})


@pytest.mark.parametrize(
    "overrides",
    [{"weight": D("0")}, {"weight": D("1.0001")}, {"target_value": D("-0.01")}, {"kpi": "nonsense"}],
)
def test_database_refuses_bad_targets(branch_a, overrides):
    with pytest.raises(IntegrityError), transaction.atomic():
        new_target(branch_a, **overrides).save()


def test_database_refuses_a_second_target_for_the_same_kpi(branch_a):
    new_target(branch_a).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        new_target(branch_a, weight=D("0.3")).save()
    new_target(branch_a, period_kind="quarter").save()  # another period is another target


def test_period_start_is_validated(branch_a):
    with pytest.raises(ValidationError) as refused:
        new_target(branch_a, period_kind="year", period_start=dt.date(2026, 10, 1)).full_clean()
    assert "period_start" in refused.value.message_dict


def test_save_service_is_head_office_only(rm_a, finance, branch_a):
    for user in (rm_a, finance):
        with pytest.raises(NotPermitted):
            branch_target_save(target=new_target(branch_a), by=user)
    assert not BranchTarget.objects.exists()


def test_save_service_refuses_weights_above_one_and_allows_an_incomplete_set(head_office, branch_a):
    branch_target_save(target=new_target(branch_a, kpi="active_partners", weight=D("0.6")), by=head_office)
    with pytest.raises(TargetWeightsInvalid) as refused:
        branch_target_save(target=new_target(branch_a, weight=D("0.5")), by=head_office)
    assert refused.value.extra == {"weight_sum": "1.1000"}
    branch_target_save(target=new_target(branch_a, weight=D("0.3")), by=head_office)
    [incomplete] = branch_target_weight_sums()
    assert (incomplete["branch_id"], incomplete["weight_sum"]) == (branch_a.pk, D("0.9000"))
    # Changing an existing target's weight counts it once, not twice.
    target = BranchTarget.objects.get(kpi="bank_revenue")
    target.weight = D("0.4")
    branch_target_save(target=target, by=head_office)
    assert branch_target_weight_sums() == []


def test_delete_service_is_head_office_only(head_office, rm_a, branch_a):
    target = branch_target_save(target=new_target(branch_a), by=head_office)
    with pytest.raises(NotPermitted):
        branch_target_delete(target=target, by=rm_a)
    branch_target_delete(target=target, by=head_office)
    assert not BranchTarget.objects.exists()


def test_visible_targets_are_scoped_by_branch(head_office, finance, rm_a, rm_b, partner_user_x, branch_a, branch_b):
    mine, theirs = new_target(branch_a), new_target(branch_b)
    mine.save()
    theirs.save()
    assert set(branch_targets_visible_to(user=head_office)) == {mine, theirs}
    assert set(branch_targets_visible_to(user=finance)) == {mine, theirs}
    assert list(branch_targets_visible_to(user=rm_a)) == [mine]
    assert list(branch_targets_visible_to(user=rm_b)) == [theirs]
    assert list(branch_targets_visible_to(user=partner_user_x)) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"min_revenue": D("-1")},
        {"min_growth_rate": D("-1.5")},
        {"max_dispute_rate": D("1.5")},
        {"tier": "platinum", "min_smes": 1},
    ],
)
def test_database_refuses_bad_tier_rules(db, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        TierRule.objects.create(name="r", tier=fields.pop("tier", "gold"), priority=1, **fields)


def test_tier_rule_needs_a_threshold_and_a_unique_priority(db):
    with pytest.raises(ValidationError):
        TierRule(name="everyone", tier="gold", priority=1).full_clean()
    rule = TierRule.objects.create(name="金牌", tier="gold", priority=5, min_revenue=D("500000.00"), min_smes=50)
    criteria = rule.as_criteria()
    assert (criteria.tier, criteria.priority, criteria.rule_id, criteria.min_smes) == ("gold", 5, rule.pk, 50)
    with pytest.raises(IntegrityError), transaction.atomic():
        TierRule.objects.create(name="银牌", tier="silver", priority=5, min_smes=10)


def test_scorecard_rank_within_ranked_branches(branch_a):
    fields = dict(
        branch=branch_a,
        period_kind="month",
        period_start=dt.date(2026, 10, 1),
        as_of=dt.datetime(2026, 11, 5, tzinfo=dt.UTC),
        achievement_cap=D("1.5"),
        total_score=D("90.00"),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        BranchScorecard.objects.create(**fields, rank=3, ranked_branches=2)
    BranchScorecard.objects.create(**fields, rank=2, ranked_branches=2)


def test_roles_carry_the_performance_permissions(head_office):
    def perms(role):
        return set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))

    assert {"import_branchtarget", "export_branchtarget", "change_branchtarget", "change_tierrule"} <= perms(
        "head_office_admin"
    )
    assert {"view_branchtarget", "view_branchscorecard"} <= perms("branch_rm")
    assert not {"import_branchtarget", "change_branchtarget", "view_tierrule"} & perms("branch_rm")
    assert not {"import_branchtarget", "change_branchtarget"} & perms("finance")
