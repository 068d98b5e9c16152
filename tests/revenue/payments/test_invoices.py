"""Invoices: checked against the settlement to the fen, the bank's details and the partner's rate; numbers used once."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django_fsm_log.models import StateLog

from revenue.payments.choices import InvoiceState
from revenue.payments.errors import InvalidState, InvoiceMismatch, NotPermitted
from revenue.payments.models import Invoice
from revenue.payments.services import invoice_return, invoice_review
from revenue.settlement.choices import SettlementState
from tests.revenue.payments.conftest import BANK, D, approved, ofd_bytes, pdf_upload, submit


def test_a_matching_invoice_is_submitted_with_its_file_stored_privately(settlement_x, partner_user_x, settings):
    invoice = submit(settlement_x, partner_user_x)
    assert (invoice.state, invoice.amount, invoice.tax, invoice.partner) == (
        InvoiceState.SUBMITTED,
        D("300.00"),
        D("18.00"),
        settlement_x.partner,
    )
    assert invoice.file.path.startswith(str(settings.PRIVATE_MEDIA_ROOT))
    assert invoice.file_name == "发票.pdf" and len(invoice.file_sha256) == 64
    log = StateLog.objects.for_(invoice).get()
    assert (log.transition, log.state, log.by) == ("submit", "submitted", partner_user_x)


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"amount": D("300.01")}, "The amount excluding tax is 300.01; the settlement's service fee is 300.00."),
        ({"amount": D("299.99")}, "the settlement's service fee is 300.00"),
        ({"tax": D("17.99")}, "The tax amount is 17.99; the settlement's VAT is 18.00."),
        ({"buyer_taxpayer_number": "91110000100000001X"}, "The buyer's taxpayer number is 91110000100000001X"),
        ({"buyer_name": "别的银行"}, "The buyer is “别的银行”"),
        ({"tax_rate": D("0.03")}, "The tax rate is 3.00%; your VAT rate with the bank is 6.00%."),
    ],
)
def test_an_invoice_that_does_not_match_is_refused_and_nothing_is_stored(
    settlement_x, partner_user_x, override, reason
):
    with pytest.raises(InvoiceMismatch) as refused:
        submit(settlement_x, partner_user_x, **override)
    assert any(reason in r for r in refused.value.extra["reasons"])
    assert not Invoice.objects.exists()


def test_blanks_and_case_in_the_buyer_do_not_matter(settlement_x, partner_user_x):
    number = " " + BANK["taxpayer_number"].lower()[:9] + " " + BANK["taxpayer_number"].lower()[9:]
    assert submit(settlement_x, partner_user_x, buyer_taxpayer_number=number).state == InvoiceState.SUBMITTED


def test_an_invoice_number_is_used_once_across_partners(settlement_x, settlement_y, partner_user_x, partner_user_y):
    submit(settlement_x, partner_user_x, number="87654321")
    with pytest.raises(ValidationError) as refused:
        submit(settlement_y, partner_user_y, number="87654321")
    assert refused.value.message_dict["number"] == ["This invoice number has already been submitted."]
    # Another code with the same number is another invoice.
    assert submit(settlement_y, partner_user_y, number="87654321", code="044031900222").pk
    # And the database says so too, whatever path writes.
    first = Invoice.objects.get(code="044031900111")
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=Invoice.objects.get(code="044031900222").pk).update(code=first.code)


def test_a_returned_invoice_can_be_replaced_and_the_reason_is_kept(settlement_x, partner_user_x, finance):
    first = submit(settlement_x, partner_user_x)
    with pytest.raises(InvalidState, match="already has an invoice"):
        submit(settlement_x, partner_user_x, number="11112222")
    with pytest.raises(ValidationError):
        invoice_return(invoice=first, by=finance, reason="  ")
    returned = invoice_return(invoice=first, by=finance, reason="发票专用章不清晰")
    assert (returned.state, returned.return_reason, returned.decided_by) == (
        InvoiceState.RETURNED,
        "发票专用章不清晰",
        finance,
    )
    # The same invoice, once its data is fixed, or a new one.
    second = submit(settlement_x, partner_user_x)
    assert second.state == InvoiceState.SUBMITTED and second.number == first.number


def test_finance_accepts_a_matching_invoice(settlement_x, partner_user_x, finance):
    invoice = invoice_review(invoice=submit(settlement_x, partner_user_x), by=finance)
    assert (invoice.state, invoice.decided_by) == (InvoiceState.ACCEPTED, finance)
    assert StateLog.objects.for_(invoice).filter(transition="accept", by=finance).exists()


def test_a_mismatch_found_at_review_goes_back_to_the_partner_with_the_reason(
    settlement_x, partner_user_x, finance, bank_profile
):
    invoice = submit(settlement_x, partner_user_x)
    bank_profile.taxpayer_number = "91110000100000009Y"  # the bank's details changed meanwhile
    bank_profile.save()
    invoice = invoice_review(invoice=invoice, by=finance)
    assert invoice.state == InvoiceState.RETURNED
    assert "the bank's is 91110000100000009Y" in invoice.return_reason


@pytest.mark.parametrize("persona", ["rm_a", "head_office", "partner_user_x"])
def test_only_finance_reviews(persona, request, settlement_x, partner_user_x):
    invoice = submit(settlement_x, partner_user_x)
    with pytest.raises(NotPermitted):
        invoice_review(invoice=invoice, by=request.getfixturevalue(persona))
    with pytest.raises(NotPermitted):
        invoice_return(invoice=invoice, by=request.getfixturevalue(persona), reason="x")


def test_a_partner_cannot_submit_for_another_partner(settlement_x, partner_user_y, finance):
    for user in (partner_user_y, finance):
        with pytest.raises(NotPermitted):
            submit(settlement_x, user)


@pytest.mark.parametrize("state", [SettlementState.CLOSED, SettlementState.PAID])
def test_only_an_approved_settlement_awaits_an_invoice(pay, partner_x, partner_user_x, state):
    from tests.revenue.statements.factories import LineSpec, make_settlement

    settlement = make_settlement(partner_x, lines=[LineSpec(product=pay, bank_revenue=D("1000.00"))], state=state)
    with pytest.raises(InvalidState, match="not awaiting an invoice"):
        submit(settlement, partner_user_x)


def test_a_carried_forward_settlement_awaits_no_invoice(pay, partner_x, partner_user_x):
    settlement = approved(partner_x, product=pay, revenue="-10.00")
    assert settlement.carried_forward
    with pytest.raises(InvalidState):
        submit(settlement, partner_user_x)


def test_an_ofd_invoice_is_accepted_by_its_content(settlement_x, partner_user_x):
    upload = SimpleUploadedFile("invoice.zip", ofd_bytes(), content_type="application/zip")
    invoice = submit(settlement_x, partner_user_x, file=upload)
    assert (invoice.file_type, invoice.file_name) == ("application/ofd", "invoice.zip.ofd")
    assert invoice.file.name.endswith(".ofd")


@pytest.mark.parametrize(
    "content",
    [
        b"<html><script>alert(1)</script></html>",  # a page named .pdf
        b"PK\x03\x04 not really a zip",
        b"",
    ],
)
def test_a_file_that_is_not_a_pdf_or_ofd_is_refused(settlement_x, partner_user_x, content):
    with pytest.raises(ValidationError) as refused:
        submit(settlement_x, partner_user_x, file=pdf_upload("invoice.pdf", content))
    assert "is not a PDF or OFD invoice" in refused.value.message_dict["file"][0]
    assert not Invoice.objects.exists()


def test_a_zip_without_ofd_xml_is_refused(settlement_x, partner_user_x):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("document.xml", "<x/>")
    with pytest.raises(ValidationError):
        submit(settlement_x, partner_user_x, file=pdf_upload("a.ofd", buffer.getvalue()))


def test_a_file_over_the_limit_is_refused(settlement_x, partner_user_x, settings):
    settings.INVOICE_MAX_UPLOAD_BYTES = 10
    with pytest.raises(ValidationError, match="an invoice file may be at most"):
        submit(settlement_x, partner_user_x)


def test_shapes_of_number_code_and_date_are_checked(settlement_x, partner_user_x):
    import datetime as dt

    with pytest.raises(ValidationError) as refused:
        submit(settlement_x, partner_user_x, number="12AB", code="123", issued_on=dt.date(2099, 1, 1))
    assert set(refused.value.message_dict) == {"number", "code", "issued_on"}
