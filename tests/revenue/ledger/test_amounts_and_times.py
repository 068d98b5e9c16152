"""Amounts both databases hold exactly, and event times no later than the systems' clock skew allows.

SQLite keeps a decimal column as a double, which Django reads back to 15 significant digits: an
amount of ``1234567890123456.78`` came back as ``1234567890123460.00``. Every money column and every
way in are therefore limited to 13 digits of yuan and 2 of fen, the largest amount both databases
hold exactly; this suite runs on SQLite and on PostgreSQL, so the round trip is checked on both.

Events dated years ahead (up to 2999 used to be accepted) are refused from every channel once they
lie more than ``TRANSACTION_MAX_DAYS_AHEAD`` days after the moment the batch is read.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import models
from django.utils import timezone

from core.money import LARGEST_AMOUNT, MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from core.periods import CHINA_TZ
from revenue.ledger.errors import IngestionRejected
from revenue.ledger.models import IngestionBatch, Transaction
from revenue.ledger.services import transactions_ingest
from tests.revenue.factories import txn_row

pytestmark = pytest.mark.django_db


def test_the_largest_amount_is_thirteen_digits_of_yuan_and_two_of_fen():
    assert LARGEST_AMOUNT == Decimal("9999999999999.99")


def test_every_money_column_holds_at_most_the_largest_exact_amount():
    wider = [
        f"{model._meta.label}.{field.name} ({field.max_digits} digits)"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.DecimalField)
        and field.decimal_places == MONEY_DECIMAL_PLACES
        and field.max_digits > MONEY_MAX_DIGITS
    ]
    assert not wider


def test_the_largest_accepted_amount_reads_back_exactly(pay, active_x):
    transactions_ingest(
        rows=[txn_row(active_x, "BIG-1", amount=str(LARGEST_AMOUNT), bank_revenue=str(LARGEST_AMOUNT))],
        source="payments",
        by=None,
    )
    booked = Transaction.objects.get(external_id="BIG-1")
    assert (booked.amount, booked.bank_revenue) == (LARGEST_AMOUNT, LARGEST_AMOUNT)
    attribution = booked.attributions.get()
    assert (attribution.amount, attribution.bank_revenue) == (LARGEST_AMOUNT, LARGEST_AMOUNT)


@pytest.mark.parametrize("amount", ["10000000000000.00", "1234567890123456.78", "-10000000000000"])
def test_an_amount_beyond_it_is_refused_and_nothing_is_written(pay, active_x, amount):
    rows = [txn_row(active_x, "OK-1"), txn_row(active_x, "BIG-2", amount=amount, kind="normal")]
    with pytest.raises(IngestionRejected) as refused:
        transactions_ingest(rows=rows, source="payments", by=None)
    assert [(e.row, e.field, e.code) for e in refused.value.errors] == [(2, "amount", "invalid_amount")]
    assert "13 digits" in refused.value.errors[0].message
    assert not Transaction.objects.exists()


def test_the_admin_refuses_a_dispute_adjustment_beyond_it():
    from revenue.settlement.admin import ResolveForm

    form = ResolveForm(data={"amount": "10000000000000.00", "comment": "x"})
    assert not form.is_valid()
    assert ResolveForm(data={"amount": str(LARGEST_AMOUNT), "comment": "x"}).is_valid()


def _china(moment: dt.datetime) -> str:
    return moment.astimezone(CHINA_TZ).isoformat()


def test_an_event_a_few_hours_ahead_is_booked(pay, active_x, settings):
    settings.TRANSACTION_MAX_DAYS_AHEAD = 1
    soon = timezone.now() + dt.timedelta(hours=20)
    transactions_ingest(rows=[txn_row(active_x, "SOON", occurred_at=_china(soon))], source="payments", by=None)
    assert Transaction.objects.filter(external_id="SOON").exists()


@pytest.mark.parametrize("ahead", [dt.timedelta(days=1, minutes=5), dt.timedelta(days=365 * 900)])
def test_an_event_further_ahead_is_refused_whole_batch_and_all(pay, active_x, settings, ahead):
    settings.TRANSACTION_MAX_DAYS_AHEAD = 1
    later = min(timezone.now() + ahead, dt.datetime(2999, 12, 31, tzinfo=CHINA_TZ))
    rows = [txn_row(active_x, "NOW"), txn_row(active_x, "LATER", occurred_at=_china(later))]
    with pytest.raises(IngestionRejected) as refused:
        transactions_ingest(rows=rows, source="payments", by=None)
    assert [(e.row, e.field, e.code) for e in refused.value.errors] == [(2, "occurred_at", "in_the_future")]
    assert "1 day(s) in the future" in refused.value.errors[0].message
    assert not Transaction.objects.exists()
    assert not IngestionBatch.objects.exists()


def test_the_horizon_is_a_setting(pay, active_x, settings):
    settings.TRANSACTION_MAX_DAYS_AHEAD = 30
    later = timezone.now() + dt.timedelta(days=29)
    transactions_ingest(rows=[txn_row(active_x, "LATER", occurred_at=_china(later))], source="payments", by=None)
    assert Transaction.objects.filter(external_id="LATER").exists()
