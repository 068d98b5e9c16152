"""The three ways in (REST, admin import, large-file command) give the same verdicts, row for row.

The same rows, good and bad, go through each way; the errors (by data row,
field and reason) and the booked result must be identical, on SQLite and on
PostgreSQL alike (one engine reads and books them all).
"""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from revenue.ledger.errors import IngestionRejected
from revenue.ledger.ingestion.rows import COLUMNS
from revenue.ledger.models import SourceSystem, Transaction
from revenue.ledger.services import transactions_ingest, transactions_ingest_csv
from tests.revenue.conftest import token_client
from tests.revenue.factories import registered, reversal_row, txn_row


@pytest.fixture
def rows(pay, loan, active_x, active_y):
    x, y = active_x.credit_code, active_y.credit_code
    return [
        txn_row(active_x, "V-1"),
        txn_row(f"{x}:0.6;{y}:0.4", "V-2", product="SCF_LOAN"),
        reversal_row("V-3", "V-1"),
        txn_row(active_x, "V-4", amount="1.999"),
        txn_row(active_x, "V-5", occurred_at="2026-02-29T10:00:00"),
        txn_row(f"{x}:0.6;{y}:0.5", "V-6"),
        reversal_row("V-7", "V-1"),
        txn_row(active_x, "V-1", amount="2000.00"),
        txn_row(active_x, "V-8", product="NOPE", kind="odd"),
        {**txn_row(active_x, "V-9"), "sme_id": " "},
        txn_row(active_x, "V-10", currency="usd", branch="XX"),  # references are checked once well-formed
        txn_row(" ", "V-11"),
        reversal_row("V-12", "V-2", amount="-1.00"),
        txn_row(active_x, "V-13", occurred_at="2026-10-08T10:00:00+08:00 "),
        txn_row(active_x, "V-14", occurred_at="2026-10-08"),
    ]


EXPECTED = [
    (4, "amount", "invalid_amount"),
    (5, "occurred_at", "invalid_timestamp"),
    (6, "partner", "weights_sum"),
    (7, "reverses", "already_reversed"),
    (8, "external_id", "conflict"),
    (9, "kind", "invalid_kind"),
    (10, "sme_id", "required"),
    (11, "currency", "invalid_currency"),
    (12, "partner", "required"),
    (13, "amount", "mirror_mismatch"),
    (15, "occurred_at", "invalid_timestamp"),
]


def csv_bytes(rows) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in COLUMNS})
    return buffer.getvalue().encode()


def by_data_row(errors, first_row: int):
    return sorted((e["row"] - first_row + 1, e["field"], e["code"]) for e in errors)


def via_service(rows):
    with pytest.raises(IngestionRejected) as caught:
        transactions_ingest(rows=rows, source="payments", by=None)
    return by_data_row(caught.value.extra["errors"], 1)


def via_api(rows, source_system):
    response = token_client(source_system).post("/api/v1/transactions/batch/", {"transactions": rows}, format="json")
    assert response.status_code == 400
    return by_data_row(response.json()["errors"], 1)


def via_admin(rows, client, head_office):
    client.force_login(head_office)
    upload = SimpleUploadedFile("v.csv", csv_bytes(rows))
    response = client.post("/admin/ledger/transaction/import/", {"source": "payments", "file": upload})
    return by_data_row([e.as_dict() for e in response.context["errors"]], 2)


def via_command(rows, tmp_path):
    path = tmp_path / "v.csv"
    path.write_bytes(csv_bytes(rows))
    with pytest.raises(IngestionRejected) as caught, path.open("rb") as stream:
        transactions_ingest_csv(stream=stream, source="payments", by=None)
    stderr = io.StringIO()
    with pytest.raises(CommandError):
        call_command("ingest_transactions", str(path), source="payments", stderr=stderr)
    assert len(stderr.getvalue().splitlines()) == len(EXPECTED), stderr.getvalue()
    return by_data_row(caught.value.extra["errors"], 2)


def test_every_way_in_gives_the_same_verdicts(rows, source_system, client, head_office, tmp_path):
    transactions_ingest(rows=rows[:3], source="payments", by=None)  # V-1, V-2 and its reversal V-3 are booked
    booked = set(Transaction.objects.values_list("external_id", flat=True))
    rows = [txn_row(rows[0]["partner"], "V-0"), *rows[1:]]  # row 1 is new; rows 2 and 3 are replays

    outcomes = {
        "service": via_service(rows),
        "api": via_api(rows, source_system),
        "admin": via_admin(rows, client, head_office),
        "command": via_command(rows, tmp_path),
    }

    for way, errors in outcomes.items():
        assert errors == EXPECTED, way
    assert set(Transaction.objects.values_list("external_id", flat=True)) == booked  # nothing written by any


def test_every_way_in_books_the_same(rows, source_system, client, head_office, tmp_path):
    good = rows[:3]
    results = {}
    for way in ("service", "api", "admin", "command"):
        source = registered(f"src-{way}")
        if way == "service":
            transactions_ingest(rows=good, source=source, by=None)
        elif way == "api":
            SourceSystem.objects.filter(user=source_system).update(user=None)
            SourceSystem.objects.filter(code=source).update(user=source_system)
            assert (
                token_client(source_system)
                .post("/api/v1/transactions/batch/", {"transactions": good}, format="json")
                .status_code
                == 201
            )
        elif way == "admin":
            client.force_login(head_office)
            upload = SimpleUploadedFile("v.csv", csv_bytes(good))
            client.post("/admin/ledger/transaction/import/", {"source": source, "file": upload})
        else:
            path = tmp_path / "good.csv"
            path.write_bytes(csv_bytes(good))
            # The admin booked this very file under another source: the command is told it means to.
            call_command("ingest_transactions", str(path), source=source, allow_same_file=True, stdout=io.StringIO())
        results[way] = sorted(
            Transaction.objects.filter(source=source).values_list(
                "external_id", "kind", "amount", "bank_revenue", "occurred_at", "content_hash", "partner_active"
            )
        )
    assert len(results["service"]) == 3
    for way, booked in results.items():
        assert booked == results["service"], way
