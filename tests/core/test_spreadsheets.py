"""The labelled exports of ``core.spreadsheets``, read back with csv and openpyxl: headers in both languages,
number formats, frozen header, column dictionary, totals to the fen, Beijing times with their offset."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from core.spreadsheets import (
    COUNT_FORMAT,
    MONEY_FORMAT,
    PERCENT_FORMAT,
    Column,
    ColumnKind,
    ExportParameterError,
    csv_export,
    export_format,
    export_headers,
    export_language,
    field_label,
    xlsx_export,
)
from revenue.ledger.models import Transaction, TransactionAttribution
from revenue.settlement.choices import LineKind

D = Decimal
COLUMNS = (
    Column(field_label(Transaction, "sme_name"), meaning="who"),
    Column(field_label(TransactionAttribution, "occurred_at"), ColumnKind.DATETIME),
    Column(field_label(TransactionAttribution, "bank_revenue"), ColumnKind.MONEY, total=True),
    Column(field_label(Transaction, "external_id"), ColumnKind.COUNT, total=True),
    Column(field_label(TransactionAttribution, "weight"), ColumnKind.PERCENT),
    Column(field_label(TransactionAttribution, "amount"), ColumnKind.FIGURE),
)
UTC_AFTERNOON = dt.datetime(2026, 10, 31, 15, 30, tzinfo=dt.UTC)  # 23:30 in Beijing, still October
ROWS = [
    (LineKind.ADJUSTMENT.label, UTC_AFTERNOON, D("1234.50"), 2, D("0.8550"), D("10.00")),
    ("=cmd()", None, D("-0.25"), 3, None, 7),
]


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())  # Excel reads UTF-8 Chinese only with the BOM
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_headers_are_the_verbose_names_in_either_language():
    assert export_headers(COLUMNS, "zh-hans")[:3] == ["中小企业名称", "发生时间", "归属银行收入（元）"]
    assert export_headers(COLUMNS, "en")[:3] == ["SME name", "Occurred at", "Attributed bank revenue (CNY)"]


def test_csv_has_labels_totals_offsets_and_inert_text():
    rows = read_csv(b"".join(csv_export(COLUMNS, ROWS, language="en")))
    assert rows[0] == export_headers(COLUMNS, "en")
    assert rows[1] == [
        "Adjustment of an earlier period",  # a label, in the export's language
        "2026-10-31 23:30:00+08:00",
        "1234.50",
        "2",
        "85.50%",
        "10.00",
    ]
    assert rows[2][0] == "'=cmd()"
    assert rows[3][0].startswith("Total") and rows[3][2:4] == ["1234.25", "5"]
    zh = read_csv(b"".join(csv_export(COLUMNS, ROWS, language="zh-hans")))
    with translation.override("zh-hans"):
        adjustment_zh = str(LineKind.ADJUSTMENT.label)
    assert zh[0][0] == "中小企业名称" and zh[1][0] == adjustment_zh != "Adjustment of an earlier period"


def test_xlsx_has_formats_frozen_header_totals_and_a_dictionary():
    book = load_workbook(xlsx_export(COLUMNS, ROWS, language="zh-hans", title="2026-10"))
    sheet, dictionary = book.worksheets
    assert sheet.title == "2026-10" and sheet.freeze_panes == "A2"
    header, first, second, totals = sheet.iter_rows()
    assert [c.value for c in header] == export_headers(COLUMNS, "zh-hans")
    assert all(c.font.bold for c in header)
    assert first[1].value == dt.datetime(2026, 10, 31, 23, 30)  # Beijing wall-clock time ...
    assert "+08:00" in first[1].number_format  # ... that says so
    assert first[2].number_format == MONEY_FORMAT and first[3].number_format == COUNT_FORMAT
    assert first[4].number_format == PERCENT_FORMAT and D(str(first[4].value)) == D("0.855")
    assert first[5].number_format == MONEY_FORMAT and second[5].number_format == COUNT_FORMAT  # yuan / count
    assert totals[0].font.bold and D(str(totals[2].value)) == D("1234.25") and totals[3].value == 5
    with translation.override("zh-hans"):
        expected = [translation.gettext(word) for word in ("Column", "Meaning", "Unit")]
    assert [c.value for c in next(dictionary.iter_rows())] == expected and dictionary.freeze_panes == "A2"
    entries = {row[0]: row for row in dictionary.iter_rows(min_row=2, values_only=True)}
    assert set(entries) == set(export_headers(COLUMNS, "zh-hans"))
    assert entries["中小企业名称"][1] == "who"
    # Money columns are wide enough for a hundred million with separators: no "####".
    assert sheet.column_dimensions["C"].width >= len("100,000,000.00") + 2


def test_no_totals_row_when_nothing_adds_up():
    columns = (Column("a"), Column("b", ColumnKind.PERCENT))
    rows = read_csv(b"".join(csv_export(columns, [("x", D("0.5"))], language="en")))
    assert rows == [["a", "b"], ["x", "50.00%"]]


@given(st.lists(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False), max_size=40))
def test_totals_are_the_exact_sum_to_the_fen(amounts):
    columns = (Column("name"), Column("amount", ColumnKind.MONEY, total=True))
    rows = [(f"r{i}", amount) for i, amount in enumerate(amounts)]
    csv_rows = read_csv(b"".join(csv_export(columns, rows, language="en")))
    assert D(csv_rows[-1][1]) == sum(amounts, D(0))
    sheet = load_workbook(xlsx_export(columns, rows, language="en", title="t")).worksheets[0]
    assert D(str(list(sheet.iter_rows(values_only=True))[-1][1])).quantize(D("0.01")) == sum(amounts, D(0))


@pytest.mark.parametrize(
    ("query", "active", "expected"),
    [
        ({}, "zh-hans", "zh-hans"),
        ({}, "en", "en"),
        ({"lang": "en"}, "zh-hans", "en"),
        ({"lang": "zh"}, "en", "zh-hans"),
    ],
)
def test_the_language_is_asked_for_or_the_page_s(query, active, expected):
    with translation.override(active):
        assert export_language(query) == expected


@pytest.mark.parametrize("bad", ["fr", "<script>", "x" * 500])
def test_an_unknown_language_or_format_is_refused_clearly(bad):
    with pytest.raises(ExportParameterError) as refused:
        export_language({"lang": bad})
    assert "lang=en" in str(refused.value.message) and len(str(refused.value.message)) < 200
    with pytest.raises(ExportParameterError):
        export_format(bad)
