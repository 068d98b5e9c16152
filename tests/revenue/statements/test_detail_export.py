"""The statement's transaction detail as a partner's accountant opens it: Chinese headers by default, English
with ``?lang=en`` or in the English portal, money formats, a frozen header, totals equal to the statement's
lines to the fen, Beijing times with their offset; a bad parameter is a 400 and records no download."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.utils import translation
from openpyxl import load_workbook

from core.spreadsheets import MONEY_FORMAT, export_headers
from revenue.statements.exports import detail_export_columns
from revenue.statements.models import DownloadEvent
from revenue.statements.selectors import DETAIL_COLUMNS
from tests.revenue.statements.test_detail import closed_october  # noqa: F401 — the fixture

D = Decimal
BANK_REVENUE = DETAIL_COLUMNS.index("attributed_bank_revenue")
OCCURRED_AT = DETAIL_COLUMNS.index("occurred_at")


@pytest.fixture(autouse=True)
def _english(settings):
    """Unlike the rest of the revenue suite, these pages run in the product's own default, Chinese."""
    settings.LANGUAGE_CODE = "zh-hans"
    with translation.override("zh-hans"):
        yield


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def ledger_revenue(settlement) -> Decimal:
    return sum((line.bank_revenue for line in settlement.lines.filter(kind__in=["product", "adjustment"])), D(0))


def test_csv_headers_are_chinese_by_default_and_english_on_request(closed_october, portal_x):  # noqa: F811
    url = f"/portal/settlements/{closed_october.pk}/transactions.csv"
    zh = csv_rows(portal_x.get(url))
    assert zh[0] == export_headers(detail_export_columns(), "zh-hans")
    assert {"发生时间", "外部流水号", "中小企业名称", "归属银行收入（元）"} <= set(zh[0])
    assert not {"line_kind", "attributed_bank_revenue", "occurred_at"} & set(zh[0])  # no machine names
    en = csv_rows(portal_x.get(url + "?lang=en"))
    assert en[0] == export_headers(detail_export_columns(), "en")
    assert "Attributed bank revenue (CNY)" in en[0]
    # The English portal downloads English headers without asking.
    portal_x.cookies["django_language"] = "en"
    assert csv_rows(portal_x.get(url, HTTP_ACCEPT_LANGUAGE="en"))[0] == en[0]


def test_csv_times_are_beijing_with_offset_and_totals_add_up(closed_october, portal_x):  # noqa: F811
    rows = csv_rows(portal_x.get(f"/portal/settlements/{closed_october.pk}/transactions.csv?lang=en"))
    body, totals = rows[1:-1], rows[-1]
    assert len(body) == closed_october.transaction_count
    assert all(row[OCCURRED_AT].endswith("+08:00") for row in body)
    o1 = next(row for row in body if row[DETAIL_COLUMNS.index("external_id")] == "O1")
    assert o1[OCCURRED_AT] == "2026-10-01 00:10:00+08:00"  # 2026-09-30 16:10 UTC
    assert totals[0].startswith("Total")
    assert D(totals[BANK_REVENUE]) == sum(D(row[BANK_REVENUE]) for row in body) == ledger_revenue(closed_october)


def test_xlsx_is_formatted_frozen_totalled_and_explained(closed_october, portal_x):  # noqa: F811
    response = portal_x.get(f"/portal/settlements/{closed_october.pk}/transactions.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet, dictionary = book.worksheets
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == export_headers(detail_export_columns(), "zh-hans")
    body, totals = rows[1:-1], rows[-1]
    assert all(row[BANK_REVENUE].number_format == MONEY_FORMAT for row in [*body, totals])
    assert all("+08:00" in row[OCCURRED_AT].number_format for row in body)
    total = D(str(totals[BANK_REVENUE].value)).quantize(D("0.01"))
    assert total == sum(D(str(row[BANK_REVENUE].value)) for row in body).quantize(D("0.01"))
    assert total == ledger_revenue(closed_october)
    described = {row[0]: row for row in dictionary.iter_rows(min_row=2, values_only=True)}
    assert set(described) == set(export_headers(detail_export_columns(), "zh-hans"))
    assert all(meaning for _column, meaning, _unit in described.values())


@pytest.mark.parametrize("query", ["?lang=fr", "?lang=zh-tw", "?lang=" + "x" * 300])
def test_a_bad_language_is_a_400_and_no_download(closed_october, portal_x, api_x, query):  # noqa: F811
    before = DownloadEvent.objects.count()
    response = portal_x.get(f"/portal/settlements/{closed_october.pk}/transactions.xlsx{query}")
    assert response.status_code == 400 and "lang=en" in response.content.decode()
    api = api_x.get(f"/api/v1/partner/settlements/{closed_october.pk}/transactions.csv{query}")
    assert api.status_code == 400
    assert DownloadEvent.objects.count() == before


def test_the_api_file_follows_lang_and_the_scope_is_unchanged(closed_october, api_x, portal_y):  # noqa: F811
    response = api_x.get(f"/api/v1/partner/settlements/{closed_october.pk}/transactions.csv?lang=en")
    assert response.status_code == 200
    assert csv_rows(response)[0] == export_headers(detail_export_columns(), "en")
    # Another partner's detail is not found, in any language.
    assert portal_y.get(f"/portal/settlements/{closed_october.pk}/transactions.csv?lang=en").status_code == 404
