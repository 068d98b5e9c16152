"""Amounts in Chinese capitals: a hand-written table, and a round trip through an independent reader."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import LARGEST_AMOUNT
from core.money_words import amount_in_capitals

TABLE = [
    ("1234567.89", "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
    ("100.00", "壹佰元整"),
    ("0.05", "伍分"),
    ("0.50", "伍角"),
    ("0.15", "壹角伍分"),
    ("0.00", "零元整"),
    ("1.00", "壹元整"),
    ("10.00", "壹拾元整"),
    ("15.00", "壹拾伍元整"),
    ("100.10", "壹佰元壹角"),
    ("1010.10", "壹仟零壹拾元壹角"),
    ("1011.10", "壹仟零壹拾壹元壹角"),
    ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
    ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
    ("107000.53", "壹拾万零柒仟元伍角叁分"),
    ("325.04", "叁佰贰拾伍元零肆分"),
    ("100000.00", "壹拾万元整"),
    ("1000001.00", "壹佰万零壹元整"),
    ("1001000.00", "壹佰万零壹仟元整"),
    ("10000000.00", "壹仟万元整"),
    ("100000000.00", "壹亿元整"),
    ("100010000.00", "壹亿零壹万元整"),
    ("110000000.00", "壹亿壹仟万元整"),
    ("1000000000000.00", "壹万亿元整"),
    ("1000100000000.00", "壹万零壹亿元整"),
    ("6003.60", "陆仟零叁元陆角"),
    (
        "9999999999999.99",
        "玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分",
    ),
    ("-12.00", "负壹拾贰元整"),
    ("-0.01", "负壹分"),
]


@pytest.mark.parametrize(("amount", "words"), TABLE)
def test_hand_written_table(amount, words):
    assert amount_in_capitals(Decimal(amount)) == words


def test_largest_amount_is_the_schema_limit():
    assert amount_in_capitals(LARGEST_AMOUNT).startswith("玖万玖仟")
    with pytest.raises(ValueError):
        amount_in_capitals(LARGEST_AMOUNT + Decimal("0.01"))


def test_refuses_float_and_fractions_of_a_fen():
    with pytest.raises(TypeError):
        amount_in_capitals(1.5)
    with pytest.raises(ValueError):
        amount_in_capitals(Decimal("1.005"))


# ---- an independent reader: capitals back to fen ------------------------------------------------

_DIGIT = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
_SMALL = {"拾": 10, "佰": 100, "仟": 1000}


def read_capitals(words: str) -> int:
    """Fen from capitals, by accumulation (a different algorithm from the writer's)."""
    sign = -1 if words.startswith("负") else 1
    words = words.removeprefix("负").removesuffix("整")
    total = section = number = 0
    fen = 0
    for ch in words:
        if ch in _DIGIT:
            number = _DIGIT[ch]
        elif ch in _SMALL:
            section += number * _SMALL[ch]
            number = 0
        elif ch == "万":
            section = (section + number) * 10**4
            number = 0
        elif ch == "亿":
            total = (total + section + number) * 10**8
            section = number = 0
        elif ch == "元":
            fen += (total + section + number) * 100
            total = section = number = 0
        elif ch == "角":
            fen += number * 10
            number = 0
        elif ch == "分":
            fen += number
            number = 0
        else:
            raise AssertionError(f"unexpected {ch!r} in {words!r}")
    assert number == 0, words
    return sign * fen


amounts = st.integers(min_value=-int(LARGEST_AMOUNT * 100), max_value=int(LARGEST_AMOUNT * 100)).map(
    lambda fen: (Decimal(fen) / 100).quantize(Decimal("0.01"))
)


@given(amounts)
def test_round_trip(amount):
    assert read_capitals(amount_in_capitals(amount)) == int(amount * 100)


@given(amounts)
def test_structure(amount):
    words = amount_in_capitals(amount)
    body = words.removeprefix("负")
    assert words.startswith("负") == (amount < 0)
    assert "零零" not in body
    assert not body.startswith("零") or body == "零元整"
    # 整 only straight after 元, and only at the end.
    assert body.endswith(("元整", "角", "分"))
    assert body.count("整") == (1 if body.endswith("整") else 0)
    # A ten is always 壹拾, never a bare 拾.
    assert all(body[i - 1] in _DIGIT for i, ch in enumerate(body) if ch == "拾")
    # 元 appears exactly when there are whole yuan (or nothing at all).
    assert ("元" in body) == (abs(amount) >= 1 or amount == 0)
