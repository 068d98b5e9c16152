"""Money: Decimal yuan with two places (fen) and one rounding rule.

The rounding rule, everywhere in the product: **round half away from zero to
the fen** (``ROUND_HALF_UP`` in Python's decimal module, which is what
PostgreSQL's ``round(numeric)`` does). Python's default ``quantize`` rounds
half to even and SQLite sums decimals as floating point, so neither is ever
relied upon: amounts are rounded by :func:`round_money` and summed in the
database by :class:`MoneySum`, which is exact on both PostgreSQL and SQLite.

Rounding happens once, at a documented boundary (a settlement line's share),
and splits use :func:`allocate` so that the parts add back exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.db.models import DecimalField, Sum

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# 13 digits of yuan and 2 of fen: SQLite keeps a decimal column as a double and Django reads it back to
# 15 significant digits, so this is the largest amount both databases hold exactly. Every amount the
# product accepts (files, API, admin forms) is limited to it.
MONEY_MAX_DIGITS = 15
MONEY_DECIMAL_PLACES = 2
LARGEST_AMOUNT = Decimal("9" * (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES) + "." + "9" * MONEY_DECIMAL_PLACES)


def money_field(verbose_name=None, **kwargs) -> DecimalField:
    """A model field for an amount of yuan with fen precision."""
    kwargs.setdefault("max_digits", MONEY_MAX_DIGITS)
    kwargs.setdefault("decimal_places", MONEY_DECIMAL_PLACES)
    return DecimalField(verbose_name, **kwargs)


def round_money(amount: Decimal) -> Decimal:
    """Round to the fen, half away from zero (the product's one rounding rule)."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, got {type(amount).__name__}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def to_fen(amount: Decimal) -> int:
    """Yuan to integer fen; the amount must already be a whole number of fen."""
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{amount} has more than two decimal places")
    return int(fen)


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(CENT)


def allocate(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split ``total`` by ``weights`` so that the parts add back to ``total`` exactly.

    Largest-remainder method on whole fen: each part gets the floor of its exact
    share, and the fen left over go one each to the largest remainders (ties to
    the earlier weight, so the result is deterministic). Works for negative
    totals (reversals) by splitting the magnitude and restoring the sign.
    """
    if not weights:
        raise ValueError("allocate needs at least one weight")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    weight_sum = sum(weights, Decimal(0))
    if weight_sum <= 0:
        raise ValueError("weights must add up to more than zero")
    sign = -1 if total < 0 else 1
    total_fen = to_fen(abs(total))
    exact = [Decimal(total_fen) * w / weight_sum for w in weights]
    floors = [int(e.to_integral_value(rounding=ROUND_DOWN)) for e in exact]
    leftover = total_fen - sum(floors)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in by_remainder[:leftover]:
        floors[i] += 1
    return [from_fen(sign * f) for f in floors]


def _fen_to_yuan(value, expression, connection):
    return None if value is None else (Decimal(value) / 100).quantize(CENT)


class MoneySum(Sum):
    """``SUM`` of a money column, exact to the fen on every database.

    PostgreSQL sums ``numeric`` exactly. SQLite stores decimals as floating
    point and sums them as such, so there the sum is taken over integer fen
    (``CAST(ROUND(x * 100) AS INTEGER)``) and converted back to Decimal.
    """

    output_field = DecimalField(max_digits=MONEY_MAX_DIGITS + 4, decimal_places=MONEY_DECIMAL_PLACES)

    sqlite_template = "%(function)s(%(distinct)sCAST(ROUND(%(expressions)s * 100) AS INTEGER))"

    def as_sqlite(self, compiler, connection, **extra_context):
        # Swap the template on a copy rather than passing ``template=``: Aggregate.as_sql
        # passes its own template alongside extra_context when a FILTER clause is used.
        clone = self.copy()
        clone.template = self.sqlite_template
        return super(MoneySum, clone).as_sql(compiler, connection, **extra_context)

    def get_db_converters(self, connection):
        if connection.vendor == "sqlite":
            # The integer fen sum must not go through the decimal converter first.
            return [_fen_to_yuan]
        return super().get_db_converters(connection)
