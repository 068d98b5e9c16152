"""Bulk import (all or nothing, every bad row reported, own branch only) and export (scoped, formula-safe)."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
import tablib

from onboarding.errors import NotPermitted
from onboarding.models import AdmissionState, Partner, PartnerType
from onboarding.selectors import partner_state_log
from onboarding.services import partner_export, partner_import
from tests.factories import PartnerFactory

HEADER = "partner_type,legal_name,credit_code,legal_representative,registered_capital,contact_phone,risk_rating\n"


def _csv(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode()


GOOD_1 = "software_data,深圳数联软件有限公司,91440300192185379H,李雷,10000000,0755-88886666,low"
GOOD_2 = "硬件服务商,深圳智造物联科技有限公司,91110000100017643K,韩梅梅,5000000.50,,高"


def test_rm_imports_into_own_branch(rm_a, branch_a):
    report = partner_import(content=_csv(GOOD_1, GOOD_2), file_format="csv", by=rm_a)

    assert report.ok, report.errors
    assert report.created == 2
    first = Partner.objects.get(credit_code="91440300192185379H")
    second = Partner.objects.get(credit_code="91110000100017643K")
    assert (first.branch, first.relationship_manager, first.state) == (branch_a, rm_a, AdmissionState.DRAFT)
    assert (second.partner_type, second.risk_rating) == (PartnerType.HARDWARE, "high")  # labels accepted
    assert str(second.registered_capital) == "5000000.50"
    assert second.evidence_items.count() == 2  # the same creation rules as one case typed in
    assert partner_state_log(partner=first).get().transition == "create"


def test_one_bad_row_writes_nothing_and_every_bad_row_is_reported(rm_a, partner_x, rm_b):
    data = _csv(
        GOOD_1,
        "software_data,坏码有限公司,91440300192185379J,张三,1,,low",  # row 2: check character
        f"software_data,重复有限公司,{partner_x.credit_code},张三,1,,low",  # row 3: duplicate of an existing partner
        "platform,类型错误有限公司,91310000132200821H,张三,1,,low",  # row 4: unknown type
        "software_data,深圳数联软件有限公司分号,91440300192185379H,李雷,1,,low",  # row 5: duplicate within the file
        "pe_vc,金额错误有限公司,91330000142927960N,张三,lots,,low",  # row 6: not a number
    )

    report = partner_import(content=data, file_format="csv", by=rm_a)

    assert report.created == 0
    assert not Partner.objects.exclude(pk=partner_x.pk).exists()
    rows = dict(report.errors)
    assert sorted(rows) == [2, 3, 4, 5, 6]
    assert "GB 32100-2015" in rows[2]
    assert "already exists" in rows[3]
    assert "platform" in rows[4] and "partner_type" in rows[4]
    assert "already exists" in rows[5]
    assert "not a number" in rows[6]


def test_rm_cannot_import_into_another_branch(rm_a, rm_b):
    data = (
        "partner_type,legal_name,credit_code,legal_representative,branch,relationship_manager\n"
        "hardware,杭州某某科技有限公司,91110000100017643K,王五,HZ,rm_b\n"
        "hardware,深圳某某科技有限公司,91440300192185379H,王五,SZ,rm_a\n"
        "hardware,未知分行科技有限公司,91310000132200821H,王五,XX,rm_a\n"
    ).encode()

    report = partner_import(content=data, file_format="csv", by=rm_a)

    rows = dict(report.errors)
    assert sorted(rows) == [1, 3]
    assert "own branch" in rows[1]
    assert "Unknown branch code" in rows[3]
    assert not Partner.objects.exists()


def test_head_office_imports_for_any_branch_naming_the_rm(head_office, rm_b, branch_b):
    data = (
        "partner_type,legal_name,credit_code,legal_representative,branch,relationship_manager\n"
        "supply_chain,杭州鲜乳供应链管理有限公司,91110000100017643K,王五,HZ,rm_b\n"
    ).encode()
    report = partner_import(content=data, file_format="csv", by=head_office)
    assert report.ok and report.created == 1
    assert Partner.objects.get().branch == branch_b


def test_import_needs_its_own_permission(reviewer_a, finance):
    for user in (reviewer_a, finance):
        with pytest.raises(NotPermitted):
            partner_import(content=_csv(GOOD_1), file_format="csv", by=user)
    assert not Partner.objects.exists()


def test_xlsx_import(rm_a):
    headers = ["partner_type", "legal_name", "credit_code", "legal_representative", "contact_phone"]
    book = tablib.Dataset(headers=headers)
    book.append(["pe_vc", "深圳前海远望投资管理有限公司", "91440300192185379H", "周杰", 13800138000])
    report = partner_import(content=book.export("xlsx"), file_format="xlsx", by=rm_a)
    assert report.ok, report.errors
    assert Partner.objects.get().contact_phone == "13800138000"


def test_dry_run_writes_nothing(rm_a):
    report = partner_import(content=_csv(GOOD_1), file_format="csv", by=rm_a, dry_run=True)
    assert report.ok and report.created == 0
    assert not Partner.objects.exists()


@pytest.fixture
def formula_partner(rm_a):
    return PartnerFactory(
        legal_name='=HYPERLINK("http://evil.example","点击")',
        contact_name="@SUM(A1:A9)",
        contact_phone="+86 755 8888 6666",
        settlement_bank="-2+3",
        settlement_account_name="\tcmd",
        settlement_account_no="\r=1+1",
        legal_representative="张三",
        branch=rm_a.branch,
        relationship_manager=rm_a,
    )


def test_csv_export_neutralises_formulas(formula_partner, rm_a):
    rows = list(csv.DictReader(io.StringIO(partner_export(by=rm_a, file_format="csv"))))
    (row,) = rows
    assert row["legal_name"] == '\'=HYPERLINK("http://evil.example","点击")'
    assert row["contact_name"] == "'@SUM(A1:A9)"
    assert row["contact_phone"] == "'+86 755 8888 6666"
    assert row["settlement_bank"] == "'-2+3"
    assert row["settlement_account_name"] == "'\tcmd"
    assert row["legal_representative"] == "张三"  # ordinary text untouched
    assert row["credit_code"] == formula_partner.credit_code


def test_xlsx_export_holds_no_formula(formula_partner, rm_a):
    book = openpyxl.load_workbook(io.BytesIO(partner_export(by=rm_a, file_format="xlsx")))
    cells = [c for row in book.active.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    values = {c.value for c in cells}
    assert '\'=HYPERLINK("http://evil.example","点击")' in values
    assert "'-2+3" in values


def test_export_is_scoped_to_the_branch(partner_x, partner_y, rm_a, rm_b, head_office):
    def codes(user):
        return {r["credit_code"] for r in csv.DictReader(io.StringIO(partner_export(by=user, file_format="csv")))}

    assert codes(rm_a) == {partner_x.credit_code}
    assert codes(rm_b) == {partner_y.credit_code}
    assert codes(head_office) == {partner_x.credit_code, partner_y.credit_code}
    # Even a wider queryset handed in cannot widen the export.
    wide = partner_export(by=rm_b, file_format="csv", queryset=Partner.objects.all())
    assert partner_x.credit_code not in wide
