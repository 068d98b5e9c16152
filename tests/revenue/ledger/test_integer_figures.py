"""Every attribution carries its figures as integers (migration 0012), computed by the database from the decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from revenue.ledger.models import TransactionAttribution
from revenue.ledger.services import transactions_ingest
from tests.revenue.factories import reversal_row, txn_row

pytestmark = pytest.mark.django_db

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999999.99"), places=2)
weights = st.integers(min_value=1, max_value=999_999).map(lambda n: Decimal(n).scaleb(-6))


def _integers_match_decimals() -> int:
    rows = TransactionAttribution.objects.values_list(
        "is_reversal", "weight", "amount", "bank_revenue", "amount_fen", "bank_revenue_fen", "net_count_micro"
    )
    for is_reversal, weight, amount, revenue, amount_fen, revenue_fen, net_micro in rows:
        assert amount_fen == int(amount.scaleb(2))
        assert revenue_fen == int(revenue.scaleb(2))
        assert net_micro == (-1 if is_reversal else 1) * int(weight.scaleb(6))
    return len(rows)


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=amounts, revenue=amounts, weight=weights, data=st.data())
def test_integer_figures_are_the_decimals_exactly(pay, active_x, active_y, amount, revenue, weight, data):
    """Fen and millionths equal the decimal columns for any amount, any co-served split and reversals."""
    number = TransactionAttribution.objects.count()
    code = f"{active_x.credit_code}:{weight};{active_y.credit_code}:{1 - weight}"
    rows = [txn_row(code, f"I-{number}", amount=str(amount), bank_revenue=str(min(revenue, amount)))]
    if data.draw(st.booleans(), label="reversed"):
        rows.append(reversal_row(f"R-{number}", f"I-{number}"))
    transactions_ingest(rows=rows, source="payments", by=None)
    assert _integers_match_decimals() == number + 2 * len(rows)
    assert TransactionAttribution.objects.filter(net_count_micro__lt=0).count() == (
        TransactionAttribution.objects.filter(is_reversal=True).count()
    )


@pytest.mark.postgres
@hypothesis_settings(max_examples=30, deadline=None)
@given(values=st.lists(st.integers(min_value=-(2**56), max_value=2**56), min_size=1, max_size=40))
def test_the_integer_sum_is_exact_and_fails_on_overflow(values):
    """ledger_int_sum (see the ledger migrations) equals Python's sum, and refuses a total beyond a bigint."""
    from django.db import DataError, connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL aggregate; SQLite sums integers exactly itself")
    rows = ", ".join(["(%s::bigint)"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ledger_int_sum(v), sum(v) FROM (VALUES {rows}) t(v)", values)
        total, builtin = cursor.fetchone()
    assert total == builtin == sum(values)
    with pytest.raises(DataError, match="out of range"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT ledger_int_sum(v) FROM (VALUES (%s::bigint), (%s::bigint)) t(v)", [2**63 - 1, 1])
