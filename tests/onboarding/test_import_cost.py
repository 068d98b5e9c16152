"""The partner import's cost: queries per batch, not per row, and its time per row.

``PARTNER_IMPORT_BENCH_ROWS=2000 pytest -s tests/onboarding/test_import_cost.py`` prints the time per row
of a larger file (preview and confirm through the admin, as an RM uses it).
"""

from __future__ import annotations

import io
import os
import time

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from onboarding.models import Partner
from onboarding.services import partner_import
from tests.onboarding.conftest import partner_csv


def _import_queries(rm, rows: int, start: int) -> list[str]:
    data = partner_csv(rows, branch=rm.branch.code, rm=rm.username, start=start)
    with CaptureQueriesContext(connection) as ctx:
        report = partner_import(content=data, file_format="csv", by=rm)
    assert report.ok, report.errors[:3]
    return [q["sql"] for q in ctx.captured_queries]


def _lookups_and_writes(queries: list[str]) -> int:
    # The model's check constraints (amounts in range) are still asked of the database row by row, each in a
    # savepoint; every other query (references, duplicates, inserts) is one per batch.
    return sum(1 for sql in queries if '"_check"' not in sql and "SAVEPOINT" not in sql)


def test_lookups_and_writes_do_not_grow_with_the_rows(rm_a):
    _import_queries(rm_a, 2, start=0)  # warm caches (content types, permissions) outside the count
    few = _import_queries(rm_a, 10, start=100)
    many = _import_queries(rm_a, 60, start=200)
    print(f"partner import: {len(few)} queries for 10 rows, {len(many)} for 60")
    assert Partner.objects.count() == 72
    # SQLite splits a bulk insert by its limit on query parameters (some 50 partners an INSERT): a few more.
    assert _lookups_and_writes(few) <= 15
    assert _lookups_and_writes(many) <= _lookups_and_writes(few) + 3
    assert len(many) - len(few) <= 50 * 6 + 3  # two constraint checks a row, each with its savepoint


def test_time_per_row_through_the_admin(client, rm_a):
    rows = int(os.environ.get("PARTNER_IMPORT_BENCH_ROWS", "50"))
    client.force_login(rm_a)
    upload = io.BytesIO(partner_csv(rows, branch=rm_a.branch.code, rm=rm_a.username))
    upload.name = "partners.csv"
    started = time.perf_counter()
    preview = client.post(
        reverse("admin:onboarding_partner_import"), {"import_file": upload, "format": "0", "resource": "0"}
    )
    previewed = time.perf_counter()
    confirm = preview.context["confirm_form"]
    response = client.post(reverse("admin:onboarding_partner_process_import"), confirm.initial)
    done = time.perf_counter()
    assert response.status_code == 302
    assert Partner.objects.count() == rows
    print(
        f"partner import of {rows} rows: preview {(previewed - started) * 1000 / rows:.2f} ms/row, "
        f"confirm {(done - previewed) * 1000 / rows:.2f} ms/row"
    )
