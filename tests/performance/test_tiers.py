"""Partner tier evaluation: rules as data, first met rule by priority wins."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from performance.scoring import PartnerFigures, TierCriteria, growth_rate, tier_evaluate, unmet_thresholds

GOLD = TierCriteria(tier="gold", priority=30, min_revenue=D("500000.00"), min_active_months=6, min_growth_rate=D("0.1"))
SILVER = TierCriteria(tier="silver", priority=20, min_revenue=D("100000.00"), min_smes=50, max_dispute_rate=D("0.05"))
RULES = [SILVER, GOLD]


def figures(**overrides):
    base = dict(
        revenue=D("600000.00"),
        volume=D("9000000.00"),
        smes=80,
        active_months=12,
        growth_rate=D("0.2500"),
        dispute_rate=D("0.0100"),
    )
    return PartnerFigures(**{**base, **overrides})


def test_gold_when_every_gold_threshold_is_met():
    proposal = tier_evaluate(rules=RULES, figures=figures(), default_tier="standard")
    assert (proposal.tier, proposal.rule) == ("gold", GOLD)


def test_falls_to_silver_when_growth_is_short():
    proposal = tier_evaluate(rules=RULES, figures=figures(growth_rate=D("0.0500")), default_tier="standard")
    assert proposal.tier == "silver"
    assert unmet_thresholds(GOLD, figures(growth_rate=D("0.0500"))) == ["min_growth_rate"]


def test_no_previous_revenue_does_not_meet_a_growth_threshold():
    assert growth_rate(current=D("100"), previous=D("0")) is None
    proposal = tier_evaluate(rules=RULES, figures=figures(growth_rate=None), default_tier="standard")
    assert proposal.tier == "silver"


def test_standard_when_no_rule_is_met():
    weak = figures(revenue=D("90000.00"), smes=10, growth_rate=None)
    proposal = tier_evaluate(rules=RULES, figures=weak, default_tier="standard")
    assert (proposal.tier, proposal.rule) == ("standard", None)
    assert unmet_thresholds(SILVER, weak) == ["min_revenue", "min_smes"]


def test_dispute_ceiling():
    assert unmet_thresholds(SILVER, figures(dispute_rate=D("0.0600"))) == ["max_dispute_rate"]
    assert unmet_thresholds(SILVER, figures(dispute_rate=None)) == []  # no lines, nothing disputed


def test_growth_rate_hand_computed():
    assert growth_rate(current=D("115.00"), previous=D("100.00")) == D("0.1500")
    assert growth_rate(current=D("2"), previous=D("3")) == D("-0.3333")


def test_duplicate_priorities_are_refused():
    with pytest.raises(ValueError):
        tier_evaluate(
            rules=[GOLD, TierCriteria(tier="silver", priority=30)], figures=figures(), default_tier="standard"
        )


money = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False)
rates = st.one_of(st.none(), st.decimals(min_value=-1, max_value=5, places=4, allow_nan=False, allow_infinity=False))
partner_figures = st.builds(
    PartnerFigures,
    revenue=money,
    volume=money,
    smes=st.integers(0, 500),
    active_months=st.integers(0, 24),
    growth_rate=rates,
    dispute_rate=st.one_of(st.none(), st.decimals(min_value=0, max_value=1, places=4)),
)
rule_sets = st.lists(
    st.builds(
        TierCriteria,
        tier=st.sampled_from(["standard", "silver", "gold"]),
        priority=st.integers(0, 1000),
        min_revenue=st.one_of(st.none(), money),
        min_smes=st.one_of(st.none(), st.integers(0, 500)),
        min_active_months=st.one_of(st.none(), st.integers(0, 24)),
        min_growth_rate=rates,
    ),
    max_size=6,
    unique_by=lambda rule: rule.priority,
)


@given(rules=rule_sets, partner=partner_figures, data=st.data())
def test_first_met_rule_by_priority_whatever_the_order(rules, partner, data):
    proposal = tier_evaluate(rules=rules, figures=partner, default_tier="standard")
    shuffled = data.draw(st.permutations(rules))
    assert tier_evaluate(rules=shuffled, figures=partner, default_tier="standard") == proposal
    met = [rule for rule in rules if not unmet_thresholds(rule, partner)]
    if proposal.rule is None:
        assert met == [] and proposal.tier == "standard"
    else:
        assert proposal.rule in met
        assert all(rule.priority <= proposal.rule.priority for rule in met)
        assert proposal.tier == proposal.rule.tier
