"""Late events and reversals of closed periods become adjustments of the next close; unpaid nets carry forward."""

from __future__ import annotations

import datetime as dt

from core.periods import Period
from revenue.settlement.choices import LineKind
from revenue.settlement.selectors import settlement_line_attributions, settlement_period_conservation
from tests.revenue.factories import active_partner
from tests.revenue.settlement.conftest import D, agreement, book, lines_of, pct, reversal, row, settlement_of

SEP = "2026-09-10T10:00:00+08:00"
SEP_LATE = "2026-09-20T10:00:00+08:00"


def test_late_event_and_reversal_of_a_closed_period_adjust_the_next_one(pay, active_x, run_settlement, settings):
    settings.SETTLEMENT_MINIMUM_PAYOUT = D("0.00")
    pct(pay, "0.300000")
    book(row(active_x, "S1", revenue="100.00", at=SEP))
    run_settlement("2026-09")
    assert settlement_of(active_x, "2026-09").share_total == D("30.00")

    # After September's close: a late September event, a reversal dated in September, and October's business.
    book(row(active_x, "S2", revenue="50.00", at=SEP_LATE), row(active_x, "O1", revenue="200.00"))
    book(reversal("S1R", "S1", at="2026-09-28T09:00:00+08:00"))
    run_settlement("2026-10")

    october = settlement_of(active_x, "2026-10")
    product, adjustment = lines_of(october)
    assert (product.kind, product.corrects_period, product.share) == (LineKind.PRODUCT, None, D("60.00"))
    # September recomputed: 30% of (100 + 50 - 100) = 15.00; 30.00 settled before: -15.00.
    assert (adjustment.kind, adjustment.corrects_period, adjustment.product) == (
        LineKind.ADJUSTMENT,
        dt.date(2026, 9, 1),
        pay,
    )
    assert (adjustment.transaction_count, adjustment.bank_revenue) == (2, D("-50.00"))
    assert (adjustment.previous_share, adjustment.share) == (D("30.00"), D("-15.00"))
    assert "2026-09" in adjustment.description
    assert {a.transaction.external_id for a in settlement_line_attributions(line=adjustment)} == {"S2", "S1R"}
    assert (october.share_total, october.adjustment_total, october.net) == (D("60.00"), D("-15.00"), D("45.00"))
    # The closed September settlement is untouched.
    assert settlement_of(active_x, "2026-09").net == D("30.00")
    for month in (9, 10):
        assert settlement_period_conservation(period=Period(2026, month)).holds


def test_a_reversal_dated_in_the_open_month_is_a_regular_negative_figure(pay, active_x, run_settlement, settings):
    settings.SETTLEMENT_MINIMUM_PAYOUT = D("0.00")
    pct(pay, "0.300000")
    book(row(active_x, "S1", revenue="100.00", at=SEP))
    run_settlement("2026-09")
    book(reversal("S1R", "S1", at="2026-10-05T09:00:00+08:00"), row(active_x, "O1", revenue="500.00"))
    run_settlement("2026-10")
    (line,) = lines_of(settlement_of(active_x, "2026-10"))
    assert (line.kind, line.bank_revenue, line.share) == (LineKind.PRODUCT, D("400.00"), D("120.00"))


def test_tiered_adjustment_is_the_exact_difference_of_recomputed_shares(pay, active_x, run_settlement, settings):
    settings.SETTLEMENT_MINIMUM_PAYOUT = D("0.00")
    agreement(
        pay,
        rule_kind="tiered_retroactive",
        tier_basis="product_revenue",
        tiers=[("0", "1000", "0.1"), ("1000", None, "0.2")],
    )
    book(row(active_x, "S1", revenue="900.00", at=SEP))
    run_settlement("2026-09")
    book(row(active_x, "S2", revenue="200.00", at=SEP_LATE))
    run_settlement("2026-10")
    (adjustment,) = lines_of(settlement_of(active_x, "2026-10"))
    # September now has 1 100 of revenue: all of it at 20% = 220.00, not 90.00 + 200 × either rate.
    assert (adjustment.previous_share, adjustment.share) == (D("90.00"), D("130.00"))


def test_a_late_event_moves_another_products_share_through_an_all_products_basis(
    pay, loan, active_x, run_settlement, settings
):
    settings.SETTLEMENT_MINIMUM_PAYOUT = D("0.00")
    agreement(
        pay,
        rule_kind="tiered_retroactive",
        tier_basis="total_revenue",
        tiers=[("0", "1000", "0.1"), ("1000", None, "0.2")],
    )
    pct(loan, "0.100000")
    book(
        row(active_x, "S1", revenue="500.00", at=SEP), row(active_x, "S2", product="SCF_LOAN", revenue="400.00", at=SEP)
    )
    run_settlement("2026-09")
    assert settlement_of(active_x, "2026-09").share_total == D("90.00")  # 50.00 + 40.00

    book(row(active_x, "S3", product="SCF_LOAN", revenue="200.00", at=SEP_LATE))
    run_settlement("2026-10")
    lines = {line.product.code: line for line in lines_of(settlement_of(active_x, "2026-10"))}
    # Total 1 100 lifts PAY to 20%: 100.00 − 50.00; the loan: 10% of 600 − 40.00.
    assert (lines["PAY_SETTLE"].transaction_count, lines["PAY_SETTLE"].share) == (0, D("50.00"))
    assert (lines["SCF_LOAN"].transaction_count, lines["SCF_LOAN"].share) == (1, D("20.00"))


def test_a_net_below_the_minimum_payout_is_carried_and_netted_next_period(pay, active_x, run_settlement):
    pct(pay, "0.300000")
    book(row(active_x, "S1", revenue="100.00", at=SEP))
    run_settlement("2026-09")
    september = settlement_of(active_x, "2026-09")
    assert (september.net, september.carried_forward, september.vat, september.payable) == (
        D("30.00"),
        True,
        D("0.00"),
        D("0.00"),
    )

    book(row(active_x, "O1", revenue="300.00"))
    run_settlement("2026-10")
    october = settlement_of(active_x, "2026-10")
    _product, carried = lines_of(october)
    assert (carried.kind, carried.carried_from, carried.share) == (LineKind.CARRY_FORWARD, september, D("30.00"))
    assert "2026-09" in carried.description
    # 90.00 + 30.00 carried = 120.00; VAT 6% = 7.20.
    assert (october.carried_in, october.net, october.vat, october.payable, october.carried_forward) == (
        D("30.00"),
        D("120.00"),
        D("7.20"),
        D("127.20"),
        False,
    )


def test_a_negative_net_is_carried_until_earnings_cover_it(pay, active_x, run_settlement):
    pct(pay, "0.500000")
    book(row(active_x, "S1", revenue="1000.00", at=SEP))
    run_settlement("2026-09")
    assert settlement_of(active_x, "2026-09").payable == D("530.00")

    # The big September event is reversed late, October earns little: a clawback larger than the earnings.
    book(reversal("S1R", "S1", at="2026-09-30T20:00:00+08:00"), row(active_x, "O1", revenue="100.00"))
    run_settlement("2026-10")
    october = settlement_of(active_x, "2026-10")
    assert (october.share_total, october.adjustment_total, october.net) == (D("50.00"), D("-500.00"), D("-450.00"))
    assert (october.carried_forward, october.payable) == (True, D("0.00"))

    # November: 1 000.00 of share nets the −450.00.
    book(row(active_x, "N1", revenue="2000.00", at="2026-11-10T10:00:00+08:00"))
    run_settlement("2026-11")
    november = settlement_of(active_x, "2026-11")
    assert (november.carried_in, november.net, november.vat, november.payable) == (
        D("-450.00"),
        D("550.00"),
        D("33.00"),
        D("583.00"),
    )


def test_a_partner_with_only_a_carried_balance_gets_a_settlement(pay, active_x, run_settlement):
    pct(pay, "0.300000")
    other = active_partner()
    book(row(active_x, "S1", revenue="100.00", at=SEP))
    run_settlement("2026-09")
    book(row(other, "O1", revenue="10.00"))  # October has business, but not X's
    run_settlement("2026-10")
    october = settlement_of(active_x, "2026-10")
    (carried,) = lines_of(october)
    assert carried.kind == LineKind.CARRY_FORWARD
    assert (october.net, october.carried_forward) == (D("30.00"), True)  # still below 100.00: carried again
