"""Revenue share paid: the partners' settled shares of the period, per branch, as closed by ``as_of``."""

import datetime as dt
from decimal import Decimal

import pytest

from core.periods import CHINA_TZ
from performance.models import KPI
from performance.selectors import kpi_actuals_for_period
from tests.factories import PartnerFactory
from tests.revenue.factories import make_active
from tests.revenue.settlement.conftest import (  # noqa: F401 - autouse fixtures of the settlement tests
    _clock,
    _in_process_unless_worker,
    book,
    pct,
    reversal,
    row,
    run_settlement,
)

D = Decimal
pytestmark = pytest.mark.django_db
CLOSED_BY = dt.datetime(2027, 1, 31, tzinfo=CHINA_TZ)


def share_paid(period_kind: str, start: dt.date, as_of: dt.datetime) -> dict:
    actuals = kpi_actuals_for_period(
        period_kind=period_kind, period_start=start, as_of=as_of, kpis=[KPI.REVENUE_SHARE_PAID]
    )
    return {branch_id: value for (branch_id, _kpi), value in actuals.items()}


def test_settled_shares_with_adjustments_per_branch(run_settlement, pay, partner_x, partner_y, rm_a):  # noqa: F811
    x2 = PartnerFactory(branch=rm_a.branch, relationship_manager=rm_a)
    for partner in (partner_x, partner_y, x2):
        make_active(partner)
    pct(pay, "0.300000")
    # September: x earns 30% of 600.00 = 180.00; y 30% of 1,000.00 = 300.00.
    book(row(partner_x, "s1", revenue="600.00", at="2026-09-10T10:00:00+08:00"))
    book(row(partner_y, "s2", revenue="1000.00", at="2026-09-11T10:00:00+08:00"))
    run_settlement("2026-09")
    # October: x2 earns 30% of 500.00 = 150.00, and x's September event is reversed late:
    # an adjustment of -180.00 in October's settlement of x.
    book(row(x2, "o1", revenue="500.00", at="2026-10-05T10:00:00+08:00"))
    book(reversal("o2", "s1", at="2026-10-06T10:00:00+08:00"))
    run_settlement("2026-10")

    a, b = partner_x.branch_id, partner_y.branch_id
    assert share_paid("month", dt.date(2026, 9, 1), CLOSED_BY) == {a: D("180.00"), b: D("300.00")}
    assert share_paid("month", dt.date(2026, 10, 1), CLOSED_BY) == {a: D("150.00") - D("180.00")}
    assert share_paid("quarter", dt.date(2026, 7, 1), CLOSED_BY) == {a: D("180.00"), b: D("300.00")}
    assert share_paid("year", dt.date(2026, 1, 1), CLOSED_BY) == {a: D("150.00"), b: D("300.00")}
    # Before the closes nothing was settled yet.
    assert share_paid("month", dt.date(2026, 9, 1), dt.datetime(2026, 10, 1, tzinfo=CHINA_TZ)) == {}


def test_dispute_rate_is_disputed_lines_per_settled_line(run_settlement, pay, partner_x, partner_user_x):  # noqa: F811
    from performance.periods import ReportingPeriod
    from performance.selectors import partner_dispute_rates, partner_figures_for_period
    from revenue.settlement.services import settlement_dispute_raise
    from tests.revenue.factories import ProductFactory

    make_active(partner_x)
    wealth = ProductFactory(code="WEALTH", name="理财代销")
    pct(pay, "0.300000")
    pct(wealth, "0.250000")
    book(row(partner_x, "p1", revenue="600.00"), row(partner_x, "w1", revenue="800.00", product="WEALTH"))
    run_settlement("2026-10")
    october = ReportingPeriod.parse("2026-10")
    # Two product lines, none disputed yet.
    assert partner_dispute_rates(period=october, as_of=CLOSED_BY) == {partner_x.pk: D("0.0000")}
    line = partner_x.settlements.get().lines.order_by("position").first()
    settlement_dispute_raise(line=line, by=partner_user_x, comment="笔数不符")
    assert partner_dispute_rates(period=october, as_of=CLOSED_BY) == {partner_x.pk: D("0.5000")}
    # Tier evaluation sees the same rate.
    figures = partner_figures_for_period(period=october, as_of=CLOSED_BY, partner_ids=[partner_x.pk])
    assert figures[partner_x.pk].dispute_rate == D("0.5000")
    # Before the close (and the dispute) there was no settled line, so no rate.
    assert partner_dispute_rates(period=october, as_of=dt.datetime(2026, 11, 1, tzinfo=CHINA_TZ)) == {}
