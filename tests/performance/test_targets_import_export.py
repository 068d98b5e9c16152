"""Branch targets from and to spreadsheets: all or nothing, every bad row reported, safe exports."""

import datetime as dt
import io
from decimal import Decimal as D

import openpyxl
import pytest

from core.errors import NotPermitted
from performance.errors import TargetImportRejected
from performance.models import BranchTarget
from performance.services import branch_targets_export, branch_targets_import_file
from tests.factories import BranchFactory

pytestmark = pytest.mark.usefixtures("english")

HEADER = "branch_code,period,kpi,target_value,weight\n"


def csv_bytes(*lines, header=HEADER, encoding="utf-8"):
    return (header + "".join(line + "\n" for line in lines)).encode(encoding)


def targets():
    return {
        (t.branch.code, t.period_label, t.kpi): (t.target_value, t.weight)
        for t in BranchTarget.objects.select_related("branch")
    }


def rejected_errors(content, by, file_format="csv"):
    with pytest.raises(TargetImportRejected) as refused:
        branch_targets_import_file(content=content, file_format=file_format, by=by)
    return {e["row"]: " ".join(e["messages"]) for e in refused.value.extra["errors"]}


GOOD = [
    "SZ,2026-10,partners_onboarded,10,0.2",
    "SZ,2026-10,active_partners,40,0.3",
    "SZ,2026-10,bank_revenue,1000000.00,0.5",
    "HZ,2026-Q4,bank_revenue,2500000,60%",
    "HZ,2026-Q4,smes_reached,300,0.4",
]


def test_import_creates_the_targets(head_office, branch_a, branch_b):
    summary = branch_targets_import_file(content=csv_bytes(*GOOD), file_format="csv", by=head_office)
    assert (summary.new, summary.updated) == (5, 0)
    assert targets() == {
        ("SZ", "2026-10", "partners_onboarded"): (D("10.00"), D("0.2000")),
        ("SZ", "2026-10", "active_partners"): (D("40.00"), D("0.3000")),
        ("SZ", "2026-10", "bank_revenue"): (D("1000000.00"), D("0.5000")),
        ("HZ", "2026-Q4", "bank_revenue"): (D("2500000.00"), D("0.6000")),
        ("HZ", "2026-Q4", "smes_reached"): (D("300.00"), D("0.4000")),
    }
    quarter = BranchTarget.objects.get(branch=branch_b, kpi="smes_reached")
    assert (quarter.period_kind, quarter.period_start) == ("quarter", dt.date(2026, 10, 1))


def test_importing_again_updates_rather_than_duplicates(head_office, branch_a, branch_b):
    branch_targets_import_file(content=csv_bytes(*GOOD), file_format="csv", by=head_office)
    summary = branch_targets_import_file(
        content=csv_bytes("SZ,2026-10,active_partners,45,0.3"), file_format="csv", by=head_office
    )
    assert (summary.new, summary.updated) == (0, 1)
    assert BranchTarget.objects.count() == 5
    assert targets()[("SZ", "2026-10", "active_partners")] == (D("45.00"), D("0.3000"))


def test_every_bad_row_is_reported_and_nothing_is_written(head_office, branch_a, branch_b):
    content = csv_bytes(
        "SZ,2026-11,partners_onboarded,10,0.5",  # 1 fine on its own
        "XX,2026-11,active_partners,10,0.5",  # 2 unknown branch
        "SZ,2026-13,active_partners,10,0.5",  # 3 bad period
        "SZ,2026-11,merchant_count,10,0.5",  # 4 unknown KPI
        "HZ,2026-11,active_partners,10,0",  # 5 weight zero
        "HZ,2026-11,bank_revenue,10,1.5",  # 6 weight above 1
        "HZ,2026-11,smes_reached,-1,0.5",  # 7 negative target
        "SZ,2026-11,partners_onboarded,12,0.5",  # 8 duplicate of row 1
        "HZ,2027,bank_revenue,100,0.7",  # 9 and 10: year weights sum to 0.9
        "HZ,2027,smes_reached,100,0.2",
        "HZ,2027-Q1,bank_revenue,abc,0.5",  # 11 target not a number
    )
    errors = rejected_errors(content, head_office)
    assert set(errors) == {2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
    assert "Unknown branch code 'XX'" in errors[2]
    assert "Bad period '2026-13'" in errors[3]
    assert "Unknown KPI 'merchant_count'" in errors[4]
    assert "out of range" in errors[5] and "out of range" in errors[6]
    assert "negative" in errors[7]
    assert "Row 1 already sets" in errors[8]
    assert "sum to 0.9" in errors[9] and "rows 9, 10" in errors[10]
    assert "not a number" in errors[11]
    assert BranchTarget.objects.count() == 0


def test_weights_count_targets_already_set_and_not_in_the_file(head_office, branch_a):
    branch_targets_import_file(
        content=csv_bytes("SZ,2026-10,active_partners,40,0.5", "SZ,2026-10,bank_revenue,100,0.5"),
        file_format="csv",
        by=head_office,
    )
    # Changing one weight alone breaks the sum with the kept target ...
    errors = rejected_errors(csv_bytes("SZ,2026-10,bank_revenue,100,0.6"), head_office)
    assert "sum to 1.1" in errors[1] and "active_partners 0.5000" in errors[1]
    # ... changing both together is fine.
    branch_targets_import_file(
        content=csv_bytes("SZ,2026-10,active_partners,40,0.4", "SZ,2026-10,bank_revenue,100,0.6"),
        file_format="csv",
        by=head_office,
    )
    assert targets()[("SZ", "2026-10", "bank_revenue")] == (D("100.00"), D("0.6000"))


def test_missing_columns_are_reported_once(head_office, branch_a):
    errors = rejected_errors(
        csv_bytes("SZ,2026-10,bank_revenue,100", header="branch_code,period,kpi,target\n"), head_office
    )
    assert list(errors) == [None]
    assert "target_value, weight" in errors[None]


def test_only_head_office_imports(rm_a, finance, branch_a):
    for user in (rm_a, finance):
        with pytest.raises(NotPermitted):
            branch_targets_import_file(content=csv_bytes(*GOOD[:3]), file_format="csv", by=user)
    assert BranchTarget.objects.count() == 0


def test_gb18030_csv_from_chinese_excel(head_office):
    BranchFactory(code="深圳", name="深圳中心支行")
    content = csv_bytes("深圳,2026-10,bank_revenue,100,1", encoding="gb18030")
    branch_targets_import_file(content=content, file_format="csv", by=head_office)
    assert targets() == {("深圳", "2026-10", "bank_revenue"): (D("100.00"), D("1.0000"))}


def test_xlsx_with_spreadsheet_typed_cells(head_office, branch_a):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["branch_code", "period", "kpi", "target_value", "weight"])
    sheet.append(["SZ", dt.datetime(2026, 10, 1), "bank_revenue", 1200.5, 0.75])  # "2026-10" typed as a date
    sheet.append(["SZ", dt.datetime(2026, 10, 1), "smes_reached", 30, 0.25])
    sheet.append(["SZ", 2026, "bank_revenue", 15000, 1])  # "2026" typed as a number
    buffer = io.BytesIO()
    book.save(buffer)
    branch_targets_import_file(content=buffer.getvalue(), file_format="xlsx", by=head_office)
    assert targets() == {
        ("SZ", "2026-10", "bank_revenue"): (D("1200.50"), D("0.7500")),
        ("SZ", "2026-10", "smes_reached"): (D("30.00"), D("0.2500")),
        ("SZ", "2026", "bank_revenue"): (D("15000.00"), D("1.0000")),
    }


def test_unreadable_file_is_refused(head_office):
    with pytest.raises(TargetImportRejected):
        branch_targets_import_file(content=b"not a zip", file_format="xlsx", by=head_office)


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@"])
def test_export_neutralises_formula_like_cells(head_office, make_target, prefix):
    branch = BranchFactory(code="EV1", name=f'{prefix}HYPERLINK("http://evil.example","点我")')
    BranchTarget.objects.create(
        branch=branch,
        period_kind="month",
        period_start=dt.date(2026, 10, 1),
        kpi="bank_revenue",
        target_value=D("100.00"),
        weight=D("1"),
    )
    text = branch_targets_export(by=head_office, file_format="csv").decode("utf-8-sig")
    assert f"'{prefix}HYPERLINK" in text
    book = openpyxl.load_workbook(io.BytesIO(branch_targets_export(by=head_office, file_format="xlsx")))
    rows = list(book.active.iter_rows(values_only=False))
    name_cell = rows[1][rows[0].index(next(c for c in rows[0] if c.value == "branch_name"))]
    assert name_cell.data_type == "s"
    assert name_cell.value.startswith(f"'{prefix}")


def test_exported_workbook_imports_back_unchanged(head_office, branch_a, branch_b):
    branch_targets_import_file(content=csv_bytes(*GOOD), file_format="csv", by=head_office)
    before = targets()
    for file_format in ("xlsx", "csv"):
        exported = branch_targets_export(by=head_office, file_format=file_format)
        summary = branch_targets_import_file(content=exported, file_format=file_format, by=head_office)
        assert (summary.new, summary.updated) == (0, 5)
        assert targets() == before


def test_export_is_head_office_only(rm_a, finance):
    for user in (rm_a, finance):
        with pytest.raises(NotPermitted):
            branch_targets_export(by=user, file_format="csv")


def test_dry_run_writes_nothing(head_office, branch_a, branch_b):
    summary = branch_targets_import_file(content=csv_bytes(*GOOD), file_format="csv", by=head_office, dry_run=True)
    assert summary.new == 5
    assert BranchTarget.objects.count() == 0
