"""The settlements export in the admin: the user's scope, labelled columns, formats, a totals row to the fen."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from core.spreadsheets import COUNT_FORMAT, MONEY_FORMAT, PERCENT_FORMAT, export_headers
from revenue.settlement.exports import SETTLEMENT_EXPORT_COLUMNS
from revenue.settlement.models import Settlement
from tests.revenue.settlement.test_admin import closed  # noqa: F401 — the fixture

D = Decimal
EXPORT = reverse("admin:settlement_settlement_export")
PAYABLE = 12
COUNT = 4


def sheet_of(response):
    return load_workbook(io.BytesIO(b"".join(response.streaming_content))).worksheets[0]


def test_finance_exports_every_settlement_with_totals(client, finance, closed):  # noqa: F811
    client.force_login(finance)
    sheet = sheet_of(client.get(EXPORT, {"period": "2026-10", "format": "xlsx"}))
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == export_headers(SETTLEMENT_EXPORT_COLUMNS, "en")  # the suite runs in English
    assert sheet.freeze_panes == "A2"
    body, totals = rows[1:-1], rows[-1]
    settlements = Settlement.objects.filter(period__start__year=2026, period__start__month=10)
    assert len(body) == settlements.count() == 2
    assert body[0][PAYABLE].number_format == MONEY_FORMAT and body[0][COUNT].number_format == COUNT_FORMAT
    assert body[0][10].number_format == PERCENT_FORMAT  # the VAT rate
    assert D(str(totals[PAYABLE].value)).quantize(D("0.01")) == sum(s.payable for s in settlements)
    assert totals[COUNT].value == sum(s.transaction_count for s in settlements)
    closed_at = [row[14] for row in body]
    assert all(cell.value is not None and "+08:00" in cell.number_format for cell in closed_at)


def test_an_rm_exports_only_their_branch_in_chinese_on_request(client, rm_b, active_y, closed):  # noqa: F811
    client.force_login(rm_b)
    response = client.get(EXPORT, {"period": "2026-10", "lang": "zh-hans"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, *body, totals = text.splitlines()
    assert totals.startswith("合计") or totals.startswith("Total")
    assert header.split(",") == export_headers(SETTLEMENT_EXPORT_COLUMNS, "zh-hans")
    assert "企业名称" in header and "应付金额" in header
    assert len(body) == 1 and active_y.legal_name in body[0]


@pytest.mark.parametrize(
    "query",
    [{}, {"period": "2026-13"}, {"period": "2026-10", "format": "pdf"}, {"period": "2026-10", "lang": "de"}],
)
def test_bad_parameters_are_a_clear_400(client, finance, closed, query):  # noqa: F811
    client.force_login(finance)
    response = client.get(EXPORT, query)
    assert response.status_code == 400 and response.content


def test_the_transactions_export_as_xlsx_too(client, rm_b, active_y, closed):  # noqa: F811
    settlement = Settlement.objects.get(partner=active_y)
    client.force_login(rm_b)
    response = client.get(reverse("admin:settlement_settlement_xlsx", args=[settlement.pk]))
    rows = list(sheet_of(response).iter_rows(values_only=True))
    assert rows[-1][0].startswith("Total") and len(rows) == 1 + settlement.transaction_count + 1
    assert D(str(rows[-1][-1])).quantize(D("0.01")) == settlement.bank_revenue


def test_the_settlement_list_links_to_its_month_s_export(client, finance, closed):  # noqa: F811
    client.force_login(finance)
    page = client.get(reverse("admin:settlement_settlement_changelist")).content.decode()
    assert f"{EXPORT}?period=2026-10&amp;format=xlsx" in page
