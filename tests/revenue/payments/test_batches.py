"""Payment batches: pain.001.001.09 valid against the XSD, control sum = payable, maker-checker, one live batch."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from lxml import etree

from core.periods import CHINA_TZ
from revenue.payments.choices import BatchState, ItemState
from revenue.payments.errors import InvalidState, MakerCheckerViolation, NotPayable, NotPermitted
from revenue.payments.files import Debtor, PaymentFileData, Transfer, pain001_xml
from revenue.payments.models import PaymentBatch
from revenue.payments.selectors import settlements_due_for_payment
from revenue.payments.services import (
    invoice_review,
    payment_batch_approve,
    payment_batch_cancel,
    payment_batch_create,
    payment_batch_file,
)
from revenue.statements.selectors import statement_number
from tests.revenue.payments.conftest import BANK, D, login, submit

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "data" / "pain.001.001.09.xsd")))
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}
EXECUTION = dt.date(2099, 1, 5)


def invoiced(settlement, user, finance, number):
    return invoice_review(invoice=submit(settlement, user, number=number), by=finance)


@pytest.fixture
def due(settlement_x, settlement_y, partner_user_x, partner_user_y, finance):
    """Two approved settlements with accepted invoices: 318.00 and 2,486.41 (2,345.67 × 30 % = 703.70 + 42.22)."""
    invoiced(settlement_x, partner_user_x, finance, "10000001")
    invoiced(settlement_y, partner_user_y, finance, "10000002")
    return [settlement_x, settlement_y]


def validate(xml: bytes) -> etree._Element:
    document = etree.fromstring(xml)
    SCHEMA.assertValid(document)
    return document


def test_the_file_validates_and_its_control_sum_is_the_payable(due, finance):
    batch = payment_batch_create(by=finance, execution_date=EXECUTION)
    xml = payment_batch_file(batch=batch, kind="xml", by=finance).content
    document = validate(xml)
    payable = sum((s.payable for s in due), Decimal("0.00"))
    assert payable == D("318.00") + D("745.92")
    assert document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == str(payable)
    assert document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "2"
    assert document.findtext("p:CstmrCdtTrfInitn/p:PmtInf/p:CtrlSum", namespaces=NS) == str(payable)
    assert (batch.control_sum, batch.transaction_count) == (payable, 2)
    info = document.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert info.findtext("p:Dbtr/p:Nm", namespaces=NS) == BANK["settlement_account_name"]
    assert info.findtext("p:DbtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == BANK["settlement_account_no"]
    assert info.findtext("p:DbtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) == BANK["settlement_bank_code"]
    assert info.findtext("p:ReqdExctnDt/p:Dt", namespaces=NS) == "2099-01-05"
    transfers = info.findall("p:CdtTrfTxInf", NS)
    assert [t.findtext("p:PmtId/p:EndToEndId", namespaces=NS) for t in transfers] == [statement_number(s) for s in due]
    assert [t.find("p:Amt/p:InstdAmt", NS).text for t in transfers] == [str(s.payable) for s in due]
    assert {t.find("p:Amt/p:InstdAmt", NS).get("Ccy") for t in transfers} == {"CNY"}
    assert [t.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) for t in transfers] == [
        s.partner.settlement_account_no for s in due
    ]
    import hashlib

    assert hashlib.sha256(xml).hexdigest() == batch.xml_sha256


def test_the_csv_carries_the_same_lines_with_chinese_headers(due, finance):
    batch = payment_batch_create(by=finance, execution_date=EXECUTION)
    rows = list(
        csv.reader(io.StringIO(payment_batch_file(batch=batch, kind="csv", by=finance).content.decode("utf-8-sig")))
    )
    assert rows[0] == ["序号", "端到端标识", "收款户名", "收款账号", "收款开户行", "金额", "币种", "附言"]
    assert [(r[1], r[5]) for r in rows[1:]] == [(statement_number(s), str(s.payable)) for s in due]


def test_a_cnaps_debtor_bank_validates(due, finance, bank_profile):
    bank_profile.settlement_bank_code = "102100099996"
    bank_profile.save()
    batch = payment_batch_create(by=finance, execution_date=EXECUTION)
    document = validate(payment_batch_file(batch=batch, kind="xml", by=finance).content)
    member = document.find("p:CstmrCdtTrfInitn/p:PmtInf/p:DbtrAgt/p:FinInstnId/p:ClrSysMmbId", NS)
    assert member.findtext("p:ClrSysId/p:Cd", namespaces=NS) == "CNAPS"
    assert member.findtext("p:MmbId", namespaces=NS) == "102100099996"


def test_without_the_banks_account_no_batch_is_created(due, finance, bank_profile):
    bank_profile.settlement_account_no = ""
    bank_profile.save()
    with pytest.raises(InvalidState, match="Set the bank's settlement account"):
        payment_batch_create(by=finance, execution_date=EXECUTION)


amounts = st.lists(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999999.99"), places=2, allow_nan=False),
    min_size=1,
    max_size=30,
)


@hypothesis_settings(max_examples=60, deadline=None)
@given(amounts)
def test_property_the_control_sum_is_the_sum_of_the_amounts_and_the_file_validates(values):
    data = PaymentFileData(
        message_id="PB202611050001",
        created_at=dt.datetime(2026, 11, 5, 9, 30, tzinfo=CHINA_TZ),
        execution_date=dt.date(2026, 11, 6),
        debtor=Debtor(name="开放联盟银行", account="110000000000000001", bank_name="总行", bank_code="OPALCNBJ"),
        transfers=[
            Transfer(f"ST-202610-{i:06d}", amount, "服务商", f"6222{i:012d}", "某银行", "2026-10 服务费")
            for i, amount in enumerate(values)
        ],
    )
    document = validate(pain001_xml(data))
    control = Decimal(document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS))
    listed = [Decimal(e.text) for e in document.iterfind(".//p:InstdAmt", NS)]
    assert control == sum(values) == sum(listed)
    assert int(document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS)) == len(values)


# ---- what may go into a batch -----------------------------------------------------------------


def test_only_settlements_with_an_accepted_invoice_go_into_a_batch(
    settlement_x, settlement_y, partner_user_x, partner_user_y, finance
):
    invoiced(settlement_x, partner_user_x, finance, "10000001")
    submit(settlement_y, partner_user_y, number="10000002")  # submitted, not yet checked
    assert list(settlements_due_for_payment()) == [settlement_x]
    with pytest.raises(NotPayable, match="no accepted invoice"):
        payment_batch_create(by=finance, settlements=[settlement_x, settlement_y], execution_date=EXECUTION)
    assert not PaymentBatch.objects.exists()
    batch = payment_batch_create(by=finance, execution_date=EXECUTION)  # all those due
    assert [i.settlement for i in batch.items.all()] == [settlement_x]


def test_a_settlement_cannot_be_in_two_live_batches(due, finance):
    first = payment_batch_create(by=finance, execution_date=EXECUTION)
    with pytest.raises(NotPayable, match="No settlement is due"):
        payment_batch_create(by=finance, execution_date=EXECUTION)
    with pytest.raises(NotPayable, match="already in a payment batch"):
        payment_batch_create(by=finance, settlements=due[:1], execution_date=EXECUTION)
    item = first.items.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        item.pk = None
        item.batch = PaymentBatch.objects.create(
            **{f: getattr(first, f) for f in ("execution_date", "transaction_count", "control_sum", "created_by")},
            number="PB-OTHER",
            created_at=first.created_at,
        )
        item.save()
    payment_batch_cancel(batch=first, by=finance, reason="金额复核")
    assert set(first.items.values_list("state", flat=True)) == {ItemState.CANCELLED}
    assert payment_batch_create(by=finance, execution_date=EXECUTION).transaction_count == 2


def test_maker_checker_the_creator_cannot_approve(due, finance, finance2):
    batch = payment_batch_create(by=finance, execution_date=EXECUTION)
    with pytest.raises(MakerCheckerViolation, match="another finance user must approve"):
        payment_batch_approve(batch=batch, by=finance)
    assert PaymentBatch.objects.get().state == BatchState.PENDING_APPROVAL
    approved_batch = payment_batch_approve(batch=batch, by=finance2, comment="已核对")
    assert (approved_batch.state, approved_batch.approved_by) == (BatchState.APPROVED, finance2)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentBatch.objects.filter(pk=batch.pk).update(approved_by=finance)


@pytest.mark.parametrize("persona", ["rm_a", "head_office", "partner_user_x"])
def test_only_finance_creates_and_approves(persona, request, due, finance):
    user = request.getfixturevalue(persona)
    with pytest.raises(NotPermitted):
        payment_batch_create(by=user, execution_date=EXECUTION)
    batch = payment_batch_create(by=finance, execution_date=EXECUTION)
    with pytest.raises(NotPermitted):
        payment_batch_approve(batch=batch, by=user)


def test_an_altered_file_is_never_approved_nor_served(due, finance, finance2):
    batch = payment_batch_create(by=finance, execution_date=EXECUTION)
    with open(batch.xml_file.path, "ab") as handle:
        handle.write(b"<!-- changed -->")
    with pytest.raises(InvalidState, match="does not match its recorded SHA-256"):
        payment_batch_approve(batch=batch, by=finance2)
    with pytest.raises(InvalidState, match="altered"):
        payment_batch_file(batch=batch, kind="xml", by=finance)


def test_a_settlement_changed_after_creation_blocks_approval(due, finance, finance2):
    from revenue.settlement.services import settlement_mark_paid

    batch = payment_batch_create(by=finance, execution_date=EXECUTION)
    settlement_mark_paid(settlement=due[0], by=finance, payment_reference="MANUAL-1")
    with pytest.raises(InvalidState, match="changed since the batch was created"):
        payment_batch_approve(batch=batch, by=finance2)


# ---- admin -----------------------------------------------------------------------------------


def test_admin_create_approve_and_download(due, finance, finance2, rm_a):
    from django.urls import reverse

    response = login(finance).post(
        reverse("admin:payments_paymentbatch_create"), {"all_due": "on", "execution_date": "2099-01-05"}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    batch = PaymentBatch.objects.get()
    approve = reverse("admin:payments_paymentbatch_approve", args=[batch.pk])
    login(finance).post(approve, {"comment": ""})
    assert PaymentBatch.objects.get().state == BatchState.PENDING_APPROVAL
    assert login(finance2).post(approve, {"comment": "ok"}).status_code == 302
    assert PaymentBatch.objects.get().state == BatchState.APPROVED
    download = login(finance2).get(reverse("admin:payments_paymentbatch_file", args=[batch.pk, "xml"]))
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    validate(download.content)
    assert login(rm_a).get(reverse("admin:payments_paymentbatch_file", args=[batch.pk, "xml"])).status_code in (
        403,
        404,
    )
    assert login(rm_a).get(reverse("admin:payments_paymentbatch_create")).status_code == 403
