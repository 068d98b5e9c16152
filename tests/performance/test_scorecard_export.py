"""The scorecards export: the dashboard's KPI names and words, percentages, counts and yuan, Beijing times."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from core.spreadsheets import COUNT_FORMAT, MONEY_FORMAT, PERCENT_FORMAT, export_headers
from performance.services.exports import SCORECARD_EXPORT_COLUMNS
from performance.vocabulary import KPI, in_language
from tests.performance.test_dashboard import EXPORT, built  # noqa: F401 — the fixture

D = Decimal
KPI_NAME, TARGET, ACHIEVEMENT, WEIGHT, AS_OF = 6, 7, 9, 10, 12


def test_csv_in_chinese_has_the_dashboard_s_kpi_names_and_beijing_times(client, head_office, built):  # noqa: F811
    client.force_login(head_office)
    response = client.get(EXPORT, {"period": "2026-10", "format": "csv", "lang": "zh-hans"})
    header, *rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert header == export_headers(SCORECARD_EXPORT_COLUMNS, "zh-hans")
    assert {"总分", "排名", "目标值", "实际值", "达成率", "权重", "加权得分", "数据截至"} <= set(header)
    assert {row[KPI_NAME] for row in rows} == {
        in_language(KPI.TRANSACTION_VOLUME.label, "zh-hans"),
        "服务商渠道银行收入",
    }
    assert all(row[AS_OF].endswith("+08:00") for row in rows)  # not UTC
    assert all(row[WEIGHT] == "50.00%" for row in rows)
    assert rows[-1][0] == "2026-10"  # no totals row: lines of different KPIs do not add up


def test_xlsx_formats_rates_as_percent_and_figures_as_yuan(client, rm_a, built):  # noqa: F811
    client.force_login(rm_a)
    response = client.get(EXPORT, {"period": "2026-10", "format": "xlsx"})
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    assert sheet.freeze_panes == "A2" and len(book.worksheets) == 2
    header, *rows = list(sheet.iter_rows())
    assert [c.value for c in header] == export_headers(SCORECARD_EXPORT_COLUMNS, "en")  # the English admin
    assert {row[1].value for row in rows} == {"SZ"}  # an RM: own branch only
    assert all(row[ACHIEVEMENT].number_format == PERCENT_FORMAT for row in rows)
    assert all(row[TARGET].number_format == MONEY_FORMAT for row in rows)  # both KPIs here are yuan
    assert all(row[3].number_format == COUNT_FORMAT for row in rows)  # the rank
    assert all("+08:00" in row[AS_OF].number_format for row in rows)


@pytest.mark.parametrize(
    "query",
    [{"period": "2026-10", "format": "pdf"}, {"period": "2026-10", "lang": "jp"}, {"period": "last"}, {}],
)
def test_bad_parameters_are_a_400(client, head_office, built, query):  # noqa: F811
    client.force_login(head_office)
    assert client.get(EXPORT, query).status_code == 400
