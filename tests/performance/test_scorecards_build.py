"""Building a period's scorecards: hand-computed scores and ranks with ties, as-of stability, refusals."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.errors import NotPermitted
from performance.errors import KPIUnavailable, ScorecardBuildRefused
from performance.models import BranchScorecard, ScorecardKPILine, ScorecardTopPartner
from performance.selectors import scorecard_trend
from performance.services import scorecards_build
from tests.performance.ledger import at, book, txn_row

OCTOBER = dt.date(2026, 10, 1)
AFTER_CLOSE = at(2026, 11, 5)

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def october_targets(alliance, make_target):
    """Targets (weights sum to 1 per branch) whose scores are worked out by hand in the tests."""
    a, b, c, d = alliance.branch_a, alliance.branch_b, alliance.branch_c, alliance.branch_d
    make_target(a, "transaction_volume", target="2000.00", weight="0.5")
    make_target(a, "bank_revenue", target="20.00", weight="0.3")
    make_target(a, "smes_reached", target="2", weight="0.2")
    make_target(b, "transaction_volume", target="3400.00", weight="0.5")
    make_target(b, "bank_revenue", target="17.00", weight="0.3")
    make_target(b, "smes_reached", target="2", weight="0.2")
    make_target(c, "partners_onboarded", target="1", weight="0.4")
    make_target(c, "bank_revenue", target="1.60", weight="0.6")
    make_target(d, "transaction_volume", target="100.00", weight="1")
    return alliance


def lines_of(branch):
    card = BranchScorecard.objects.get(branch=branch, period_start=OCTOBER)
    return {
        line.kpi: (line.actual_value, line.achievement_rate, line.weighted_score) for line in card.lines.all()
    }, card


def test_hand_computed_scores_and_ranks_with_a_tie(october_targets):
    alliance = october_targets
    build = scorecards_build(period_kind="month", period_start=OCTOBER, as_of=AFTER_CLOSE)

    lines, card_a = lines_of(alliance.branch_a)
    assert lines == {
        # 2100 / 2000 = 1.05 → 1.05 × 0.5 × 100
        "transaction_volume": (D("2100.00"), D("1.0500"), D("52.50")),
        # 15 / 20 = 0.75 → × 0.3
        "bank_revenue": (D("15.00"), D("0.7500"), D("22.50")),
        # 3 / 2 = 1.5 (at the cap) → × 0.2
        "smes_reached": (D("3.00"), D("1.5000"), D("30.00")),
    }
    lines, _card = lines_of(alliance.branch_b)
    # 34 / 17 = 2.0, capped at 1.5 for the score: 45.00, not 60.00.
    assert lines["bank_revenue"] == (D("34.00"), D("2.0000"), D("45.00"))
    lines, _card = lines_of(alliance.branch_c)
    # c1 onboarded on 3 October: 1/1 → 40.00; 2.00 / 1.60 = 1.25 → 0.6 × 125 = 75.00.
    assert lines == {
        "partners_onboarded": (D("1.00"), D("1.0000"), D("40.00")),
        "bank_revenue": (D("2.00"), D("1.2500"), D("75.00")),
    }
    lines, _card = lines_of(alliance.branch_d)
    assert lines == {"transaction_volume": (D("0.00"), D("0.0000"), D("0.00"))}

    totals = {card.branch.code: (card.total_score, card.rank) for card in build.scorecards}
    # B and C tie at 115.00 and share rank 1; A is third, not second ("1134").
    assert totals == {"HZ": (D("115.00"), 1), "GZ": (D("115.00"), 1), "SZ": (D("105.00"), 3), "CD": (D("0.00"), 4)}
    assert {card.ranked_branches for card in build.scorecards} == {4}
    assert card_a.as_of == AFTER_CLOSE and card_a.achievement_cap == D("1.5000")


def test_top_partners_are_stored_with_the_scorecard(october_targets):
    alliance = october_targets
    scorecards_build(period_kind="month", period_start=OCTOBER, as_of=AFTER_CLOSE, top_partners=5)
    tops = ScorecardTopPartner.objects.filter(scorecard__branch=alliance.branch_a).order_by("position")
    assert [(t.position, t.partner_id, t.revenue, t.volume, t.smes) for t in tops] == [
        (1, alliance.x.pk, D("12.00"), D("1600.00"), 3),
        (2, alliance.a2.pk, D("3.00"), D("500.00"), 1),
    ]
    assert not ScorecardTopPartner.objects.filter(scorecard__branch=alliance.branch_d).exists()


def figures():
    return sorted(
        ScorecardKPILine.objects.filter(scorecard__period_start=OCTOBER).values_list(
            "scorecard__branch__code",
            "kpi",
            "target_value",
            "actual_value",
            "achievement_rate",
            "weighted_score",
            "scorecard__total_score",
            "scorecard__rank",
        )
    )


def test_recomputing_a_past_period_gives_identical_figures(october_targets):
    alliance = october_targets
    scorecards_build(period_kind="month", period_start=OCTOBER, as_of=AFTER_CLOSE)
    first = figures()

    # November's business arrives, and a late October event is booked on 10 November.
    book(
        [
            txn_row(
                alliance.x,
                "N1",
                sme_id="SME500",
                amount="9000.00",
                bank_revenue="90.00",
                occurred_at="2026-11-03T10:00",
            ),
            txn_row(
                alliance.c1, "N2", sme_id="SME501", amount="50.00", bank_revenue="0.50", occurred_at="2026-11-04T10:00"
            ),
        ],
        booked_at=at(2026, 12, 2),
    )
    book(
        [
            txn_row(
                alliance.x,
                "LATE-1",
                sme_id="SME003",
                amount="700.00",
                bank_revenue="7.00",
                occurred_at="2026-10-15T09:00",
            )
        ],
        booked_at=at(2026, 11, 10),
    )
    build = scorecards_build(period_kind="month", period_start=OCTOBER, as_of=AFTER_CLOSE)
    assert build.replaced == 4
    assert figures() == first
    assert BranchScorecard.objects.filter(period_start=OCTOBER).count() == 4

    # As of a later date the late event counts: A 2800 / 2000 → 70.00, 22 / 20 → 33.00, 4 SMEs capped → 30.00.
    scorecards_build(period_kind="month", period_start=OCTOBER, as_of=at(2026, 11, 15))
    card_a = BranchScorecard.objects.get(branch=alliance.branch_a, period_start=OCTOBER)
    assert (card_a.total_score, card_a.rank) == (D("133.00"), 1)


def test_trend_reads_the_stored_previous_periods(october_targets, make_target):
    alliance = october_targets
    make_target(alliance.branch_a, "bank_revenue", period_start=dt.date(2026, 9, 1), target="4.00", weight="1")
    scorecards_build(period_kind="month", period_start=dt.date(2026, 9, 1), as_of=at(2026, 10, 5))
    scorecards_build(period_kind="month", period_start=OCTOBER, as_of=AFTER_CLOSE)
    trend = scorecard_trend(branch_id=alliance.branch_a.pk, period=BranchScorecard.objects.first().period)
    # September: 8.00 / 4.00 = 2.0, capped 1.5 → 150.00, alone → rank 1 of 1.
    assert [(str(p.period), p.total_score, p.rank, p.ranked_branches) for p in trend] == [
        ("2026-09", D("150.00"), 1, 1),
        ("2026-10", D("105.00"), 3, 4),
    ]


def test_targets_with_a_kpi_without_figures_are_refused(alliance, make_target, monkeypatch):
    from performance import selectors

    monkeypatch.delitem(selectors.KPI_SELECTORS, "revenue_share_paid")
    make_target(alliance.branch_a, "revenue_share_paid", target="10.00", weight="0.5")
    make_target(alliance.branch_a, "bank_revenue", target="10.00", weight="0.5")
    with pytest.raises(KPIUnavailable) as refused:
        scorecards_build(period_kind="month", period_start=OCTOBER, as_of=AFTER_CLOSE)
    assert refused.value.extra["kpis"] == ["revenue_share_paid"]
    assert "Revenue share paid (SZ)" in str(refused.value.message)
    assert not BranchScorecard.objects.exists()


def test_weights_not_summing_to_one_are_refused_and_nothing_is_replaced(october_targets, make_target):
    scorecards_build(period_kind="month", period_start=OCTOBER, as_of=AFTER_CLOSE)
    before = figures()
    make_target(october_targets.branch_d, "bank_revenue", target="1.00", weight="0.5")  # D now sums to 1.5
    with pytest.raises(ScorecardBuildRefused) as refused:
        scorecards_build(period_kind="month", period_start=OCTOBER, as_of=at(2026, 11, 20))
    assert "成都分行 (CD) 1.5" in str(refused.value.message)
    assert figures() == before


def test_no_targets_is_refused(db):
    with pytest.raises(ScorecardBuildRefused):
        scorecards_build(period_kind="month", period_start=OCTOBER, as_of=AFTER_CLOSE)


def test_only_head_office_builds(october_targets, rm_a, head_office):
    with pytest.raises(NotPermitted):
        scorecards_build(period_kind="month", period_start=OCTOBER, as_of=AFTER_CLOSE, by=rm_a)
    build = scorecards_build(period_kind="month", period_start=OCTOBER, as_of=AFTER_CLOSE, by=head_office)
    assert len(build.scorecards) == 4


def test_naive_as_of_is_refused(october_targets):
    with pytest.raises(ValueError):
        scorecards_build(period_kind="month", period_start=OCTOBER, as_of=dt.datetime(2026, 11, 5))
