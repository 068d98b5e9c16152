"""The pure settlement computation: totals, VAT at the one rounding boundary, carry-forward, adjustments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from core.money import ZERO, round_money
from revenue.calculations import ShareRule, TierBracket
from revenue.settlement.choices import LineKind
from revenue.settlement.compute import (
    CarriedBalance,
    DisputeAdjustment,
    Figures,
    PartnerInput,
    RuleChoice,
    Settled,
    rule_describe,
    settlement_compute,
)

D = Decimal
SEP = dt.date(2026, 9, 1)
PCT = RuleChoice(ShareRule(kind="percentage", rate=D("0.25")), 1, "25%")
RETRO = RuleChoice(
    ShareRule(
        kind="tiered_retroactive",
        tier_basis="product_revenue",
        tiers=(TierBracket(D(0), D(1000), D("0.1")), TierBracket(D(1000), None, D("0.2"))),
    ),
    2,
    "tiers",
)


def figures(revenue: str, count: int = 1) -> Figures:
    return Figures(transaction_count=count, net_count=D(count), volume=D(revenue) * 100, bank_revenue=D(revenue))


def test_vat_is_rounded_once_half_away_from_zero():
    partner = PartnerInput(partner_id=1, vat_rate=D("0.06"), regular={1: figures("410.00")}, regular_rules={1: PCT})
    result = settlement_compute(partner=partner, minimum_payout=D("100"))
    assert (result.net, result.vat, result.payable) == (D("102.50"), D("6.15"), D("108.65"))
    # 102.50 × 5% = 5.125: half away from zero gives 5.13 where half to even would give 5.12.
    partner.vat_rate = D("0.05")
    assert settlement_compute(partner=partner, minimum_payout=D("100")).vat == D("5.13")
    partner.vat_rate = D("0.03")
    partner.regular = {1: figures("1000.50")}  # net 250.125 → 250.13 (the share's rounding); VAT 7.5039 → 7.50
    result = settlement_compute(partner=partner, minimum_payout=D("100"))
    assert (result.net, result.vat) == (D("250.13"), D("7.50"))


def test_below_the_minimum_or_negative_is_carried_and_zero_is_neither():
    def net_of(revenue, carried=()):
        partner = PartnerInput(
            partner_id=1,
            vat_rate=D("0.06"),
            regular={1: figures(revenue)} if revenue else {},
            regular_rules={1: PCT},
            carried=list(carried),
        )
        return settlement_compute(partner=partner, minimum_payout=D("100.00"))

    small = net_of("396.00")  # 99.00
    assert (small.net, small.carried_forward, small.vat, small.payable) == (D("99.00"), True, ZERO, ZERO)
    assert net_of("400.00").carried_forward is False  # exactly the minimum is paid
    negative = net_of("-40.00")
    assert (negative.net, negative.carried_forward) == (D("-10.00"), True)
    zero = net_of("0.00")
    assert (zero.net, zero.carried_forward, zero.payable) == (ZERO, False, ZERO)
    netted = net_of("400.00", [CarriedBalance(settlement_id=9, period=SEP, amount=D("-10.00"))])
    assert (netted.carried_in, netted.net, netted.carried_forward) == (D("-10.00"), D("90.00"), True)


def test_nothing_to_settle_gives_no_settlement():
    assert settlement_compute(partner=PartnerInput(partner_id=1, vat_rate=D("0.06")), minimum_payout=D(0)) is None


def test_adjustment_recomputes_the_corrected_period_and_subtracts_what_was_settled():
    partner = PartnerInput(
        partner_id=1,
        vat_rate=D("0.06"),
        adjustments={SEP: {1: figures("200.00")}},
        previous={SEP: {1: Settled(figures("900.00"), D("90.00"))}},
        adjustment_rules={SEP: {1: RETRO}},
        disputes=[DisputeAdjustment(dispute_id=4, disputed_period=SEP, amount=D("5.00"))],
    )
    result = settlement_compute(partner=partner, minimum_payout=D("0"))
    adjustment, dispute = result.lines
    assert (adjustment.kind, adjustment.corrects_period, adjustment.previous_share, adjustment.share) == (
        LineKind.ADJUSTMENT,
        SEP,
        D("90.00"),
        D("130.00"),  # 1 100 at 20% = 220.00 − 90.00
    )
    assert adjustment.figures == figures("200.00")
    assert (dispute.kind, dispute.dispute_id, dispute.share) == (LineKind.DISPUTE_RESOLUTION, 4, D("5.00"))
    assert (result.share_total, result.adjustment_total, result.net) == (ZERO, D("135.00"), D("135.00"))


def test_rules_in_words():
    assert rule_describe(None) == "No agreement in force: no share"
    assert rule_describe(ShareRule(kind="percentage", rate=D("0.012500"))) == "1.25% of bank revenue"
    assert rule_describe(ShareRule(kind="fixed_per_transaction", fixed_amount=D("1234.5"), cap=D("9000"))) == (
        "CNY 1,234.50 per transaction, cap CNY 9,000.00"
    )
    assert rule_describe(RETRO.rule) == (
        "Retroactive tiers on bank revenue of this product (0.00–1,000.00: 10%; 1,000.00–…: 20%)"
    )


money = st.integers(-500_000, 5_000_000).map(lambda fen: D(fen) / 100)


@given(
    revenues=st.lists(money, min_size=0, max_size=4),
    carried=st.lists(money, max_size=2),
    vat=st.sampled_from([D("0.06"), D("0.03"), D("0.01"), D("0")]),
    minimum=st.sampled_from([D("0"), D("100.00"), D("1000.00")]),
)
def test_totals_always_add_up(revenues, carried, vat, minimum):
    partner = PartnerInput(
        partner_id=1,
        vat_rate=vat,
        regular={i: figures(str(r)) for i, r in enumerate(revenues)},
        regular_rules={i: PCT for i in range(len(revenues))},
        carried=[CarriedBalance(settlement_id=i, period=SEP, amount=a) for i, a in enumerate(carried)],
    )
    result = settlement_compute(partner=partner, minimum_payout=minimum)
    if not revenues and not carried:
        assert result is None
        return
    assert all(line.share == round_money(line.share) for line in result.lines)
    assert result.net == sum((line.share for line in result.lines), ZERO)
    assert result.net == result.share_total + result.adjustment_total + result.carried_in
    if result.carried_forward:
        assert result.net < 0 or result.net < minimum
        assert result.vat == result.payable == ZERO
    else:
        assert result.vat == (round_money(result.net * vat) if result.net else ZERO)
        assert result.payable == (result.net + result.vat if result.net else ZERO)
        assert result.net >= 0
    # A share never exceeds the line's revenue (nor goes below zero for positive revenue).
    for line in result.lines:
        if line.kind == LineKind.PRODUCT:
            low, high = sorted((ZERO, line.figures.bank_revenue))
            assert low <= line.share <= high
