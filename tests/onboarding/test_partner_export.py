"""The labelled partner list: the list's scope and filters, headers in either language, re-importable."""

from __future__ import annotations

import csv
import io

import pytest
import tablib
from django.urls import reverse
from openpyxl import load_workbook

from core.spreadsheets import MONEY_FORMAT, PERCENT_FORMAT, export_headers
from onboarding.exports import PARTNER_EXPORT_COLUMNS, PARTNER_EXPORT_FIELDS
from onboarding.models import Partner
from onboarding.services import partner_import

EXPORT = reverse("admin:onboarding_partner_export_file")
CODE = list(PARTNER_EXPORT_FIELDS).index("credit_code")


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_chinese_by_default_and_scoped_to_the_branch(client, rm_b, partner_x, partner_y):
    client.force_login(rm_b)
    header, *rows = rows_of(client.get(EXPORT, {"format": "csv"}))
    assert header == export_headers(PARTNER_EXPORT_COLUMNS, "zh-hans")
    assert {"企业名称", "统一社会信用代码", "注册资本（元）", "增值税税率"} <= set(header)
    assert [row[CODE] for row in rows] == [partner_y.credit_code]  # never another branch's partner


def test_english_xlsx_with_formats_and_the_list_s_filters(client, head_office, partner_x, partner_y):
    client.force_login(head_office)
    response = client.get(EXPORT, {"format": "xlsx", "lang": "en", "q": partner_x.credit_code})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).worksheets[0]
    header, *rows = list(sheet.iter_rows())
    assert [c.value for c in header] == export_headers(PARTNER_EXPORT_COLUMNS, "en")
    assert "Unified social credit code" in [c.value for c in header]
    assert [row[CODE].value for row in rows] == [partner_x.credit_code]  # the search narrowed it
    assert rows[0][4].number_format == MONEY_FORMAT and rows[0][14].number_format == PERCENT_FORMAT
    assert sheet.freeze_panes == "A2"


@pytest.mark.parametrize("query", [{"format": "pdf"}, {"format": "csv", "lang": "xx"}, {"format": "csv", "nope": "1"}])
def test_bad_parameters_are_a_400(client, head_office, query):
    client.force_login(head_office)
    assert client.get(EXPORT, query).status_code == 400


def test_the_labelled_export_imports_again(client, rm_a, branch_a):
    # A file laid out like the export, in Chinese headers, for a partner not yet registered.
    headers = export_headers(PARTNER_EXPORT_COLUMNS, "zh-hans")
    values = {
        "partner_type": "软件和数据服务商",
        "legal_name": "深圳数联软件有限公司",
        "credit_code": "91440300192185379H",
        "legal_representative": "李雷",
        "registered_capital": "10000000.00",
        "branch": branch_a.code,
        "relationship_manager": rm_a.username,
        "vat_rate": "3.00%",  # as the CSV export writes a rate
    }
    data = tablib.Dataset(headers=headers)
    data.append([values.get(name, "") for name in PARTNER_EXPORT_FIELDS])
    report = partner_import(content=data.export("csv").encode(), file_format="csv", by=rm_a)
    assert report.ok, report.errors
    imported = Partner.objects.get(credit_code="91440300192185379H")
    assert (imported.legal_name, str(imported.vat_rate)) == ("深圳数联软件有限公司", "0.0300")


def test_the_list_links_to_the_labelled_exports_with_its_filters(client, head_office, partner_x):
    client.force_login(head_office)
    page = client.get(reverse("admin:onboarding_partner_changelist"), {"q": "深圳"}).content.decode()
    assert f"{EXPORT}?q=%E6%B7%B1%E5%9C%B3&amp;format=xlsx" in page
