"""Verification codes printed on documents: round trip, tampering, key rotation, canonical data."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.pdf import canonical_json, normalize_code, verification_code, verify_code

PURPOSE = "statements.statement"


def statement_data(**changes) -> dict:
    data = {
        "partner": {"name": "深圳前海云链数字科技有限公司", "uscc": "91440300MA5DXXXX1X"},
        "period": "2026-10",
        "lines": [
            {"product": "线上收单", "revenue": Decimal("1000.00"), "share": Decimal("125.00")},
            {"product": "跨境支付", "revenue": Decimal("200.00"), "share": Decimal("30.00")},
        ],
        "total": Decimal("155.00"),
        "issued_at": dt.datetime(2026, 11, 1, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
    }
    data.update(changes)
    return data


def test_code_is_readable_and_verifies():
    code = verification_code(statement_data(), purpose=PURPOSE)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", code)
    assert verify_code(statement_data(), code, purpose=PURPOSE)
    # As a person might type it.
    assert verify_code(statement_data(), code.lower().replace("-", " "), purpose=PURPOSE)


@pytest.mark.parametrize(
    "changes",
    [
        {"total": Decimal("155.01")},
        {"period": "2026-09"},
        {"partner": {"name": "深圳前海云链数字科技有限公司 ", "uscc": "91440300MA5DXXXX1X"}},
        {"lines": [{"product": "线上收单", "revenue": Decimal("1000.00"), "share": Decimal("125.00")}]},
    ],
)
def test_tampered_data_does_not_verify(changes):
    code = verification_code(statement_data(), purpose=PURPOSE)
    assert not verify_code(statement_data(**changes), code, purpose=PURPOSE)


def test_code_is_bound_to_purpose_and_key(settings):
    code = verification_code(statement_data(), purpose=PURPOSE)
    assert not verify_code(statement_data(), code, purpose="performance.scorecard")
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    settings.SECRET_KEY_FALLBACKS = []
    assert not verify_code(statement_data(), code, purpose=PURPOSE)


def test_rotated_key_still_verifies_old_codes(settings):
    old_code = verification_code(statement_data(), purpose=PURPOSE)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "rotated-secret-key-" + "y" * 40
    assert verification_code(statement_data(), purpose=PURPOSE) != old_code
    assert verify_code(statement_data(), old_code, purpose=PURPOSE)


def test_a_flipped_character_does_not_verify():
    code = verification_code(statement_data(), purpose=PURPOSE)
    flipped = ("1" if code[0] != "1" else "2") + code[1:]
    assert not verify_code(statement_data(), flipped, purpose=PURPOSE)


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("abcd-efgh-jkmn-pqrs", "ABCD-EFGH-JKMN-PQRS"),
        ("ABCDEFGHJKMNPQRS", "ABCD-EFGH-JKMN-PQRS"),
        (" o1il 0000 1111 2222 ", "0111-0000-1111-2222"),
        ("ABCD-EFGH-JKMN-PQR", None),
        ("ABCD-EFGH-JKMN-PQRU", None),  # U is not in the alphabet
        ("", None),
        (None, None),
    ],
)
def test_normalize_code(typed, normalized):
    assert normalize_code(typed) == normalized


def test_canonical_json_is_order_and_zone_independent():
    shanghai = statement_data()
    utc = statement_data(issued_at=dt.datetime(2026, 11, 1, 1, 30, tzinfo=dt.UTC))
    reordered = dict(reversed(list(shanghai.items())))
    assert canonical_json(shanghai) == canonical_json(utc) == canonical_json(reordered)
    assert canonical_json({"b": Decimal("1.50"), "a": "深圳"}) == '{"a":"深圳","b":"1.50"}'.encode()


@pytest.mark.parametrize(
    "bad",
    [
        {"total": 155.0},
        {"issued_at": dt.datetime(2026, 11, 1)},
        {"x": {1: "non-str key"}},
        {"x": {"a", "set"}},
        {"total": Decimal("Infinity")},
    ],
)
def test_canonical_json_refuses_ambiguous_data(bad):
    with pytest.raises((TypeError, ValueError)):
        canonical_json(bad)
