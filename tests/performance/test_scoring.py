"""Scorecard arithmetic, by hand and by property."""

from decimal import Decimal as D
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from performance.scoring import (
    KPIInput,
    achievement_rate,
    competition_ranks,
    score_branch,
    scored_achievement,
    weighted_score,
)


def test_hand_computed_branch_with_cap():
    # 12/10 = 1.2 → 24.00; 30/40 = 0.75 → 22.50; 1.8 capped at 1.5 → 75.00; total 121.50
    score = score_branch(
        [
            KPIInput("partners_onboarded", target=D("10"), weight=D("0.2"), actual=D("12")),
            KPIInput("active_partners", target=D("40"), weight=D("0.3"), actual=D("30")),
            KPIInput("bank_revenue", target=D("1000000.00"), weight=D("0.5"), actual=D("1800000.00")),
        ]
    )
    assert [line.achievement_rate for line in score.lines] == [D("1.2000"), D("0.7500"), D("1.8000")]
    assert [line.scored_achievement for line in score.lines] == [D("1.2000"), D("0.7500"), D("1.5")]
    assert [line.weighted_score for line in score.lines] == [D("24.00"), D("22.50"), D("75.00")]
    assert score.total == D("121.50")


def test_hand_computed_zero_target_rounding_and_negative_actual():
    # zero target met → 100% → 10.00; 1/3 = 0.3333 → 9.999 → 10.00; revenue −4% → scores 0.
    score = score_branch(
        [
            KPIInput("partners_onboarded", target=D("0"), weight=D("0.1"), actual=D("3")),
            KPIInput("active_partners", target=D("3"), weight=D("0.3"), actual=D("1")),
            KPIInput("bank_revenue", target=D("500000.00"), weight=D("0.6"), actual=D("-20000.00")),
        ]
    )
    rates = [line.achievement_rate for line in score.lines]
    assert rates == [None, D("0.3333"), D("-0.0400")]
    assert [line.weighted_score for line in score.lines] == [D("10.00"), D("10.00"), D("0.00")]
    assert score.total == D("20.00")


def test_rounding_is_half_up_not_half_even():
    # 1/32 = 0.03125 → 0.0313 (half-even would give 0.0312)
    assert achievement_rate(actual=D("1"), target=D("32")) == D("0.0313")
    # 0.0313 × 0.5 × 100 = 1.565 → 1.57 (half-even would give 1.56)
    assert weighted_score(achievement=D("0.0313"), weight=D("0.5")) == D("1.57")


def test_zero_target_with_negative_actual_scores_nothing():
    assert scored_achievement(rate=None, actual=D("-1")) == 0
    assert scored_achievement(rate=None, actual=D("0")) == 1


def test_cap_is_a_parameter():
    item = KPIInput("bank_revenue", target=D("100"), weight=D("1"), actual=D("300"))
    assert score_branch([item]).total == D("150.00")
    assert score_branch([item], cap=D("2")).total == D("200.00")
    assert score_branch([item], cap=D("1")).total == D("100.00")
    with pytest.raises(ValueError):
        score_branch([item], cap=D("0.9"))


@pytest.mark.parametrize(
    "items",
    [
        [],
        [KPIInput("a", D("1"), D("0.5"), D("1"))],  # weights sum to 0.5
        [KPIInput("a", D("1"), D("0.5"), D("1")), KPIInput("a", D("1"), D("0.5"), D("1"))],  # KPI twice
        [KPIInput("a", D("1"), D("0"), D("1")), KPIInput("b", D("1"), D("1"), D("1"))],  # zero weight
        [KPIInput("a", D("-1"), D("1"), D("1"))],  # negative target
    ],
)
def test_bad_scorecards_are_refused(items):
    with pytest.raises(ValueError):
        score_branch(items)


def test_competition_ranking_with_ties():
    ranks = competition_ranks({"a": D("90"), "b": D("85.5"), "c": D("90.00"), "d": D("70"), "e": D("85.50")})
    assert ranks == {"a": 1, "c": 1, "b": 3, "e": 3, "d": 5}


def test_ranking_compares_at_two_places_half_up():
    # 85.504 shows as 85.50 and ties with 85.50; 85.505 shows as 85.51 and ranks above.
    assert competition_ranks({"x": D("85.504"), "y": D("85.50"), "z": D("85.505")}) == {"z": 1, "x": 2, "y": 2}


# ---------------------------------------------------------------------------
# Properties

scores = st.decimals(min_value=0, max_value=300, places=2, allow_nan=False, allow_infinity=False)
totals_maps = st.dictionaries(st.integers(min_value=1, max_value=500), scores, max_size=25)


@given(totals=totals_maps, data=st.data())
def test_ranking_is_permutation_invariant(totals, data):
    shuffled = dict(data.draw(st.permutations(list(totals.items()))))
    assert competition_ranks(shuffled) == competition_ranks(totals)


@given(totals=totals_maps)
def test_equal_totals_share_ranks_and_ranks_count_the_better(totals):
    ranks = competition_ranks(totals)
    assert ranks.keys() == totals.keys()
    for key, total in totals.items():
        assert ranks[key] == 1 + sum(1 for other in totals.values() if other > total)
        for other_key, other_total in totals.items():
            assert (ranks[key] == ranks[other_key]) == (total == other_total)
            assert (ranks[key] < ranks[other_key]) == (total > other_total)
    if totals:
        assert min(ranks.values()) == 1
        assert max(ranks.values()) <= len(totals)


@st.composite
def scorecards(draw):
    """Up to six KPIs whose weights (four places) sum to exactly 1."""
    count = draw(st.integers(min_value=1, max_value=6))
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=9999), min_size=count - 1, max_size=count - 1)))
    bounds = [0, *cuts, 10000]
    weights = [D(b - a) / 10000 for a, b in pairwise(bounds)]
    amounts = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
    actuals = st.decimals(min_value=-(10**8), max_value=10**10, places=2, allow_nan=False, allow_infinity=False)
    return [
        KPIInput(f"kpi{i}", target=draw(amounts), weight=weight, actual=draw(actuals))
        for i, weight in enumerate(weights)
    ]


caps = st.decimals(min_value=1, max_value=3, places=4, allow_nan=False, allow_infinity=False)


@given(items=scorecards(), cap=caps)
def test_scores_are_bounded(items, cap):
    score = score_branch(items, cap=cap)
    half_hundredth = D("0.005")
    for line in score.lines:
        assert 0 <= line.scored_achievement <= cap
        assert 0 <= line.weighted_score <= cap * line.weight * 100 + half_hundredth
    assert score.total == sum(line.weighted_score for line in score.lines)
    assert 0 <= score.total <= cap * 100 + half_hundredth * len(items)


@given(items=scorecards())
def test_meeting_every_target_scores_at_least_one_hundred(items):
    met = [KPIInput(i.kpi, i.target, i.weight, max(i.actual, i.target)) for i in items]
    assert score_branch(met).total >= 100
