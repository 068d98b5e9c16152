"""The transaction detail of a statement after a real month-end close: exactly the settled attributions, formula-safe.

September is closed first; then a late September event, October's events
(one reversed) arrive and October is closed. October's detail holds
October's attributions as product rows and the late September one as an
adjustment of 2026-09 — and nothing that September's close already settled.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from core.periods import Period
from core.spreadsheets import csv_stream, export_headers, formula_safe
from revenue.ledger.services import agreement_create, agreement_version_create, transactions_ingest
from revenue.settlement.choices import RunKind, RunTrigger
from revenue.settlement.models import Settlement
from revenue.settlement.services import settlement_run_start
from revenue.statements.exports import detail_export_columns
from revenue.statements.selectors import DETAIL_COLUMNS, settlement_detail_rows
from tests.revenue.factories import txn_row
from tests.revenue.statements.pdftext import pdf_text

D = Decimal


def book(*rows):
    return transactions_ingest(rows=list(rows), source="payments", by=None)


@pytest.fixture
def closed_october(pay, active_x, active_y, django_capture_on_commit_callbacks):
    agreement = agreement_create(product=pay, partner_type="software_data", by=None)
    agreement_version_create(
        agreement=agreement, valid_from=dt.date(2026, 1, 1), rule_kind="percentage", rate=D("0.300000"), by=None
    )

    def close(period: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            run = settlement_run_start(
                period=Period.parse(period), kind=RunKind.CLOSE, by=None, trigger=RunTrigger.COMMAND
            )
        run.refresh_from_db()
        assert run.state == "completed", run.error

    book(
        txn_row(active_x, "S1", bank_revenue="100.00", occurred_at="2026-09-10T10:00:00+08:00"),
        txn_row(active_y, "S2", bank_revenue="70.00", occurred_at="2026-09-11T10:00:00+08:00"),
    )
    close("2026-09")
    book(
        txn_row(active_x, "S3-LATE", bank_revenue="20.00", occurred_at="2026-09-30T23:30:00+08:00"),
        txn_row(active_x, "O1", bank_revenue="600.00", occurred_at="2026-10-01T00:10:00+08:00"),
        txn_row(
            active_x, "O2", bank_revenue="300.00", sme_name='=HYPERLINK("http://x")', occurred_at="2026-10-15T09:00:00"
        ),
        txn_row(active_y, "O3", bank_revenue="999.00", occurred_at="2026-10-16T09:00:00+08:00"),
        txn_row(active_x, "O4", bank_revenue="50.00", occurred_at="2026-10-31T23:59:00+08:00"),
        txn_row(active_x, "N1", bank_revenue="1.00", occurred_at="2026-11-01T00:00:00+08:00"),
    )
    book({"external_id": "O4-R", "kind": "reversal", "reverses": "O4", "occurred_at": "2026-10-31T23:59:30+08:00"})
    close("2026-10")
    return Settlement.objects.get(partner=active_x, period__start=dt.date(2026, 10, 1))


def rows_of(settlement) -> list[dict]:
    return [dict(zip(DETAIL_COLUMNS, row, strict=True)) for row in settlement_detail_rows(settlement=settlement)]


def test_the_detail_holds_exactly_the_settled_attributions(closed_october):
    rows = rows_of(closed_october)
    assert [(r["external_id"], r["line_kind"], r["corrects_period"]) for r in rows] == [
        ("S3-LATE", "adjustment", "2026-09"),
        ("O1", "product", ""),
        ("O2", "product", ""),
        ("O4", "product", ""),
        ("O4-R", "product", ""),
    ]
    assert {r["external_id"] for r in rows}.isdisjoint({"S1", "S2", "O3", "N1"})  # settled before, Y's, November's
    # The detail adds back to the settlement's ledger lines.
    lines = closed_october.lines.filter(kind__in=["product", "adjustment"])
    assert sum(r["attributed_bank_revenue"] for r in rows) == sum(line.bank_revenue for line in lines)
    assert sum(r["attributed_bank_revenue"] for r in rows if r["line_kind"] == "product") == D("900.00")
    assert len(rows) == closed_october.transaction_count


def test_the_csv_is_formula_safe_and_utf8(closed_october):
    body = b"".join(csv_stream(DETAIL_COLUMNS, settlement_detail_rows(settlement=closed_october)))
    assert body.startswith("\ufeff".encode())
    records = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    by_id = {r["external_id"]: r for r in records}
    assert by_id["O2"]["sme_name"] == '\'=HYPERLINK("http://x")'
    assert by_id["O1"]["sme_name"] == "深圳市宏达贸易有限公司"
    assert by_id["O4-R"]["attributed_bank_revenue"] == "-50.00"  # numbers stay numbers, minus sign and all
    assert by_id["O1"]["occurred_at"] == "2026-10-01 00:10:00"  # Beijing time


def test_the_xlsx_has_numbers_and_inert_text(closed_october, portal_x):
    response = portal_x.get(f"/portal/settlements/{closed_october.pk}/transactions.xlsx?lang=en")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == export_headers(detail_export_columns(), "en")
    by_id = {row[3]: dict(zip(DETAIL_COLUMNS, row, strict=True)) for row in rows[1:-1]}  # the last: totals
    assert by_id["O2"]["sme_name"] == '\'=HYPERLINK("http://x")'
    assert by_id["O1"]["attributed_bank_revenue"] == 600
    assert by_id["S3-LATE"]["corrects_period"] == "2026-09"
    assert by_id["O1"]["occurred_at"] == dt.datetime(2026, 10, 1, 0, 10)


def test_the_statement_of_a_real_close(closed_october, portal_x):
    response = portal_x.get(f"/portal/settlements/{closed_october.pk}/statement.pdf")
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert closed_october.partner.legal_name in text
    assert f"¥{closed_october.payable:,.2f}" in text
    assert "2026-09" in text  # the adjustment line names the period it corrects


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+86 138", "'+86 138"),
        ("-x", "'-x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("深圳", "深圳"),
    ],
)
def test_formula_safe(value, safe):
    assert formula_safe(value) == safe
