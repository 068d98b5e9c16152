"""Hostile input to the transaction admin gets a clear answer, never a 500, and changes nothing.

Filters with ids that are not ids, a NUL byte anywhere in a request, an XLSX with a DTD or that unpacks
to gigabytes, an upload over the size or row limit.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from revenue.ledger.ingestion.rows import COLUMNS
from revenue.ledger.models import IngestionBatch, Transaction
from tests.revenue.factories import txn_row
from tests.revenue.ledger.test_ways_in import csv_bytes

CHANGELIST = "/admin/ledger/transaction/"
IMPORT = "/admin/ledger/transaction/import/"


def nothing_written() -> bool:
    return not Transaction.objects.exists() and not IngestionBatch.objects.exists()


@pytest.mark.parametrize("query", ["branch=abc", "product=abc", "partner=abc", "branch=99999999999999999999999"])
def test_a_filter_id_that_is_not_an_id_is_no_server_error(client, head_office, query):
    client.force_login(head_office)
    response = client.get(f"{CHANGELIST}?{query}")
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert "e=1" in response["Location"]


@pytest.mark.parametrize(
    "url", [f"{CHANGELIST}?source=a%00b", f"{CHANGELIST}?q=%00", "/admin/onboarding/partner/?q=x%00y"]
)
def test_a_nul_byte_in_a_filter_is_a_400(client, head_office, url):
    client.force_login(head_office)
    response = client.get(url)
    assert response.status_code == 400
    assert b"NUL" in response.content


def test_a_nul_byte_in_a_form_field_is_a_400(client, head_office):
    client.force_login(head_office)
    assert client.post(IMPORT, {"source": "pay\x00ments"}).status_code == 400


def _xlsx(rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([row.get(c) for c in COLUMNS])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _rewrite(xlsx: bytes, part: str, transform) -> bytes:
    source, out = zipfile.ZipFile(io.BytesIO(xlsx)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item.filename, transform(data) if item.filename == part else data)
    return out.getvalue()


def _post(client, name: str, data: bytes):
    return client.post(IMPORT, {"source": "payments", "file": SimpleUploadedFile(name, data)})


def _refusal(response) -> str:
    assert response.status_code == 200, response.status_code
    form = response.context["form"]
    messages = [str(m) for m in response.context["messages"]]
    errors = [e.message for e in response.context["errors"]]
    return " ".join([*form.errors.get("file", []), *messages, *errors])


def test_an_xlsx_with_a_dtd_is_refused_cleanly(client, head_office, pay, active_x):
    client.force_login(head_office)
    good = _xlsx([txn_row(active_x, "X-1")])
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'

    def with_dtd(xml: bytes) -> bytes:
        return bomb + (xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml)

    response = _post(client, "dtd.xlsx", _rewrite(good, "xl/worksheets/sheet1.xml", with_dtd))
    assert "readable XLSX" in _refusal(response)
    assert nothing_written()


def test_an_xlsx_that_unpacks_to_far_more_than_its_size_is_refused_before_parsing(
    client, head_office, pay, active_x, settings
):
    settings.TRANSACTION_IMPORT_MAX_XLSX_UNPACKED_BYTES = 5 * 2**20
    client.force_login(head_office)
    good = _xlsx([txn_row(active_x, "X-1")])
    inflated = _rewrite(good, "xl/worksheets/sheet1.xml", lambda xml: xml + b" " * (8 * 2**20))
    assert len(inflated) < 200_000
    response = _post(client, "bomb.xlsx", inflated)
    assert "unpacks to" in _refusal(response)
    assert nothing_written()


def test_a_file_that_is_not_an_xlsx_is_refused(client, head_office):
    client.force_login(head_office)
    assert "not an XLSX" in _refusal(_post(client, "fake.xlsx", b"<html><script>alert(1)</script></html>"))


def test_an_upload_over_the_size_limit_is_refused(client, head_office, pay, active_x, settings):
    settings.TRANSACTION_IMPORT_MAX_BYTES = 1024
    client.force_login(head_office)
    rows = [txn_row(active_x, f"X-{i}") for i in range(40)]
    assert "at most" in _refusal(_post(client, "big.csv", csv_bytes(rows)))
    assert nothing_written()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_over_the_row_limit_is_refused_whole(client, head_office, pay, active_x, settings, kind):
    settings.TRANSACTION_IMPORT_MAX_ROWS = 5
    client.force_login(head_office)
    rows = [txn_row(active_x, f"X-{i}") for i in range(6)]
    data = csv_bytes(rows) if kind == "csv" else _xlsx(rows)
    assert "at most 5 rows" in _refusal(_post(client, f"rows.{kind}", data))
    assert nothing_written()
    # At the limit it is booked.
    data = csv_bytes(rows[:5]) if kind == "csv" else _xlsx(rows[:5])
    assert _post(client, f"ok.{kind}", data).status_code == 302
    assert Transaction.objects.count() == 5
