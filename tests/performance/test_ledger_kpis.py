"""Ledger KPIs: SMEs reached, transaction volume and bank revenue per branch and per partner, as of a date."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.conf import settings

from performance.models import KPI
from performance.periods import ReportingPeriod
from performance.selectors import (
    kpi_actuals_for_period,
    ledger_figures,
    ledger_kpis_by_branch,
    partner_active_months,
    partner_kpis_for_period,
    top_partners_by_branch,
)
from tests.performance.ledger import at, book, reversal_row, txn_row

OCTOBER = ReportingPeriod.parse("2026-10")
AFTER_CLOSE = at(2026, 11, 5)
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
LEDGER_KPIS = [KPI.SMES_REACHED, KPI.TRANSACTION_VOLUME, KPI.BANK_REVENUE]


def october_actuals(as_of=AFTER_CLOSE):
    return kpi_actuals_for_period(period_kind="month", period_start=dt.date(2026, 10, 1), as_of=as_of, kpis=LEDGER_KPIS)


def test_branch_figures_hand_computed(alliance):
    a, b = alliance.branch_a.pk, alliance.branch_b.pk
    # A: x 1000 + 2000.50 − 2000.50 (reversed) + 600 (60% of a co-served 1000) and a2 500.
    # B: y 400 (40% of the co-served) + 3000 at 23:30 on 31 October; y's 999 at 00:00 on 1 November is November's.
    assert october_actuals() == {
        (a, "transaction_volume"): D("2100.00"),
        (a, "bank_revenue"): D("15.00"),
        (a, "smes_reached"): D(3),  # SME001 (x and a2: once), SME002, SME100
        (b, "transaction_volume"): D("3400.00"),
        (b, "bank_revenue"): D("34.00"),
        (b, "smes_reached"): D(2),  # SME100 (co-served: reached by both branches), SME200
        (alliance.branch_c.pk, "transaction_volume"): D("200.00"),
        (alliance.branch_c.pk, "bank_revenue"): D("2.00"),
        (alliance.branch_c.pk, "smes_reached"): D(2),
    }


def test_ledger_kpis_are_one_query(alliance, django_assert_num_queries):
    with django_assert_num_queries(1):
        october_actuals()
    with django_assert_num_queries(1):
        ledger_kpis_by_branch(OCTOBER, AFTER_CLOSE)


def test_only_what_was_booked_by_as_of_counts(alliance):
    a = alliance.branch_a.pk
    # Everything of October was booked on 2 November; on 1 November nothing was known.
    assert october_actuals(as_of=at(2026, 11, 1, 23, 59)) == {}
    # A late October event booked on 10 November: not in the figures as of 5 November ...
    book(
        [
            txn_row(
                alliance.x,
                "LATE-1",
                sme_id="SME003",
                amount="700.00",
                bank_revenue="7.00",
                occurred_at="2026-10-15T09:00:00+08:00",
            )
        ],
        booked_at=at(2026, 11, 10),
    )
    before = october_actuals()
    assert before[(a, "transaction_volume")] == D("2100.00")
    # ... but in those as of a later date.
    after = october_actuals(as_of=at(2026, 11, 15))
    assert (after[(a, "transaction_volume")], after[(a, "bank_revenue")], after[(a, "smes_reached")]) == (
        D("2800.00"),
        D("22.00"),
        D(4),
    )


def test_a_reversal_alone_reaches_no_sme(alliance, pay):
    # A September event reversed in October: October's revenue goes down, no SME is reached by it.
    book(
        [
            txn_row(
                alliance.c1,
                "SEP-1",
                sme_id="SME999",
                amount="50.00",
                bank_revenue="0.50",
                occurred_at="2026-09-10T10:00:00+08:00",
            )
        ],
        booked_at=at(2026, 9, 11),
    )
    book([reversal_row("SEP-1-R", "SEP-1", occurred_at="2026-10-12T10:00:00+08:00")], booked_at=at(2026, 10, 13))
    c = alliance.branch_c.pk
    actuals = october_actuals()
    assert actuals[(c, "bank_revenue")] == D("1.50")
    assert actuals[(c, "transaction_volume")] == D("150.00")
    assert actuals[(c, "smes_reached")] == D(2)


def test_partner_figures_and_growth(alliance):
    figures = partner_kpis_for_period(period=OCTOBER, as_of=AFTER_CLOSE)
    x = figures[alliance.x.pk]
    assert (x.volume, x.revenue, x.smes) == (D("1600.00"), D("12.00"), 3)
    # September revenue 8.00 → (12 − 8) / 8.
    assert (x.previous_revenue, x.growth_rate) == (D("8.00"), D("0.5000"))
    y = figures[alliance.y.pk]
    assert (y.volume, y.revenue, y.smes, y.growth_rate) == (D("3400.00"), D("34.00"), 2, None)
    # Branch figures are the sum of their partners' (SMEs apart).
    a_partners = [f for f in figures.values() if f.branch_id == alliance.branch_a.pk]
    assert sum(f.volume for f in a_partners) == D("2100.00")
    assert sum(f.revenue for f in a_partners) == D("15.00")
    only_b = partner_kpis_for_period(period=OCTOBER, as_of=AFTER_CLOSE, branch_id=alliance.branch_b.pk)
    assert set(only_b) == {alliance.y.pk}


def test_top_partners_by_bank_revenue(alliance):
    top = top_partners_by_branch(period=OCTOBER, as_of=AFTER_CLOSE, limit=1)
    assert [p.partner_id for p in top[alliance.branch_a.pk]] == [alliance.x.pk]
    top = top_partners_by_branch(period=OCTOBER, as_of=AFTER_CLOSE, limit=5)
    assert [(p.partner_id, p.revenue) for p in top[alliance.branch_a.pk]] == [
        (alliance.x.pk, D("12.00")),
        (alliance.a2.pk, D("3.00")),
    ]


def test_active_months_count_calendar_months_touched(alliance):
    months = partner_active_months(period=OCTOBER, as_of=AFTER_CLOSE)
    # x active since 1 September: September and October. a2 since 5 October.
    assert months[alliance.x.pk] == 2
    assert months[alliance.a2.pk] == 1
    # Known on 20 September, a2 was not active yet.
    assert alliance.a2.pk not in partner_active_months(period=OCTOBER, as_of=at(2026, 9, 20))


@pytest.mark.django_db
def test_naive_as_of_is_refused():
    with pytest.raises(ValueError):
        ledger_kpis_by_branch(OCTOBER, dt.datetime(2026, 11, 5))


@pytest.mark.skipif(not ON_POSTGRES, reason="GROUPING SETS is the PostgreSQL path")
def test_one_pass_and_two_passes_give_the_same_figures(alliance):
    one = ledger_figures(OCTOBER, AFTER_CLOSE, one_pass=True)
    two = ledger_figures(OCTOBER, AFTER_CLOSE, one_pass=False)
    assert one.by_branch == two.by_branch
    key = lambda p: p.partner_id  # noqa: E731
    assert sorted(one.by_partner, key=key) == sorted(two.by_partner, key=key)
    assert len(one.by_partner) == 4  # x, a2, y, c1


def test_branch_figures_from_both_levels_agree(alliance):
    figures = ledger_figures(OCTOBER, AFTER_CLOSE)
    assert figures.by_branch == ledger_kpis_by_branch(OCTOBER, AFTER_CLOSE)
    for kpi, attr in (("transaction_volume", "volume"), ("bank_revenue", "revenue")):
        for branch_id, total in figures.by_branch[kpi].items():
            assert sum(getattr(p, attr) for p in figures.by_partner if p.branch_id == branch_id) == total
