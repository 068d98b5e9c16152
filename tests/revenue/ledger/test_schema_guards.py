"""The database guards what the application promises, on SQLite and PostgreSQL alike.

* Every relation is a native foreign key: deleting a referenced row is refused by the database
  itself, SQLite included (plain SQL, past the ORM's PROTECT).
* Booked ledger rows are append-only: UPDATE and DELETE (and TRUNCATE on PostgreSQL) are refused.
* A settlement that left draft, its lines and a closed period are frozen; an issued statement never changes.
* Transactions name a registered source system.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, models, transaction

from core.migrations_sql import guards_suspended
from revenue.ledger.models import Product, SourceSystem, Transaction, TransactionAttribution
from revenue.settlement.choices import PeriodState
from revenue.settlement.models import Settlement, SettlementLine, SettlementPeriod
from revenue.statements.models import Statement
from revenue.statements.services import statement_generate
from tests.revenue.factories import txn_row
from tests.revenue.statements.factories import LineSpec, make_settlement

D = Decimal


def refused(sql: str, params=()) -> bool:
    """Whether the database refuses the statement (the refusal rolled back, nothing changed)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(sql, params)
            if connection.vendor == "sqlite":
                connection.check_constraints()  # SQLite checks deferred foreign keys here, as a commit would
    except DatabaseError:
        return True
    return False


@pytest.fixture
def booked(pay, active_x):
    from revenue.ledger.services import transactions_ingest

    transactions_ingest(rows=[txn_row(active_x, "G-1")], source="payments", by=None)
    return Transaction.objects.get(external_id="G-1")


def test_deleting_a_referenced_row_is_refused_by_the_database(booked, pay, active_x):
    assert refused(f"DELETE FROM {Product._meta.db_table} WHERE id = %s", [pay.pk])
    assert refused(f"DELETE FROM {SourceSystem._meta.db_table} WHERE code = %s", ["payments"])
    assert refused(f"DELETE FROM {active_x._meta.db_table} WHERE id = %s", [active_x.pk])
    assert Product.objects.filter(pk=pay.pk).exists()


def test_a_reference_to_nothing_is_refused_by_the_database(booked):
    table = TransactionAttribution._meta.db_table
    assert refused(f"UPDATE {table} SET partner_id = -5 WHERE transaction_id = %s", [booked.pk])


@pytest.mark.parametrize("table", [Transaction._meta.db_table, TransactionAttribution._meta.db_table])
def test_booked_rows_are_append_only_in_plain_sql(booked, table):
    assert refused(f"UPDATE {table} SET amount = amount + 1")
    assert refused(f"DELETE FROM {table}")
    assert Transaction.objects.get(pk=booked.pk).amount == D("1000.00")


@pytest.mark.postgres
def test_truncating_the_ledger_is_refused_on_postgres(booked):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    tables = f"{TransactionAttribution._meta.db_table}, {Transaction._meta.db_table}"
    assert refused(f"TRUNCATE {tables} CASCADE")
    assert Transaction.objects.filter(pk=booked.pk).exists()


def test_the_orm_refuses_an_upsert_of_a_booked_row(booked):
    from revenue.ledger.errors import ImmutableRecord

    again = Transaction(
        **{f.attname: getattr(booked, f.attname) for f in Transaction._meta.concrete_fields if f.attname != "id"}
    )
    with pytest.raises(ImmutableRecord):
        Transaction.objects.bulk_create(
            [again], update_conflicts=True, unique_fields=["source", "external_id"], update_fields=["amount"]
        )
    with pytest.raises(ImmutableRecord):
        Transaction.objects.update_or_create(pk=booked.pk, defaults={"amount": D("1.00")})


def test_an_upsert_cannot_rewrite_a_booked_amount(booked):
    rewritten = Transaction(
        **{f.attname: getattr(booked, f.attname) for f in Transaction._meta.concrete_fields if f.attname != "id"}
    )
    rewritten.amount = D("1.00")
    # Past the ORM's refusal (a plain INSERT … ON CONFLICT DO UPDATE), the database refuses.
    with pytest.raises(DatabaseError), transaction.atomic():
        models.QuerySet(Transaction).bulk_create(
            [rewritten], update_conflicts=True, unique_fields=["source", "external_id"], update_fields=["amount"]
        )
    assert Transaction.objects.get(pk=booked.pk).amount == D("1000.00")


@pytest.fixture
def closed(partner_x, pay):
    settlement = make_settlement(partner_x, lines=[LineSpec(pay, D("1000.00"))])
    return settlement


def test_a_closed_settlement_and_its_lines_are_frozen_in_plain_sql(closed):
    settlements, lines = Settlement._meta.db_table, SettlementLine._meta.db_table
    assert closed.state != "draft"
    assert refused(f"UPDATE {settlements} SET net = net + 1 WHERE id = %s", [closed.pk])
    assert refused(f"UPDATE {settlements} SET state = 'draft' WHERE id = %s", [closed.pk])
    assert refused(f"DELETE FROM {settlements} WHERE id = %s", [closed.pk])
    assert refused(f"UPDATE {lines} SET share = share + 1 WHERE settlement_id = %s", [closed.pk])
    assert refused(f"DELETE FROM {lines} WHERE settlement_id = %s", [closed.pk])
    # Its lifecycle still moves: approval is not a change of its figures.
    assert not refused(f"UPDATE {settlements} SET state = 'approved' WHERE id = %s", [closed.pk])


def test_a_closed_period_is_never_reopened(closed):
    table = SettlementPeriod._meta.db_table
    period = closed.period
    if period.state != PeriodState.CLOSED:
        SettlementPeriod.objects.filter(pk=period.pk).update(
            state=PeriodState.CLOSED, close_watermark=0, closed_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        )
    assert refused(f"UPDATE {table} SET state = 'open' WHERE id = %s", [period.pk])
    assert refused(f"DELETE FROM {table} WHERE id = %s", [period.pk])


def test_an_issued_statement_never_changes(closed):
    statement = statement_generate(settlement=closed)
    table = Statement._meta.db_table
    assert refused(f"UPDATE {table} SET sha256 = 'x' WHERE id = %s", [statement.pk])
    assert refused(f"DELETE FROM {table} WHERE id = %s", [statement.pk])
    # Restoring a lost file's path is the one change allowed.
    assert not refused(f"UPDATE {table} SET pdf = %s WHERE id = %s", [statement.pdf.name, statement.pk])


def test_the_guards_give_way_only_when_suspended_explicitly(booked):
    table = Transaction._meta.db_table
    with guards_suspended(), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET sme_name = 'x' WHERE id = %s", [booked.pk])
        transaction.set_rollback(True)
    assert refused(f"UPDATE {table} SET sme_name = 'x' WHERE id = %s", [booked.pk])


def test_a_locked_agreement_version_is_frozen_but_for_its_closing(pay):
    from django.utils import timezone

    from revenue.ledger.models import AgreementTier, AgreementVersion
    from tests.revenue.settlement.conftest import agreement

    tiered = agreement(
        pay,
        rule_kind="tiered_progressive",
        tier_basis="total_revenue",
        tiers=[("0", "100", "0.1"), ("100", None, "0.2")],
    )
    AgreementVersion.objects.filter(pk=tiered.pk).update(locked_at=timezone.now())
    versions, tiers = AgreementVersion._meta.db_table, AgreementTier._meta.db_table
    tier = AgreementTier.objects.filter(version=tiered).first()

    assert refused(f"UPDATE {versions} SET tier_basis = 'total_volume' WHERE id = %s", [tiered.pk])
    assert refused(f"UPDATE {versions} SET valid_from = '2025-01-01' WHERE id = %s", [tiered.pk])
    assert refused(f"UPDATE {versions} SET valid_to = '2020-01-01' WHERE id = %s", [tiered.pk])  # before the lock
    assert refused(f"DELETE FROM {versions} WHERE id = %s", [tiered.pk])
    assert refused(f"UPDATE {tiers} SET rate = 0.5 WHERE id = %s", [tier.pk])
    assert refused(f"DELETE FROM {tiers} WHERE id = %s", [tier.pk])
    assert refused(
        f"INSERT INTO {tiers} (version_id, lower_bound, upper_bound, rate) VALUES (%s, 500, NULL, 0.3)", [tiered.pk]
    )
    # Closing it, from a day not before the lock, is the one change left.
    assert not refused(f"UPDATE {versions} SET valid_to = '2999-01-01' WHERE id = %s", [tiered.pk])
