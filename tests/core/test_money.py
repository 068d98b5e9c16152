from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import allocate, round_money

money = st.decimals(min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=2)
weights = st.lists(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1"), places=4), min_size=1, max_size=6)


@pytest.mark.parametrize(
    ("raw", "rounded"),
    [
        ("0.005", "0.01"),
        ("0.015", "0.02"),
        ("0.025", "0.03"),
        ("-0.005", "-0.01"),
        ("1.234", "1.23"),
        ("-2.345", "-2.35"),
    ],
)
def test_round_money_is_half_away_from_zero(raw, rounded):
    assert round_money(Decimal(raw)) == Decimal(rounded)


def test_round_money_refuses_float():
    with pytest.raises(TypeError):
        round_money(0.1)


def test_allocate_hand_computed():
    # 1.00 split in thirds: 0.33 each and the leftover fen to the first (ties go to the earlier weight).
    assert allocate(Decimal("1.00"), [Decimal(1), Decimal(1), Decimal(1)]) == [
        Decimal("0.34"),
        Decimal("0.33"),
        Decimal("0.33"),
    ]
    assert allocate(Decimal("-0.05"), [Decimal("0.7"), Decimal("0.3")]) == [Decimal("-0.04"), Decimal("-0.01")]


@given(money, weights)
def test_allocate_parts_add_back_exactly(total, ws):
    parts = allocate(total, ws)
    assert sum(parts, Decimal(0)) == total
    assert len(parts) == len(ws)
    # no part strays more than a fen from its exact share
    weight_sum = sum(ws)
    for part, w in zip(parts, ws, strict=True):
        assert abs(part - total * w / weight_sum) < Decimal("0.01")
