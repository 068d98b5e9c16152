"""Admission-based KPIs per branch: partners onboarded in a period, active partners at its end, as of a date."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.periods import CHINA_TZ
from onboarding.models import PartnerActivePeriod
from performance.errors import KPIUnavailable
from performance.models import KPI
from performance.periods import PeriodKind, ReportingPeriod
from performance.selectors import (
    active_partners_by_branch,
    kpi_actuals_for_period,
    partners_onboarded_by_branch,
)
from tests.factories import PartnerFactory

OCTOBER = ReportingPeriod.parse("2026-10")
AFTER_CLOSE = dt.datetime(2026, 11, 5, tzinfo=CHINA_TZ)
MID_OCTOBER = dt.datetime(2026, 10, 15, 12, 0, tzinfo=CHINA_TZ)


def at(*args):
    return dt.datetime(*args, tzinfo=CHINA_TZ)


def activity(partner, started_at, ended_at=None):
    PartnerActivePeriod.objects.create(partner=partner, started_at=started_at, ended_at=ended_at)


@pytest.fixture
def alliance(rm_a, rm_b):
    """Branch A: p1..p6, branch B: q1..q3, with hand-placed active periods (Beijing time)."""
    a = {name: PartnerFactory(branch=rm_a.branch, relationship_manager=rm_a) for name in "p1 p2 p3 p4 p5 p6".split()}
    b = {name: PartnerFactory(branch=rm_b.branch, relationship_manager=rm_b) for name in "q1 q2 q3".split()}
    activity(a["p1"], at(2026, 10, 15))  # onboarded in October, open
    activity(a["p2"], at(2026, 9, 1), at(2026, 10, 20))  # onboarded in September, ended in October
    activity(a["p3"], at(2026, 8, 1), at(2026, 9, 1))  # onboarded in August ...
    activity(a["p3"], at(2026, 10, 10))  # ... re-activated in October: not onboarded again
    activity(a["p4"], at(2026, 10, 31, 23, 30))  # last half hour of October
    activity(a["p5"], at(2026, 11, 1))  # first instant of November
    activity(a["p6"], at(2026, 9, 10), at(2026, 11, 1))  # ends exactly at October's end: active throughout
    activity(b["q1"], at(2026, 10, 1))  # first instant of October
    activity(b["q2"], at(2026, 10, 20))
    activity(b["q3"], at(2026, 10, 2), at(2026, 11, 3))  # ended after October, before the cut-off
    return rm_a.branch, rm_b.branch


def test_partners_onboarded_after_close(alliance):
    branch_a, branch_b = alliance
    # A: p1, p4; B: q1, q2, q3
    assert partners_onboarded_by_branch(OCTOBER, AFTER_CLOSE) == {branch_a.pk: D(2), branch_b.pk: D(3)}


def test_active_partners_at_period_end_after_close(alliance):
    branch_a, branch_b = alliance
    # A: p1, p3, p4, p6; B: q1, q2, q3
    assert active_partners_by_branch(OCTOBER, AFTER_CLOSE) == {branch_a.pk: D(4), branch_b.pk: D(3)}


def test_as_of_inside_the_period_counts_only_what_was_known(alliance):
    branch_a, branch_b = alliance
    # Known on 15 Oct noon: p1 (from 00:00 that day), q1 and q3 activated; p4 and q2 not yet.
    assert partners_onboarded_by_branch(OCTOBER, MID_OCTOBER) == {branch_a.pk: D(1), branch_b.pk: D(2)}
    # p2 ended on 20 Oct, unknown on the 15th: still open then. p4, q2 unknown.
    assert active_partners_by_branch(OCTOBER, MID_OCTOBER) == {branch_a.pk: D(4), branch_b.pk: D(2)}


def test_boundaries_are_beijing_time(rm_a):
    partner = PartnerFactory(branch=rm_a.branch, relationship_manager=rm_a)
    # 16:30 UTC on 31 Oct is 00:30 on 1 Nov in Beijing: November.
    activity(partner, dt.datetime(2026, 10, 31, 16, 30, tzinfo=dt.UTC))
    assert partners_onboarded_by_branch(OCTOBER, AFTER_CLOSE) == {}
    assert partners_onboarded_by_branch(OCTOBER.next(), dt.datetime(2026, 12, 5, tzinfo=CHINA_TZ)) == {
        rm_a.branch.pk: D(1)
    }


def test_recomputing_a_past_period_is_stable_after_later_data(alliance, rm_a, rm_b):
    before = kpi_actuals_for_period(
        period_kind="month",
        period_start=dt.date(2026, 10, 1),
        as_of=AFTER_CLOSE,
        kpis=[KPI.PARTNERS_ONBOARDED, KPI.ACTIVE_PARTNERS],
    )
    # November happens: new partners, p1 suspended, p2 back, all recorded after the cut-off.
    newcomer = PartnerFactory(branch=rm_b.branch, relationship_manager=rm_b)
    activity(newcomer, at(2026, 11, 12))
    p1_period = PartnerActivePeriod.objects.get(partner__branch=rm_a.branch, started_at=at(2026, 10, 15))
    p1_period.ended_at = at(2026, 11, 20)
    p1_period.save()
    p2 = PartnerActivePeriod.objects.get(started_at=at(2026, 9, 1)).partner
    activity(p2, at(2026, 11, 25))
    after = kpi_actuals_for_period(
        period_kind="month",
        period_start=dt.date(2026, 10, 1),
        as_of=AFTER_CLOSE,
        kpis=[KPI.PARTNERS_ONBOARDED, KPI.ACTIVE_PARTNERS],
    )
    assert after == before
    # The new data does show for November (as of its own close).
    november = kpi_actuals_for_period(
        period_kind="month", period_start=dt.date(2026, 11, 1), as_of=at(2026, 12, 5), kpis=[KPI.PARTNERS_ONBOARDED]
    )
    assert november == {(rm_a.branch.pk, "partners_onboarded"): D(1), (rm_b.branch.pk, "partners_onboarded"): D(1)}


def test_actuals_by_branch_and_kpi_for_a_quarter(alliance):
    branch_a, branch_b = alliance
    actuals = kpi_actuals_for_period(
        period_kind=PeriodKind.QUARTER,
        period_start=dt.date(2026, 10, 1),
        as_of=dt.datetime(2027, 1, 5, tzinfo=CHINA_TZ),
        kpis=[KPI.PARTNERS_ONBOARDED, KPI.ACTIVE_PARTNERS],
    )
    # Q4 onboarded: A p1, p4, p5; B q1, q2, q3. Active at 31 Dec: A p1, p3, p4, p5; B q1, q2.
    assert actuals == {
        (branch_a.pk, "partners_onboarded"): D(3),
        (branch_b.pk, "partners_onboarded"): D(3),
        (branch_a.pk, "active_partners"): D(4),
        (branch_b.pk, "active_partners"): D(2),
    }


@pytest.mark.django_db
def test_kpis_without_a_selector_are_refused_clearly(monkeypatch):
    from performance import selectors

    monkeypatch.delitem(selectors.KPI_SELECTORS, "revenue_share_paid")
    with pytest.raises(KPIUnavailable) as refused:
        kpi_actuals_for_period(period_kind="month", period_start=dt.date(2026, 10, 1), as_of=AFTER_CLOSE)
    assert refused.value.extra["kpis"] == ["revenue_share_paid"]


@pytest.mark.django_db
def test_every_kpi_has_a_selector():
    assert kpi_actuals_for_period(period_kind="month", period_start=dt.date(2026, 10, 1), as_of=AFTER_CLOSE) == {}


@pytest.mark.django_db
def test_naive_as_of_is_refused():
    with pytest.raises(ValueError):
        active_partners_by_branch(OCTOBER, dt.datetime(2026, 11, 5))


def test_set_based_one_query_per_kpi(alliance, django_assert_num_queries):
    with django_assert_num_queries(2):
        kpi_actuals_for_period(
            period_kind="month",
            period_start=dt.date(2026, 10, 1),
            as_of=AFTER_CLOSE,
            kpis=[KPI.PARTNERS_ONBOARDED, KPI.ACTIVE_PARTNERS],
        )
