"""Batches sent at the same moment get the answer a later replay gets, never a 500.

Three simultaneous posts of one (source, external id) used to leave one row, as they should, and
answer the two losers with an unhandled unique violation; two simultaneous reversals of one event
booked one and answered the other likewise. One source's batches are now booked one after another
on PostgreSQL, so a loser meets the winner's committed rows: duplicates, or "already reversed".
Where batches are not serialised (SQLite between processes), a loser is refused cleanly (409) with
nothing written, from the API, the admin import and the command alike.
"""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection
from django.urls import reverse

from revenue.ledger.errors import ConcurrentChange, IngestionRejected
from revenue.ledger.ingestion.processor import ChunkProcessor
from revenue.ledger.models import IngestionBatch, Transaction
from revenue.ledger.services import transactions_ingest
from tests.revenue.factories import reversal_row, txn_row

ON_POSTGRES = connection.vendor == "postgresql"
BATCH = "/api/v1/transactions/batch/"


def _at_the_same_moment(jobs):
    """Run each job on its own thread and connection, released together; their outcomes in job order."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list = [None] * len(jobs)

    def run(i, job):
        try:
            barrier.wait(timeout=10)
            outcomes[i] = ("ok", job())
        except Exception as exc:  # the test inspects what each loser got
            outcomes[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="simultaneous writers need a server database")
@pytest.mark.django_db(transaction=True)
def test_three_simultaneous_batches_of_one_row_book_it_once_and_call_the_rest_duplicates(pay, active_x):
    rows = [txn_row(active_x, "SAME-1"), txn_row(active_x, "SAME-2")]
    outcomes = _at_the_same_moment([lambda: transactions_ingest(rows=rows, source="payments", by=None)] * 3)

    assert [kind for kind, _ in outcomes] == ["ok"] * 3, outcomes
    assert sorted((r.created, r.duplicates) for _, r in outcomes) == [(0, 2), (0, 2), (2, 0)]
    assert Transaction.objects.filter(external_id__startswith="SAME-").count() == 2
    assert IngestionBatch.objects.count() == 3


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="simultaneous writers need a server database")
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_reversals_of_one_event_book_one_and_refuse_the_other_as_a_replay_would(pay, active_x):
    transactions_ingest(rows=[txn_row(active_x, "EV-1")], source="payments", by=None)
    outcomes = _at_the_same_moment(
        [
            lambda: transactions_ingest(rows=[reversal_row("REV-A", "EV-1")], source="payments", by=None),
            lambda: transactions_ingest(rows=[reversal_row("REV-B", "EV-1")], source="payments", by=None),
        ]
    )

    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"], outcomes
    (refusal,) = [exc for kind, exc in outcomes if kind == "error"]
    assert isinstance(refusal, IngestionRejected)
    assert [(e.field, e.code) for e in refusal.errors] == [("reverses", "already_reversed")]
    assert Transaction.objects.filter(reverses__external_id="EV-1").count() == 1


# ---- where batches are not serialised: the unique index has the last word, and the loser a clear answer --------


def _raced(*args, **kwargs):
    raise IntegrityError('duplicate key value violates unique constraint "ledger_transaction_source_external_id"')


@pytest.fixture
def lost_race():
    with mock.patch.object(ChunkProcessor, "insert", _raced):
        yield


@pytest.mark.django_db
def test_the_service_refuses_a_lost_race_cleanly(pay, active_x, lost_race):
    with pytest.raises(ConcurrentChange, match="at the same moment"):
        transactions_ingest(rows=[txn_row(active_x, "R-1")], source="payments", by=None)
    assert not Transaction.objects.exists() and not IngestionBatch.objects.exists()


@pytest.mark.django_db
def test_the_api_answers_a_lost_race_with_409(source_client, pay, active_x, lost_race):
    response = source_client.post(BATCH, {"transactions": [txn_row(active_x, "R-1")]}, format="json")
    assert response.status_code == 409
    assert "at the same moment" in response.json()["detail"]
    assert not IngestionBatch.objects.exists()


@pytest.mark.django_db
def test_the_command_answers_a_lost_race_with_a_message(pay, active_x, lost_race, tmp_path):
    file = tmp_path / "race.csv"
    file.write_text(
        "external_id,partner,sme_id,product,amount,bank_revenue,occurred_at\n"
        f"R-1,{active_x.credit_code},S1,PAY_SETTLE,10.00,0.10,2026-10-08T10:00:00+08:00\n",
        encoding="utf-8",
    )
    with pytest.raises(CommandError, match="at the same moment"):
        call_command("ingest_transactions", str(file), "--source", "payments")
    assert not IngestionBatch.objects.exists()


@pytest.mark.django_db
def test_the_admin_import_answers_a_lost_race_with_a_message(admin_client, pay, active_x, lost_race):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        "race.csv",
        (
            "external_id,partner,sme_id,product,amount,bank_revenue,occurred_at\n"
            f"R-1,{active_x.credit_code},S1,PAY_SETTLE,10.00,0.10,2026-10-08T10:00:00+08:00\n"
        ).encode(),
        content_type="text/csv",
    )
    response = admin_client.post(
        reverse("admin:ledger_transaction_import"), {"file": upload, "source": "payments"}, follow=True
    )
    assert response.status_code == 200
    assert "at the same moment" in response.content.decode()
    assert not IngestionBatch.objects.exists()


@pytest.mark.django_db
def test_other_integrity_errors_are_not_mistaken_for_a_race(pay, active_x):
    def broken(*args, **kwargs):
        raise IntegrityError("null value in column violates not-null constraint")

    with mock.patch.object(ChunkProcessor, "insert", broken), pytest.raises(IntegrityError):
        transactions_ingest(rows=[txn_row(active_x, "R-2")], source="payments", by=None)
