"""Numbers as printed on documents: exact Decimal formatting, never through float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from core.money import CENT


def _require_decimal(value: object) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"expected Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"cannot print {value}")
    return value


def format_money(amount: Decimal, *, symbol: str = "") -> str:
    """``Decimal("-1234.5")`` → ``"-1,234.50"`` (``"-¥1,234.50"`` with ``symbol="¥"``).

    Amounts on documents are already rounded to the fen by the business logic;
    an amount with a non-zero third decimal is a bug upstream, so it is refused
    rather than rounded a second time here.
    """
    amount = _require_decimal(amount)
    fen = amount.quantize(CENT)
    if fen != amount:
        raise ValueError(f"{amount} is not a whole number of fen; round it with core.money.round_money first")
    sign = "-" if fen < 0 else ""  # also turns -0.00 into 0.00
    return f"{sign}{symbol}{abs(fen):,.2f}"


def format_percent(ratio: Decimal, *, places: int = 2) -> str:
    """A ratio as a percentage: ``Decimal("0.125")`` → ``"12.50%"`` (half away from zero)."""
    ratio = _require_decimal(ratio)
    exponent = Decimal(1).scaleb(-places)
    pct = (ratio * 100).quantize(exponent, rounding=ROUND_HALF_UP)
    if pct == 0:
        pct = abs(pct)
    return f"{pct:,.{places}f}%"


def format_count(count: int) -> str:
    """``12345`` → ``"12,345"``."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError(f"expected int, got {type(count).__name__}")
    return f"{count:,}"
