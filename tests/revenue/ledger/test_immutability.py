"""Booked rows cannot be changed or deleted: not through the ORM, a queryset, the admin, nor (on PostgreSQL) SQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from revenue.ledger.errors import ImmutableRecord
from revenue.ledger.models import Transaction, TransactionAttribution
from revenue.ledger.services import transactions_ingest
from tests.revenue.factories import txn_row


@pytest.fixture
def booked(pay, active_x):
    transactions_ingest(rows=[txn_row(active_x, "B-1")], source="payments", by=None)
    return Transaction.objects.get(external_id="B-1")


def test_the_orm_refuses_to_save_or_delete_a_booked_row(booked):
    booked.amount = Decimal("1.00")
    with pytest.raises(ImmutableRecord):
        booked.save()
    with pytest.raises(ImmutableRecord):
        booked.delete()
    attribution = booked.attributions.get()
    attribution.weight = Decimal("0.5")
    with pytest.raises(ImmutableRecord):
        attribution.save()
    with pytest.raises(ImmutableRecord):
        attribution.delete()
    assert Transaction.objects.get(pk=booked.pk).amount == Decimal("1000.00")


def test_querysets_refuse_bulk_updates_and_deletes(booked):
    for qs in (Transaction.objects.all(), TransactionAttribution.objects.filter(transaction=booked)):
        with pytest.raises(ImmutableRecord):
            qs.update(amount=0)
        with pytest.raises(ImmutableRecord):
            qs.delete()
    with pytest.raises(ImmutableRecord):
        Transaction.objects.update(amount=0)
    with pytest.raises(ImmutableRecord):
        Transaction.objects.bulk_update([booked], ["amount"])
    assert Transaction.objects.count() == 1 and TransactionAttribution.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_transaction SET amount = 0",
        "DELETE FROM ledger_transaction",
        "UPDATE ledger_transactionattribution SET weight = 0.5",
        "DELETE FROM ledger_transactionattribution",
        "UPDATE ledger_transaction SET sme_name = 'x' WHERE id = -1",  # even when nothing matches
    ],
)
def test_plain_sql_cannot_change_the_ledger(booked, statement):
    """A trigger refuses, on PostgreSQL per statement and on SQLite per row."""
    if connection.vendor != "postgresql" and "id = -1" in statement:
        pytest.skip("SQLite's triggers are per row: a statement that matches nothing changes nothing anyway")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert Transaction.objects.get(pk=booked.pk).amount == Decimal("1000.00")


@pytest.mark.postgres
def test_the_database_checks_what_is_inserted_on_postgres(booked, pay, active_x):
    """References are foreign keys; set-based checks after each INSERT: attributions add back, reversals mirror."""
    if connection.vendor != "postgresql":
        pytest.skip("the insert checks are PostgreSQL triggers")

    def insert_txn(**overrides):
        values = {
            "batch_id": booked.batch_id,
            "source": "payments",
            "external_id": "X",
            "kind": "normal",
            "sme_id": "S",
            "sme_name": "",
            "product_id": pay.pk,
            "branch_id": booked.branch_id,
            "amount": Decimal("10.00"),
            "bank_revenue": Decimal("1.00"),
            "currency": "CNY",
            "occurred_at": booked.occurred_at,
            "booked_at": booked.booked_at,
            "partner_active": True,
            "content_hash": booked.content_hash,
            **overrides,
        }
        columns = ", ".join(values)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # foreign keys are checked at commit otherwise
            cursor.execute(
                f"INSERT INTO ledger_transaction ({columns}) VALUES ({', '.join(['%s'] * len(values))}) RETURNING id",
                list(values.values()),
            )
            return cursor.fetchone()[0]

    with pytest.raises(IntegrityError, match="ledger_product"):
        insert_txn(product_id=-1)
    with pytest.raises(IntegrityError, match="organisation_branch"):
        insert_txn(branch_id=-1)
    with pytest.raises(IntegrityError, match="ledger_sourcesystem"):
        insert_txn(source="unregistered")
    with pytest.raises(IntegrityError, match="mirror"):
        insert_txn(kind="reversal", reverses_id=booked.pk, amount=Decimal("-999.00"), bank_revenue=Decimal("-6.00"))

    def insert_attributions(rows):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.executemany(
                "INSERT INTO ledger_transactionattribution (transaction_id, partner_id, product_id, occurred_at,"
                " is_reversal, weight, amount, bank_revenue, partner_active)"
                " VALUES (%s, %s, %s, %s, false, %s, %s, %s, true)",
                rows,
            )

    with transaction.atomic():
        txn_id = insert_txn()
        with pytest.raises(IntegrityError, match="attributions must match"):
            insert_attributions(
                [(txn_id, active_x.pk, pay.pk, booked.occurred_at, Decimal("0.5"), Decimal("10"), Decimal("1"))]
            )
        with pytest.raises(IntegrityError, match="onboarding_partner"):
            insert_attributions([(txn_id, -5, pay.pk, booked.occurred_at, 1, Decimal("10"), Decimal("1"))])
        insert_attributions([(txn_id, active_x.pk, pay.pk, booked.occurred_at, 1, Decimal("10"), Decimal("1"))])
