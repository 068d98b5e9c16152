"""The month-end close end to end: hand-computed settlements per rule kind, VAT, the period's edges and refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from core.periods import Period
from revenue.ledger.models import AgreementVersion
from revenue.settlement.choices import LineKind, PeriodState, RunKind, RunState, SettlementState
from revenue.settlement.errors import PeriodLocked, PeriodNotReady, RunInProgress
from revenue.settlement.models import Settlement, SettlementPeriod, SettlementRun
from revenue.settlement.selectors import (
    settlement_attributions,
    settlement_line_attributions,
    settlement_period_conservation,
)
from revenue.settlement.services import settlement_run_start
from tests.revenue.factories import active_partner
from tests.revenue.settlement.conftest import D, agreement, book, lines_of, pct, row, settlement_of


def test_percentage_share_vat_and_totals(pay, active_x, run_settlement):
    pct(pay, "0.300000")
    book(row(active_x, "T1", revenue="600.00"), row(active_x, "T2", revenue="401.11", amount="2000.00"))

    run = run_settlement("2026-10")

    assert run.state == RunState.COMPLETED, run.error
    s = settlement_of(active_x, "2026-10")
    # 30% of 1001.11 = 300.333 → 300.33; VAT 6% of 300.33 = 18.0198 → 18.02.
    assert (s.state, s.share_total, s.net, s.vat_rate, s.vat, s.payable) == (
        SettlementState.CLOSED,
        D("300.33"),
        D("300.33"),
        D("0.0600"),
        D("18.02"),
        D("318.35"),
    )
    (line,) = lines_of(s)
    assert (line.kind, line.product, line.transaction_count, line.volume, line.bank_revenue) == (
        LineKind.PRODUCT,
        pay,
        2,
        D("3000.00"),
        D("1001.11"),
    )
    assert line.rule_description == "30% of bank revenue"
    assert s.closed_at is not None and not s.carried_forward
    assert (run.settlements_count, run.lines_count, run.attributions_count) == (1, 1, 2)
    assert (run.bank_revenue_total, run.share_total, run.retained_total) == (D("1001.11"), D("300.33"), D("700.78"))


def test_fixed_amount_counts_co_served_events_by_weight_and_reversals_negatively(
    loan, active_x, active_y, run_settlement
):
    agreement(loan, rule_kind="fixed_per_transaction", fixed_amount=D("5.00"))
    x, y = active_x.credit_code, active_y.credit_code
    book(
        row(active_x, "L1", product="SCF_LOAN", revenue="100.00"),
        row(active_x, "L2", product="SCF_LOAN", revenue="100.00"),
        row(f"{x}:0.5;{y}:0.5", "L3", product="SCF_LOAN", revenue="100.00"),
        row(active_x, "L4", product="SCF_LOAN", revenue="100.00"),
    )
    book({"external_id": "L4R", "kind": "reversal", "reverses": "L4", "occurred_at": "2026-10-21T09:00:00+08:00"})

    run_settlement("2026-10")

    # X: 1 + 1 + 0.5 + 1 - 1 = 2.5 transactions × 5.00 = 12.50; Y: 0.5 × 5.00 = 2.50.
    (line_x,) = lines_of(settlement_of(active_x, "2026-10"))
    assert (line_x.net_count, line_x.transaction_count, line_x.bank_revenue, line_x.share) == (
        D("2.5"),
        5,
        D("250.00"),
        D("12.50"),
    )
    (line_y,) = lines_of(settlement_of(active_y, "2026-10"))
    assert (line_y.net_count, line_y.bank_revenue, line_y.share) == (D("0.5"), D("50.00"), D("2.50"))
    assert line_x.rule_description == "CNY 5.00 per transaction"


def test_progressive_tiers_on_volume(pay, active_x, run_settlement):
    agreement(
        pay,
        rule_kind="tiered_progressive",
        tier_basis="product_volume",
        tiers=[("0", "10000", "0.1"), ("10000", None, "0.2")],
    )
    book(
        row(active_x, "P1", amount="5000.00", revenue="60.00"), row(active_x, "P2", amount="10000.00", revenue="40.00")
    )

    run_settlement("2026-10")

    # Volume 15 000: 10 000 × 10% + 5 000 × 20% = 2 000 → effective 2 000 / 15 000;
    # share = 100.00 × 2 000 / 15 000 = 13.333… → 13.33.
    (line,) = lines_of(settlement_of(active_x, "2026-10"))
    assert line.share == D("13.33")
    assert line.effective_rate == D("0.13333333")
    assert line.rule_description.startswith("Progressive tiers on volume of this product")


def test_retroactive_tiers_across_products_with_floor_and_cap(pay, loan, active_x, run_settlement):
    agreement(
        pay,
        rule_kind="tiered_retroactive",
        tier_basis="total_revenue",
        tiers=[("0", "1000", "0.1"), ("1000", None, "0.25")],
        floor=D("50.00"),
        cap=D("300.00"),
    )
    pct(loan, "0.100000")
    book(
        row(active_x, "R1", revenue="200.00"),
        row(active_x, "R2", product="SCF_LOAN", revenue="900.00"),
    )

    run_settlement("2026-10")

    # Total revenue 1 100 reaches the 25% slab: PAY 200 × 25% = 50.00 (not lifted: equals the floor);
    # the loan's own 10% rule: 90.00.
    lines = {line.product.code: line for line in lines_of(settlement_of(active_x, "2026-10"))}
    assert lines["PAY_SETTLE"].share == D("50.00")
    assert lines["PAY_SETTLE"].effective_rate == D("0.25")
    assert lines["SCF_LOAN"].share == D("90.00")
    assert settlement_of(active_x, "2026-10").share_total == D("140.00")


def test_floor_lifts_and_cap_limits(pay, loan, active_x, active_y, run_settlement):
    pct(pay, "0.010000", floor=D("20.00"))
    pct(loan, "0.500000", cap=D("100.00"))
    book(row(active_x, "F1", revenue="300.00"), row(active_y, "C1", product="SCF_LOAN", revenue="1000.00"))

    run_settlement("2026-10")

    assert settlement_of(active_x, "2026-10").share_total == D("20.00")  # 3.00 lifted to the floor
    assert settlement_of(active_y, "2026-10").share_total == D("100.00")  # 500.00 capped


def test_a_product_without_agreement_earns_nothing_but_is_settled(pay, active_x, run_settlement):
    book(row(active_x, "N1", revenue="150.00"))
    run_settlement("2026-10")
    s = settlement_of(active_x, "2026-10")
    (line,) = lines_of(s)
    assert (line.share, line.bank_revenue, line.agreement_version) == (D("0.00"), D("150.00"), None)
    assert line.rule_description == "No agreement in force: no share"
    # Nothing to pay and nothing to carry.
    assert (s.net, s.payable, s.carried_forward) == (D("0.00"), D("0.00"), False)


def test_small_scale_vat_rate_is_copied_at_close(pay, active_x, run_settlement):
    active_x.vat_rate = D("0.0300")
    active_x.save(update_fields=["vat_rate"])
    pct(pay, "0.500000")
    book(row(active_x, "V1", revenue="333.33"))
    run_settlement("2026-10")
    s = settlement_of(active_x, "2026-10")
    # 166.665 → 166.67; VAT 3% = 5.0001 → 5.00.
    assert (s.net, s.vat_rate, s.vat, s.payable) == (D("166.67"), D("0.0300"), D("5.00"), D("171.67"))


def test_period_edges_are_china_time(pay, active_x, run_settlement):
    pct(pay, "1.000000")
    book(
        row(active_x, "E1", revenue="1.00", at="2026-10-31T23:30:00+08:00"),  # 15:30 UTC: October in Beijing
        row(active_x, "E2", revenue="2.00", at="2026-10-31T16:10:00+00:00"),  # 00:10 on 1 November in Beijing
        row(active_x, "E3", revenue="4.00", at="2026-09-30T16:00:00+00:00"),  # 00:00 on 1 October in Beijing
    )
    run_settlement("2026-10")
    (line,) = lines_of(settlement_of(active_x, "2026-10"))
    assert (line.transaction_count, line.bank_revenue) == (2, D("5.00"))
    assert {a.transaction.external_id for a in settlement_line_attributions(line=line)} == {"E1", "E3"}


def test_inactive_partners_events_are_retained_by_the_bank(pay, active_x, partner_y, run_settlement):
    pct(pay, "0.500000")
    book(row(active_x, "A1", revenue="100.00"), row(partner_y, "I1", revenue="80.00"))  # Y is not active
    run = run_settlement("2026-10")
    assert not Settlement.objects.filter(partner=partner_y).exists()
    assert (run.attributions_count, run.inactive_count) == (2, 1)
    assert (run.bank_revenue_total, run.share_total, run.retained_total) == (D("180.00"), D("50.00"), D("130.00"))


def test_lines_trace_back_to_their_transactions(pay, loan, active_x, active_y, run_settlement):
    pct(pay, "0.300000")
    pct(loan, "0.200000")
    x, y = active_x.credit_code, active_y.credit_code
    book(
        row(active_x, "D1", revenue="10.00"),
        row(active_x, "D2", product="SCF_LOAN", revenue="20.00"),
        row(f"{x}:0.7;{y}:0.3", "D3", revenue="10.00"),
        row(active_y, "D4", revenue="5.00"),
    )
    run_settlement("2026-10")
    s = settlement_of(active_x, "2026-10")
    for line in lines_of(s):
        attributions = settlement_line_attributions(line=line)
        assert attributions.count() == line.transaction_count
        assert sum(a.bank_revenue for a in attributions) == line.bank_revenue
    assert sorted(a.transaction.external_id for a in settlement_attributions(settlement=s)) == ["D1", "D2", "D3"]
    assert [a.bank_revenue for a in settlement_attributions(settlement=s) if a.transaction.external_id == "D3"] == [
        D("7.00")
    ]


def test_closing_locks_the_versions_used_and_the_period(pay, loan, active_x, run_settlement):
    used = pct(pay, "0.300000")
    unused = pct(loan, "0.300000")
    book(row(active_x, "K1"))
    run = run_settlement("2026-10")
    used.refresh_from_db()
    unused.refresh_from_db()
    assert used.locked_at is not None and unused.locked_at is None
    period = SettlementPeriod.objects.get(start=dt.date(2026, 10, 1))
    assert (period.state, period.lower_watermark, period.close_watermark) == (PeriodState.CLOSED, 0, run.watermark)
    assert AgreementVersion.objects.filter(locked_at__isnull=False).count() == 1


def test_the_same_period_twice_is_refused_and_changes_nothing(pay, active_x, run_settlement):
    pct(pay, "0.300000")
    book(row(active_x, "S1", revenue="100.00"))
    run_settlement("2026-10")
    before = list(Settlement.objects.values_list("pk", "net", "state"))
    book(row(active_x, "S2", revenue="100.00", at="2026-10-09T10:00:00+08:00"))  # arrives late
    with pytest.raises(PeriodLocked, match=r"2026-10 is closed .* cannot be closed again"):
        run_settlement("2026-10")
    assert list(Settlement.objects.values_list("pk", "net", "state")) == before
    assert SettlementRun.objects.filter(kind=RunKind.CLOSE).count() == 1


def test_refusals_keep_every_attribution_settled_exactly_once(pay, active_x, run_settlement):
    pct(pay, "0.300000")
    book(row(active_x, "O1", at="2026-09-15T10:00:00+08:00"), row(active_x, "O2"))
    # September has transactions and is open: October cannot be closed first.
    with pytest.raises(PeriodNotReady, match="2026-09 has transactions and is not closed yet"):
        run_settlement("2026-10")
    assert not SettlementPeriod.objects.exclude(state=PeriodState.OPEN).exists()  # nothing written
    run_settlement("2026-09")
    run_settlement("2026-10")
    # Once October is closed, September can never be closed again, nor August.
    with pytest.raises(PeriodLocked):
        run_settlement("2026-08")
    # A month that has not ended cannot be closed.
    with pytest.raises(PeriodNotReady, match="has not ended yet"):
        settlement_run_start(period=Period(2999, 1), kind=RunKind.CLOSE, by=None)
    assert settlement_period_conservation(period=Period(2026, 9)).holds
    assert settlement_period_conservation(period=Period(2026, 10)).holds


def test_a_second_close_while_one_runs_is_refused(pay, active_x):
    pct(pay, "0.300000")
    book(row(active_x, "Q1"))
    # Without executing on-commit callbacks the first close stays pending, as while a worker runs it.
    first = settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=None)
    assert first.state == RunState.PENDING
    with pytest.raises(RunInProgress, match=rf"already running \(run #{first.pk}"):
        settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=None)
    with pytest.raises(PeriodLocked, match="being closed"):
        settlement_run_start(period=Period(2026, 10), kind=RunKind.ACCRUAL, by=None)


def test_nobody_without_the_permission_runs_a_settlement(pay, rm_a, reviewer_a):
    from revenue.settlement.errors import NotPermitted

    for user in (rm_a, reviewer_a):
        with pytest.raises(NotPermitted):
            settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=user)
    assert not SettlementRun.objects.exists()


def test_finance_runs_the_close_and_is_recorded_as_closer(pay, active_x, finance, run_settlement):
    pct(pay, "0.300000")
    book(row(active_x, "U1"))
    run = run_settlement("2026-10", by=finance)
    assert run.triggered_by == finance
    assert settlement_of(active_x, "2026-10").closed_by == finance
    assert SettlementPeriod.objects.get(start=dt.date(2026, 10, 1)).closed_by == finance


def test_many_partners_over_several_chunks(pay, run_settlement, settings):
    settings.SETTLEMENT_CHUNK_PARTNERS = 3
    pct(pay, "0.250000")
    partners = [active_partner() for _ in range(8)]
    book(*(row(p, f"M{i}", revenue=f"{10 + i}.00") for i, p in enumerate(partners)))
    run = run_settlement("2026-10")
    assert (run.chunks_total, run.chunks_done, run.settlements_count) == (3, 3, 8)
    assert list(run.chunks.values_list("partners", flat=True)) == [3, 3, 2]
    assert run.share_total == sum((D(f"{10 + i}.00") * D("0.25") for i in range(8)), D("0"))


@pytest.mark.postgres
def test_the_close_freezes_its_settlements_in_place(pay, run_settlement):
    """Freezing changes no indexed column and finds room on the page: every update is HOT (no index writes)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("HOT updates are PostgreSQL's")
    pct(pay, "0.250000")
    partners = [active_partner() for _ in range(30)]
    book(*(row(p, f"H{i}", revenue=f"{100 + i}.00") for i, p in enumerate(partners)))

    def updates() -> tuple[int, int]:
        # This transaction's own counts so far (the test runs inside one).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'settlement_settlement'"
            )
            found = cursor.fetchone()
        return (found[0], found[1]) if found else (0, 0)

    before = updates()
    run = run_settlement("2026-10")
    assert run.state == RunState.COMPLETED, run.error
    assert Settlement.objects.filter(state=SettlementState.CLOSED).count() == 30
    updated, hot = (after - earlier for after, earlier in zip(updates(), before, strict=True))
    assert updated == hot == 30
