"""The pure share computation: hand-computed examples per rule kind, and properties that hold for any input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.money import round_money
from revenue.calculations import (
    LineFigures,
    ShareRule,
    TierBracket,
    figures_total,
    partner_share_amounts,
    partner_shares_compute,
    share_compute,
    split_exact,
    tier_brackets_problems,
    weights_problems,
)
from revenue.ledger.choices import RuleKind, TierBasis

D = Decimal
# [0, 100 000) at 10%, [100 000, 500 000) at 20%, from 500 000 at 30%.
SLABS = (
    TierBracket(D("0"), D("100000"), D("0.10")),
    TierBracket(D("100000"), D("500000"), D("0.20")),
    TierBracket(D("500000"), None, D("0.30")),
)


def pct(rate, **kw) -> ShareRule:
    return ShareRule(kind=RuleKind.PERCENTAGE, rate=D(rate), **kw)


def tiered(kind, basis=TierBasis.PRODUCT_VOLUME, tiers=SLABS, **kw) -> ShareRule:
    return ShareRule(kind=kind, tier_basis=basis, tiers=tiers, **kw)


def share(rule, revenue, volume="0", count="0", totals=None) -> Decimal:
    return share_compute(rule=rule, figures=LineFigures(D(revenue), D(volume), D(count)), totals=totals).share


# ---- percentage -------------------------------------------------------------------------


def test_percentage_of_bank_revenue():
    assert share(pct("0.3"), "1234.56") == D("370.37")  # 370.368


def test_rounding_is_half_away_from_zero_to_the_fen_once_per_line():
    assert share(pct("0.5"), "0.05") == D("0.03")  # 0.025: half-even would give 0.02
    assert share(pct("0.5"), "-0.05") == D("-0.03")
    assert share(pct("0.25"), "10.01") == D("2.50")  # 2.5025
    line = share_compute(rule=pct("0.333333"), figures=LineFigures(D("100.00")))
    assert line.unrounded == D("33.3333000") and line.share == D("33.33")


# ---- fixed amount per transaction ---------------------------------------------------------


def test_fixed_amount_per_transaction():
    rule = ShareRule(kind=RuleKind.FIXED_PER_TRANSACTION, fixed_amount=D("1.50"))
    assert share(rule, revenue="500.00", count="37") == D("55.50")
    # Co-served events count their weight; a reversal takes its weight back.
    assert share(rule, revenue="500.00", count="2.5") == D("3.75")
    assert share(rule, revenue="500.00", count="1.333333") == D("2.00")  # 1.9999995


def test_a_fixed_amount_is_limited_to_the_revenue():
    rule = ShareRule(kind=RuleKind.FIXED_PER_TRANSACTION, fixed_amount=D("2.00"))
    line = share_compute(rule=rule, figures=LineFigures(D("50.00"), count=D("37")))
    assert (line.share, line.limited_to_revenue) == (D("50.00"), True)
    assert share(rule, revenue="0.00", count="10") == D("0.00")


# ---- tiered, progressive --------------------------------------------------------------------


def test_progressive_each_slab_at_its_own_rate():
    # 100 000 × 10% + 50 000 × 20% = 20 000 of 150 000 → 13.33…%, on 900.00 of revenue = 120.00
    line = share_compute(rule=tiered(RuleKind.TIERED_PROGRESSIVE), figures=LineFigures(D("900.00"), D("150000")))
    assert line.share == D("120.00")
    assert line.basis == D("150000")
    assert round(line.effective_rate, 6) == D("0.133333")


def test_progressive_with_the_products_own_revenue_is_marginal():
    slabs = (TierBracket(D("0"), D("1000"), D("0.20")), TierBracket(D("1000"), None, D("0.30")))
    rule = tiered(RuleKind.TIERED_PROGRESSIVE, TierBasis.PRODUCT_REVENUE, slabs)
    assert share(rule, "1500.00") == D("350.00")  # 1000 × 20% + 500 × 30%
    assert share(rule, "1000.00") == D("200.00")
    assert share(rule, "999.99") == D("200.00")  # 199.998


def test_progressive_at_the_slab_boundaries():
    rule = tiered(RuleKind.TIERED_PROGRESSIVE)
    assert share(rule, "1000.00", volume="100000") == D("100.00")  # exactly the first slab: 10%
    assert share(rule, "1000.00", volume="100000.01") == D("100.00")  # 100.0000099…
    assert share(rule, "1000.00", volume="500000") == D("180.00")  # (10 000 + 80 000) / 500 000 = 18%
    assert share(rule, "1000.00", volume="1000000") == D("240.00")  # (10 000 + 80 000 + 150 000) / 1 000 000


def test_a_basis_of_zero_or_less_takes_the_first_slab():
    rule = tiered(RuleKind.TIERED_PROGRESSIVE)
    assert share(rule, "100.00", volume="0") == D("10.00")
    assert share(rule, "-100.00", volume="-5000") == D("-10.00")


# ---- tiered, retroactive ------------------------------------------------------------------


def test_retroactive_the_whole_figure_at_the_rate_of_the_slab_reached():
    rule = tiered(RuleKind.TIERED_RETROACTIVE)
    assert share(rule, "900.00", volume="150000") == D("180.00")
    assert share(rule, "900.00", volume="99999.99") == D("90.00")
    assert share(rule, "900.00", volume="100000") == D("180.00")  # a slab starts at its lower bound
    assert share(rule, "900.00", volume="500000") == D("270.00")


def test_the_basis_across_all_products():
    rule = tiered(RuleKind.TIERED_RETROACTIVE, TierBasis.TOTAL_VOLUME)
    figures = {
        "PAY": LineFigures(D("400.00"), D("80000"), D("10")),
        "LOAN": LineFigures(D("300.00"), D("40000"), D("2")),
    }
    lines = partner_shares_compute(rules={"PAY": rule, "LOAN": rule}, figures=figures)
    # 120 000 together reaches the 20% slab; each alone would stay at 10%.
    assert {k: v.share for k, v in lines.items()} == {"PAY": D("80.00"), "LOAN": D("60.00")}
    alone = tiered(RuleKind.TIERED_RETROACTIVE, TierBasis.PRODUCT_VOLUME)
    lines = partner_shares_compute(rules={"PAY": alone, "LOAN": alone}, figures=figures)
    assert {k: v.share for k, v in lines.items()} == {"PAY": D("40.00"), "LOAN": D("30.00")}


def test_a_product_without_rule_earns_nothing_but_counts_towards_the_total_basis():
    rule = tiered(
        RuleKind.TIERED_RETROACTIVE,
        TierBasis.TOTAL_REVENUE,
        (
            TierBracket(D("0"), D("1000"), D("0.10")),
            TierBracket(D("1000"), None, D("0.50")),
        ),
    )
    figures = {"PAY": LineFigures(D("600.00")), "WEALTH": LineFigures(D("500.00"))}
    lines = partner_shares_compute(rules={"PAY": rule}, figures=figures)
    assert lines["PAY"].share == D("300.00")  # 1 100 across products reaches 50%
    assert lines["WEALTH"].share == D("0.00") and lines["WEALTH"].rule is None


# ---- floor and cap --------------------------------------------------------------------------


def test_a_floor_lifts_a_line_with_revenue():
    line = share_compute(rule=pct("0.10", floor=D("20.00")), figures=LineFigures(D("50.00")))
    assert (line.share, line.floor_applied) == (D("20.00"), True)
    assert share(pct("0.10", floor=D("20.00")), "500.00") == D("50.00")  # above the floor already
    assert share(pct("0.10", floor=D("20.00")), "0.00") == D("0.00")  # no business, no floor
    assert share(pct("0.10", floor=D("20.00")), "-50.00") == D("-5.00")


def test_a_floor_above_the_revenue_is_limited_to_the_revenue():
    line = share_compute(rule=pct("0.10", floor=D("80.00")), figures=LineFigures(D("50.00")))
    assert (line.share, line.floor_applied, line.limited_to_revenue) == (D("50.00"), True, True)


def test_a_cap_limits_the_period_share():
    line = share_compute(rule=pct("0.30", cap=D("2500.00")), figures=LineFigures(D("10000.00")))
    assert (line.share, line.cap_applied) == (D("2500.00"), True)
    assert share(pct("0.30", cap=D("2500.00")), "8000.00") == D("2400.00")
    rule = tiered(RuleKind.TIERED_RETROACTIVE, floor=D("100.00"), cap=D("150.00"))
    assert share(rule, "900.00", volume="150000") == D("150.00")
    assert share(rule, "900.00", volume="1000") == D("100.00")


def test_no_rule_no_share():
    assert share(None, "1000.00") == D("0.00")


def test_net_reversals_claw_back_at_the_rule():
    assert share(pct("0.30"), "-100.00") == D("-30.00")
    fixed = ShareRule(kind=RuleKind.FIXED_PER_TRANSACTION, fixed_amount=D("1.00"))
    assert share(fixed, "-20.00", count="-3") == D("-3.00")


# ---- tier brackets ----------------------------------------------------------------------------


def test_sound_brackets_have_no_problems():
    assert tier_brackets_problems(SLABS) == []
    assert tier_brackets_problems(list(reversed(SLABS))) == []  # order given does not matter


@pytest.mark.parametrize(
    ("brackets", "fragment"),
    [
        ([], "at least one"),
        ([TierBracket(D("10"), None, D("0.1"))], "start at 0"),
        ([TierBracket(D("0"), D("100"), D("0.1")), TierBracket(D("150"), None, D("0.2"))], "Gap"),
        ([TierBracket(D("0"), D("100"), D("0.1")), TierBracket(D("50"), None, D("0.2"))], "overlap"),
        ([TierBracket(D("0"), None, D("0.1")), TierBracket(D("100"), None, D("0.2"))], "Only the last"),
        ([TierBracket(D("0"), D("100"), D("0.1"))], "open-ended"),
        ([TierBracket(D("0"), D("0"), D("0.1")), TierBracket(D("0"), None, D("0.1"))], "end above"),
        ([TierBracket(D("0"), None, D("1.5"))], "between 0 and 1"),
    ],
)
def test_unsound_brackets_are_named(brackets, fragment):
    problems = tier_brackets_problems(brackets)
    assert any(fragment in p for p in problems), problems


def test_weights_must_add_up_to_exactly_one():
    assert weights_problems([D("0.6"), D("0.4")]) == []
    assert weights_problems([D("0.333333"), D("0.333333"), D("0.333333")])
    assert weights_problems([D("0"), D("1")])
    assert weights_problems([])


# ---- properties ---------------------------------------------------------------------------------

fen = st.integers(min_value=-(10**11), max_value=10**11).map(lambda f: D(f) / 100)
positive_fen = st.integers(min_value=0, max_value=10**11).map(lambda f: D(f) / 100)
rates = st.integers(min_value=0, max_value=10**6).map(lambda r: D(r) / 10**6)
weights_strategy = st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=6)


@st.composite
def slab_sets(draw):
    bounds = sorted(draw(st.sets(st.integers(min_value=1, max_value=10**9), max_size=5)))
    lowers = [0, *bounds]
    uppers = [*bounds, None]
    return tuple(
        TierBracket(D(lo), None if hi is None else D(hi), draw(rates)) for lo, hi in zip(lowers, uppers, strict=True)
    )


@st.composite
def any_rule(draw):
    kind = draw(st.sampled_from(list(RuleKind)))
    floor = draw(st.none() | positive_fen)
    cap = draw(st.none() | positive_fen)
    if floor is not None and cap is not None and cap < floor:
        floor, cap = cap, floor
    if kind == RuleKind.PERCENTAGE:
        return ShareRule(kind=kind, rate=draw(rates), floor=floor, cap=cap)
    if kind == RuleKind.FIXED_PER_TRANSACTION:
        return ShareRule(kind=kind, fixed_amount=draw(positive_fen), floor=floor, cap=cap)
    return ShareRule(
        kind=kind, tier_basis=draw(st.sampled_from(list(TierBasis))), tiers=draw(slab_sets()), floor=floor, cap=cap
    )


@given(revenue=positive_fen, rate=rates)
def test_a_percentage_share_is_the_rounded_rate_of_the_revenue_and_never_more(revenue, rate):
    result = share(ShareRule(kind=RuleKind.PERCENTAGE, rate=rate), revenue)
    assert result == round_money(revenue * rate)
    assert D(0) <= result <= revenue


@given(rule=any_rule(), revenue=fen, volume=fen, count=st.integers(-1000, 10**6).map(D), other=fen)
def test_any_share_lies_between_zero_and_the_revenue(rule, revenue, volume, count, other):
    totals = LineFigures(revenue + other, volume + other, count)
    result = share(rule, revenue, volume, count, totals=totals)
    assert result == result.quantize(D("0.01"))
    low, high = sorted([D(0), revenue])
    assert low <= result <= high


@given(tiers=slab_sets(), revenue=positive_fen, basis=positive_fen)
def test_with_rising_rates_progressive_never_pays_more_than_retroactive(tiers, revenue, basis):
    rising = tuple(TierBracket(t.lower, t.upper, r) for t, r in zip(tiers, sorted(t.rate for t in tiers), strict=True))
    figures = LineFigures(revenue, basis)
    progressive = share_compute(rule=tiered(RuleKind.TIERED_PROGRESSIVE, tiers=rising), figures=figures)
    retroactive = share_compute(rule=tiered(RuleKind.TIERED_RETROACTIVE, tiers=rising), figures=figures)
    assert progressive.unrounded <= retroactive.unrounded


@given(total=fen, raw_weights=weights_strategy)
def test_co_served_splits_add_back_exactly(total, raw_weights):
    weights = [D(w) / sum(raw_weights) for w in raw_weights]
    parts = split_exact(total, weights)
    assert sum(parts) == total
    assert all(p == p.quantize(D("0.01")) for p in parts)
    # Each part is within a fen of its exact share, on the same side of zero as the total.
    assert all(abs(p - total * w) < D("0.01") for p, w in zip(parts, weights, strict=True))
    assert all((p >= 0) if total >= 0 else (p <= 0) for p in parts)
    # A reversal's split is the mirror of its original's.
    assert split_exact(-total, weights) == [-p for p in parts]


@given(revenue=positive_fen, raw_weights=weights_strategy, rate=rates)
def test_shares_of_co_served_revenue_never_exceed_the_whole(revenue, raw_weights, rate):
    weights = [D(w) / sum(raw_weights) for w in raw_weights]
    parts = split_exact(revenue, weights)
    shares = [share(pct(rate), part) for part in parts]
    assert sum(shares) <= revenue
    assert all(s <= p for s, p in zip(shares, parts, strict=True))


line_figures = st.builds(LineFigures, fen, fen, st.integers(-1000, 10**6).map(D))


@settings(max_examples=300)
@given(rules=st.lists(st.none() | any_rule(), max_size=4), figures=st.lists(line_figures, min_size=1, max_size=4))
def test_a_partners_shares_are_each_line_under_its_rule_with_the_totals_of_all_products(rules, figures):
    products = dict(enumerate(figures))
    # Fewer rules than products, or None: those products earn nothing but count towards the totals.
    rule_of = {key: rule for key, rule in enumerate(rules) if rule is not None}
    totals = figures_total(products) if len(products) > 1 else None
    expected = {k: share_compute(rule=rule_of.get(k), figures=line, totals=totals) for k, line in products.items()}
    assert partner_shares_compute(rules=rule_of, figures=products) == expected
    amounts = partner_share_amounts(rules=rule_of, figures=products)
    # To the digit: the same Decimal, not merely an equal one.
    assert {key: (str(share), str(rate)) for key, (share, rate) in amounts.items()} == {
        key: (str(line.share), str(line.effective_rate)) for key, line in expected.items()
    }
