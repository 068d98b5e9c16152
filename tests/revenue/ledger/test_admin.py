"""The revenue admin: a read-only, branch-scoped ledger with an all-or-nothing import; head office edits agreements."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook

from onboarding.models import PartnerType
from revenue.ledger.choices import RuleKind
from revenue.ledger.models import AgreementVersion, IngestionBatch, Transaction
from revenue.ledger.services import (
    agreement_create,
    agreement_version_create,
    agreement_versions_lock,
    transactions_ingest,
)
from tests.revenue.factories import reversal_row, txn_row

CHANGELIST = "/admin/ledger/transaction/"
IMPORT = "/admin/ledger/transaction/import/"


@pytest.fixture
def ledger(pay, active_x, active_y):
    x, y = active_x.credit_code, active_y.credit_code
    transactions_ingest(
        rows=[
            txn_row(active_x, "SZ-1", occurred_at="2026-10-03T10:00:00"),
            txn_row(active_x, "SZ-2", occurred_at="2026-09-03T10:00:00"),
            txn_row(active_y, "HZ-1", occurred_at="2026-10-04T10:00:00"),
            txn_row(f"{y}:0.5;{x}:0.5", "HZ-CO", occurred_at="2026-10-05T10:00:00"),
            reversal_row("SZ-R", "SZ-1"),
        ],
        source="payments",
        by=None,
    )
    return {t.external_id: t for t in Transaction.objects.all()}


def listed(client, **params) -> set[str]:
    response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    return {t.external_id for t in response.context["cl"].result_list}


def test_rms_see_their_branchs_transactions_only(client, ledger, head_office, rm_a, rm_b, finance):
    client.force_login(head_office)
    assert listed(client) == {"SZ-1", "SZ-2", "HZ-1", "HZ-CO", "SZ-R"}
    client.force_login(finance)
    assert len(listed(client)) == 5
    client.force_login(rm_a)
    assert listed(client) == {"SZ-1", "SZ-2", "SZ-R"}
    # Another branch's transaction by URL: not found, not shown.
    assert client.get(f"{CHANGELIST}{ledger['HZ-1'].pk}/change/").status_code == 302
    assert client.get(f"{CHANGELIST}{ledger['SZ-1'].pk}/change/").status_code == 200
    client.force_login(rm_b)
    assert listed(client) == {"HZ-1", "HZ-CO"}


def test_the_ledger_is_read_only_in_the_admin(client, ledger, head_office):
    client.force_login(head_office)
    txn = ledger["SZ-1"]
    page = client.get(f"{CHANGELIST}{txn.pk}/change/")
    assert page.status_code == 200 and b'name="amount"' not in page.content
    assert client.post(f"{CHANGELIST}{txn.pk}/change/", {"amount": "1.00"}).status_code == 403
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    assert client.post(f"{CHANGELIST}{txn.pk}/delete/", {"post": "yes"}).status_code == 403
    response = client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [txn.pk], "post": "yes"})
    assert response.status_code in (200, 302)
    txn.refresh_from_db()
    assert txn.amount == Decimal("1000.00") and Transaction.objects.count() == 5


def test_filters_and_search(client, ledger, head_office, active_x, pay):
    client.force_login(head_office)
    assert listed(client, period="2026-09") == {"SZ-2"}
    assert listed(client, kind="reversal") == {"SZ-R"}
    assert listed(client, partner=active_x.pk) == {"SZ-1", "SZ-2", "HZ-CO", "SZ-R"}
    assert listed(client, branch=active_x.branch_id) == {"SZ-1", "SZ-2", "SZ-R"}
    assert listed(client, product=pay.pk) == {"SZ-1", "SZ-2", "HZ-1", "HZ-CO", "SZ-R"}
    assert listed(client, q="HZ-CO") == {"HZ-CO"}
    assert listed(client, q="深圳云账房") == {"SZ-1", "SZ-2", "HZ-CO", "SZ-R"}  # partner X's name
    assert listed(client, q=active_x.credit_code, period="2026-10", kind="normal") == {"SZ-1", "HZ-CO"}


def test_the_list_costs_the_same_queries_for_any_number_of_rows(client, pay, active_x, active_y, head_office):
    client.force_login(head_office)
    transactions_ingest(rows=[txn_row(active_x, "Q-0")], source="payments", by=None)
    with CaptureQueriesContext(connection) as few:
        client.get(CHANGELIST)
    co = f"{active_x.credit_code}:0.5;{active_y.credit_code}:0.5"
    transactions_ingest(
        rows=[txn_row(active_x if i % 2 else co, f"Q-{i}") for i in range(1, 40)] + [reversal_row("Q-R", "Q-0")],
        source="payments",
        by=None,
    )
    with CaptureQueriesContext(connection) as many:
        response = client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 41
    assert len(many) == len(few)


def _csv(*lines: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("october.csv", ("\n".join(lines) + "\n").encode(), content_type="text/csv")


HEADER = "external_id,partner,sme_id,sme_name,product,amount,bank_revenue,occurred_at"


def test_a_csv_import_books_through_the_service(client, pay, active_x, head_office):
    client.force_login(head_office)
    code = active_x.credit_code
    upload = _csv(
        HEADER,
        f"I-1,{code},S1,甲公司,PAY_SETTLE,100.00,0.60,2026-10-01T10:00:00",
        f"I-2,{code},S2,,PAY_SETTLE,5,0,2026-10-02 11:00",
    )

    response = client.post(IMPORT, {"source": "payments", "file": upload}, follow=True)

    assert response.status_code == 200
    assert "2 transactions booked" in response.content.decode()
    batch = IngestionBatch.objects.get()
    assert (batch.channel, batch.filename, batch.received_by, batch.rows_created) == (
        "admin_import",
        "october.csv",
        head_office,
        2,
    )


def test_a_csv_with_bad_rows_is_rejected_with_every_line(client, pay, active_x, head_office):
    client.force_login(head_office)
    code = active_x.credit_code
    upload = _csv(
        HEADER,
        f"I-1,{code},S1,甲公司,PAY_SETTLE,100.00,0.60,2026-10-01T10:00:00",
        f"I-2,{code},S2,乙公司,PAY_SETTLE,1.234,0.60,2026-10-01T10:00:00",
        "I-3,NOPE,S3,丙公司,PAY_SETTLE,1.00,0.60,2026-13-01T10:00:00",
    )
    response = client.post(IMPORT, {"source": "payments", "file": upload})

    assert response.status_code == 200
    rows = [(e.row, e.field, e.code) for e in response.context["errors"]]
    assert rows == [(3, "amount", "invalid_amount"), (4, "occurred_at", "invalid_timestamp")]
    assert "nothing was written" in response.content.decode()
    assert not Transaction.objects.exists() and not IngestionBatch.objects.exists()


def test_an_xlsx_import(client, pay, active_x, head_office):
    client.force_login(head_office)
    book = Workbook()
    sheet = book.active
    sheet.append(["External_ID", "partner", "sme_id", "product", "amount", "bank_revenue", "occurred_at"])
    sheet.append(["X-1", active_x.credit_code, "S1", "PAY_SETTLE", 1250.5, 7, dt.datetime(2026, 10, 8, 14, 30)])
    sheet.append([None] * 7)  # a blank row is skipped, the numbering goes on
    sheet.append(["X-2", active_x.credit_code, "S2", "PAY_SETTLE", "88.00", "0.50", "2026-10-09T09:00:00+08:00"])
    buffer = io.BytesIO()
    book.save(buffer)
    upload = SimpleUploadedFile("october.xlsx", buffer.getvalue())

    response = client.post(IMPORT, {"source": "payments", "file": upload}, follow=True)

    assert "2 transactions booked" in response.content.decode()
    first = Transaction.objects.get(external_id="X-1")
    assert (first.amount, first.bank_revenue) == (Decimal("1250.50"), Decimal("7.00"))
    assert first.occurred_at == dt.datetime(2026, 10, 8, 6, 30, tzinfo=dt.UTC)  # Beijing 14:30

    sheet.append(["X-3", active_x.credit_code, "S3", "PAY_SETTLE", 0.123, 1, "2026-10-09"])
    buffer = io.BytesIO()
    book.save(buffer)
    response = client.post(IMPORT, {"source": "payments", "file": SimpleUploadedFile("b.xlsx", buffer.getvalue())})
    assert [(e.row, e.field) for e in response.context["errors"]] == [(5, "amount"), (5, "occurred_at")]


def test_a_file_without_the_required_columns(client, pay, head_office):
    client.force_login(head_office)
    response = client.post(IMPORT, {"source": "payments", "file": _csv("id,partner,amount", "1,x,2")})
    codes = {(e.field, e.code) for e in response.context["errors"]}
    assert ("id", "unknown_column") in codes and ("external_id", "missing_column") in codes


def test_only_head_office_imports(client, rm_a, finance):
    for user in (rm_a, finance):
        client.force_login(user)
        assert client.get(IMPORT).status_code == 403
        assert b"Import transactions" not in client.get(CHANGELIST).content


def test_products_are_head_office_s_to_edit(client, pay, head_office, rm_a):
    client.force_login(rm_a)
    assert client.get("/admin/ledger/product/").status_code == 200
    assert client.get("/admin/ledger/product/add/").status_code == 403
    assert client.post(f"/admin/ledger/product/{pay.pk}/change/", {"name": "x"}).status_code == 403
    client.force_login(head_office)
    response = client.post(
        "/admin/ledger/product/add/",
        {"code": "WEALTH", "name": "理财代销", "revenue_kind": "commission", "description": "", "is_active": "on"},
    )
    assert response.status_code == 302
    assert client.get(f"/admin/ledger/product/{pay.pk}/delete/").status_code == 403


def _version_form(agreement, tiers=(), **fields):
    data = {
        "agreement": agreement.pk,
        "valid_from": "2026-01-01",
        "valid_to": "",
        "rule_kind": RuleKind.TIERED_PROGRESSIVE,
        "rate": "",
        "fixed_amount": "",
        "tier_basis": "product_volume",
        "floor": "",
        "cap": "",
        "note": "",
        "tiers-TOTAL_FORMS": str(len(tiers)),
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for i, (lower, upper, rate) in enumerate(tiers):
        data.update({f"tiers-{i}-lower_bound": lower, f"tiers-{i}-upper_bound": upper or "", f"tiers-{i}-rate": rate})
    return data


def test_head_office_adds_a_tiered_version_with_its_slabs(client, pay, head_office, rm_a):
    agreement = agreement_create(product=pay, partner_type=PartnerType.SOFTWARE_DATA, by=head_office)
    client.force_login(rm_a)
    assert client.get("/admin/ledger/agreementversion/add/").status_code == 403
    assert client.get(f"/admin/ledger/agreement/{agreement.pk}/change/").status_code == 200  # read
    client.force_login(head_office)
    page = client.get(f"/admin/ledger/agreement/{agreement.pk}/change/")
    assert f"agreementversion/add/?agreement={agreement.pk}".encode() in page.content

    gap = client.post(
        "/admin/ledger/agreementversion/add/", _version_form(agreement, [("0", "100", "0.1"), ("200", "", "0.2")])
    )
    assert gap.status_code == 200 and "Gap" in gap.content.decode()
    assert not AgreementVersion.objects.exists()

    ok = client.post(
        "/admin/ledger/agreementversion/add/",
        _version_form(agreement, [("0", "100000", "0.1"), ("100000", "", "0.2")]),
    )
    assert ok.status_code == 302, ok.context and ok.context["errors"]
    version = AgreementVersion.objects.get()
    assert (version.number, version.created_by, version.tiers.count()) == (1, head_office, 2)

    overlap = client.post(
        "/admin/ledger/agreementversion/add/",
        _version_form(agreement, rule_kind="percentage", rate="0.2", tier_basis="", valid_from="2026-06-01"),
    )
    assert overlap.status_code == 200 and "already in force" in overlap.content.decode()


def test_a_version_used_in_a_settlement_is_view_only(client, pay, head_office):
    agreement = agreement_create(product=pay, partner_type=PartnerType.HARDWARE, by=head_office)
    version = agreement_version_create(
        agreement=agreement, valid_from=dt.date(2026, 1, 1), rule_kind="percentage", rate=Decimal("0.3"), by=head_office
    )
    agreement_versions_lock(versions=[version])
    client.force_login(head_office)
    url = f"/admin/ledger/agreementversion/{version.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and b'name="rate"' not in page.content
    assert (
        client.post(url, _version_form(agreement, rule_kind="percentage", rate="0.9", tier_basis="")).status_code == 403
    )
    assert client.post(f"/admin/ledger/agreementversion/{version.pk}/delete/", {"post": "yes"}).status_code == 403
    version.refresh_from_db()
    assert version.rate == Decimal("0.3")


def test_rms_see_defaults_and_their_own_partners_agreements(client, pay, partner_x, partner_y, head_office, rm_a):
    default = agreement_create(product=pay, partner_type=PartnerType.HARDWARE, by=head_office)
    own_x = agreement_create(product=pay, partner=partner_x, by=head_office)
    own_y = agreement_create(product=pay, partner=partner_y, by=head_office)
    client.force_login(rm_a)
    response = client.get("/admin/ledger/agreement/")
    assert {a.pk for a in response.context["cl"].result_list} == {default.pk, own_x.pk}
    assert client.get(f"/admin/ledger/agreement/{own_y.pk}/change/").status_code == 302
    assert reverse("admin:ledger_agreement_changelist")
