"""Hostile files get the same answer from every way in, on SQLite and PostgreSQL alike, and write nothing.

A file is booked whole or refused whole, whatever it contains: a line reading
``\\.`` (the end-of-data marker of PostgreSQL's COPY text format), a bare
carriage return, an amount in exponent form, a NUL, a zero-width or
bidirectional character, a file in GBK, a last line cut short. Each file goes
through the large-file command, the admin import and the REST batch (as the
rows the file holds), and all three must agree.
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from revenue.ledger.models import IngestionBatch, Transaction, TransactionAttribution
from tests.revenue.conftest import token_client

HEADER = "external_id,partner,sme_id,sme_name,product,amount,bank_revenue,occurred_at"


def line(external_id: str, code: str, *, sme_name: str = "宏达贸易", amount: str = "1000.00") -> str:
    return f"{external_id},{code},SME001,{sme_name},PAY_SETTLE,{amount},6.00,2026-10-08T10:00:00+08:00"


def hostile_files(code: str) -> dict[str, tuple[bytes, set[int]]]:
    """Name → (file bytes, the lines the refusal must name; none: the file is good and booked)."""
    good = [line("H-1", code), line("H-2", code)]

    def lines(*texts: str) -> bytes:
        return "\n".join([HEADER, *texts]).encode()

    return {
        "copy end-of-data marker": (lines(good[0], "\\.", line("H-3", code, amount="x")), {3, 4}),
        "end-of-data marker after good rows only": (lines(*good, "\\.") + b"\n", {4}),
        "bare carriage return in a field": (lines(line("H-1", code, sme_name="宏达\r贸易")), {2, 3}),
        "quoted carriage return": (lines(line("H-1", code, sme_name='"宏达\r贸易"')), {2}),
        "exponent amount": (lines(good[0], line("H-2", code, amount="1E3")), {3}),
        "nul in a field": (lines(good[0], line("H-2", code, sme_name="宏达\x00贸易")), {3}),
        "zero-width space in an id": (lines(line("H-\u200b1", code)), {2}),
        "bidirectional override in a name": (lines(line("H-1", code, sme_name="宏达\u202e易贸")), {2}),
        "gbk": ("\n".join([HEADER, *good]).encode("gbk"), {2}),
        "truncated last line": (lines(good[0], line("H-2", code)[:40]), {3}),
        "unterminated quote": (lines(good[0], 'H-2,"' + code), {3}),
        "byte order mark": (b"\xef\xbb\xbf" + lines(*good) + b"\n", set()),
    }


def rows_of(data: bytes) -> list[dict] | None:
    """The rows a source system would have posted for the file's content (None: no JSON body can carry it)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    lines = text.split("\n")
    header = lines[0].split(",")
    return [dict(zip(header, values.split(","), strict=False)) for values in lines[1:] if values]


def nothing_written() -> bool:
    models = (Transaction, TransactionAttribution, IngestionBatch)
    return not any(model.objects.exists() for model in models)


def via_command(data: bytes, tmp_path) -> tuple[str, set[int]]:
    path = tmp_path / "hostile.csv"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("ingest_transactions", str(path), source="payments", stdout=out, stderr=err)
    except CommandError:
        printed = err.getvalue().splitlines()
        return "refused", {int(text.split()[1].rstrip(":")) for text in printed if text.startswith("line ")}
    return "booked", set()


def via_admin(data: bytes, client) -> tuple[str, set[int]]:
    response = client.post(
        "/admin/ledger/transaction/import/", {"source": "payments", "file": SimpleUploadedFile("h.csv", data)}
    )
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        return "booked", set()
    errors = response.context["errors"]
    if not errors and "already booked as batch" in response.content.decode():
        return "same file", set()
    assert errors, response.content.decode()[:2000]
    return "refused", {e.row for e in errors}


def via_api(rows: list[dict], client) -> tuple[str, set[int]]:
    response = client.post(
        "/api/v1/transactions/batch/", json.dumps({"transactions": rows}), content_type="application/json"
    )
    if response.status_code == 201:
        return "booked", set()
    assert response.status_code == 400, response.content
    return "refused", {e["row"] + 1 for e in response.json()["errors"]}  # a file's line is its row + 1


@pytest.mark.parametrize(
    "name",
    [
        "copy end-of-data marker",
        "end-of-data marker after good rows only",
        "bare carriage return in a field",
        "quoted carriage return",
        "exponent amount",
        "nul in a field",
        "zero-width space in an id",
        "bidirectional override in a name",
        "gbk",
        "truncated last line",
        "unterminated quote",
        "byte order mark",
    ],
)
def test_every_way_in_refuses_a_hostile_file_whole(name, pay, active_x, source_system, head_office, client, tmp_path):
    data, refused_lines = hostile_files(active_x.credit_code)[name]
    expected = ("refused", refused_lines) if refused_lines else ("booked", set())
    client.force_login(head_office)

    outcomes = {"command": via_command(data, tmp_path)}
    if expected[0] == "refused":
        assert nothing_written(), "command"
    outcomes["admin import"] = via_admin(data, client)
    if expected[0] == "refused":
        assert nothing_written(), "admin import"

    if expected[0] == "booked":
        # Booked once; the very same file again is refused as such, naming the earlier batch.
        assert outcomes == {"command": expected, "admin import": ("same file", set())}
        assert sorted(Transaction.objects.values_list("external_id", flat=True)) == ["H-1", "H-2"]
        return
    for way, got in outcomes.items():
        assert got == expected, way
    rows = rows_of(data)
    if rows is not None and "\r" not in data.decode("utf-8") and '"' not in data.decode("utf-8"):
        assert via_api(rows, token_client(source_system))[0] == "refused"
        assert nothing_written(), "api"


def test_a_json_exponent_is_refused_as_its_text_is(pay, active_x, source_system):
    body = (
        '{"transactions": [{"external_id": "J-1", "partner": "%s", "sme_id": "S", "product": "PAY_SETTLE", '
        '"amount": 1E3, "bank_revenue": 6.00, "occurred_at": "2026-10-08T10:00:00+08:00"}]}'
    ).replace("%s", active_x.credit_code)
    response = token_client(source_system).post("/api/v1/transactions/batch/", body, content_type="application/json")

    assert response.status_code == 400
    assert [(e["row"], e["field"], e["code"]) for e in response.json()["errors"]] == [(1, "amount", "invalid_amount")]
    assert nothing_written()


def test_a_json_number_with_two_decimals_books_exactly(pay, active_x, source_system):
    body = (
        '{"transactions": [{"external_id": "J-1", "partner": "%s", "sme_id": "S", "product": "PAY_SETTLE", '
        '"amount": 1234567890123.45, "bank_revenue": 6.10, "occurred_at": "2026-10-08T10:00:00+08:00"}]}'
    ).replace("%s", active_x.credit_code)
    response = token_client(source_system).post("/api/v1/transactions/batch/", body, content_type="application/json")

    assert response.status_code == 201, response.content
    txn = Transaction.objects.get()
    assert (str(txn.amount), str(txn.bank_revenue)) == ("1234567890123.45", "6.10")


def test_a_deeply_nested_json_body_is_a_clear_400(source_system):
    response = token_client(source_system).post(
        "/api/v1/transactions/batch/", "[" * 3000 + "]" * 3000, content_type="application/json"
    )

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_a_nested_value_is_refused_not_stringified(pay, active_x, source_system):
    row = {
        "external_id": "J-1",
        "partner": active_x.credit_code,
        "sme_id": "S",
        "sme_name": {"a": 1},
        "product": "PAY_SETTLE",
        "amount": "1.00",
        "bank_revenue": "0.10",
        "occurred_at": "2026-10-08T10:00:00+08:00",
    }
    response = token_client(source_system).post("/api/v1/transactions/batch/", {"transactions": [row]}, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("sme_name", "invalid_value")]


def test_a_file_of_100_001_rows_with_a_bad_last_line_is_refused_whole_by_every_way_in(
    pay, active_x, source_system, head_office, client, tmp_path, settings
):
    """Nothing of the first 100,000 rows is kept: each way in refuses the file, for its own stated reason."""
    body = [line(f"H-{i}", active_x.credit_code) for i in range(1, 100_001)]
    data = "\n".join([HEADER, *body, line("H-100001", active_x.credit_code, amount="1E3")]).encode()
    client.force_login(head_office)

    # The large-file command reads it all and names the bad line: the header is line 1.
    assert via_command(data, tmp_path) == ("refused", {100_002})
    assert nothing_written(), "command"

    # The admin import refuses it by its row count before reading any row.
    settings.TRANSACTION_IMPORT_MAX_ROWS = 100_000
    response = client.post(
        "/admin/ledger/transaction/import/", {"source": "payments", "file": SimpleUploadedFile("h.csv", data)}
    )
    assert response.status_code == 200
    assert "100,000" in response.content.decode() or "100000" in response.content.decode()
    assert nothing_written(), "admin import"

    # A REST batch carries at most 10,000 rows.
    response = token_client(source_system).post(
        "/api/v1/transactions/batch/",
        json.dumps({"transactions": rows_of(data)}),
        content_type="application/json",
    )
    assert 400 <= response.status_code < 500, response.status_code
    assert nothing_written(), "api"


def test_a_huge_header_is_refused_without_echoing_it(pay, active_x, source_system, head_office, client, tmp_path):
    """A megabyte-long column name is named in the refusal cut short, never echoed whole."""
    data = ("external_id,occurred_at," + "A" * 1_000_000 + "\nH-1,2026-10-08T10:00:00+08:00,x\n").encode()
    client.force_login(head_office)
    response = client.post(
        "/admin/ledger/transaction/import/", {"source": "payments", "file": SimpleUploadedFile("h.csv", data)}
    )
    assert response.status_code == 200
    assert "longer than 4096 bytes" in response.content.decode()
    assert len(response.content) < 200_000
    with pytest.raises(CommandError):
        path = tmp_path / "h.csv"
        path.write_bytes(data)
        err = io.StringIO()
        call_command("ingest_transactions", str(path), source="payments", stderr=err)
    assert len(err.getvalue()) < 2_000
    assert nothing_written()


def test_a_long_unknown_column_is_named_cut_short(pay, active_x, source_system, head_office, client):
    data = ("external_id,occurred_at," + "B" * 3000 + "\nH-1,2026-10-08T10:00:00+08:00,x\n").encode()
    client.force_login(head_office)
    response = client.post(
        "/admin/ledger/transaction/import/", {"source": "payments", "file": SimpleUploadedFile("h.csv", data)}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "b" * 64 + "…" in page and "b" * 65 not in page  # header names are read in lower case
    assert nothing_written()
