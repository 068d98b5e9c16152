"""The portal's invoice pages: submit for the own settlement, see the state and the return reason; others get 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from revenue.payments.choices import InvoiceState
from revenue.payments.models import Invoice
from revenue.payments.services import invoice_return
from tests.revenue.payments.conftest import BANK, login, pdf_upload, submit


def form(settlement, **overrides):
    data = {
        "number": "12345678",
        "code": "044031900111",
        "issued_on": "2026-11-05",
        "amount": str(settlement.net),
        "tax_rate_percent": "6",
        "tax": str(settlement.vat),
        "buyer_name": BANK["invoice_title"],
        "buyer_taxpayer_number": BANK["taxpayer_number"],
        "file": pdf_upload(),
    }
    data.update(overrides)
    return data


def test_the_partner_submits_its_invoice_and_sees_its_state(settlement_x, partner_user_x):
    client = login(partner_user_x)
    page = client.get(reverse("portal:settlement", args=[settlement_x.pk]))
    assert reverse("portal:invoice-submit", args=[settlement_x.pk]) in page.content.decode()
    url = reverse("portal:invoice-submit", args=[settlement_x.pk])
    assert BANK["taxpayer_number"] in client.get(url).content.decode()
    response = client.post(url, form(settlement_x))
    assert response.status_code == 302
    invoice = Invoice.objects.get()
    assert invoice.state == InvoiceState.SUBMITTED
    page = client.get(reverse("portal:settlement", args=[settlement_x.pk])).content.decode()
    assert 'data-test="invoice-submitted"' in page
    download = client.get(reverse("portal:invoice-file", args=[settlement_x.pk, invoice.pk]))
    assert download.status_code == 200 and download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content).startswith(b"%PDF-")


def test_an_invoice_one_fen_off_is_refused_with_the_reason(settlement_x, partner_user_x):
    url = reverse("portal:invoice-submit", args=[settlement_x.pk])
    response = login(partner_user_x).post(url, form(settlement_x, amount="300.01"))
    assert response.status_code == 200
    assert "the settlement&#x27;s service fee is 300.00" in response.content.decode()
    assert not Invoice.objects.exists()


def test_the_return_reason_is_shown(settlement_x, partner_user_x, finance):
    invoice_return(invoice=submit(settlement_x, partner_user_x), by=finance, reason="请重开：发票章模糊")
    page = login(partner_user_x).get(reverse("portal:settlement", args=[settlement_x.pk])).content.decode()
    assert "请重开：发票章模糊" in page and 'data-test="invoice-returned"' in page
    assert reverse("portal:invoice-submit", args=[settlement_x.pk]) in page  # a new one may be submitted


@pytest.mark.parametrize("who", ["partner_user_y"])
def test_a_partner_cannot_see_or_submit_anothers_invoices(who, request, settlement_x, partner_user_x):
    invoice = submit(settlement_x, partner_user_x)
    client = login(request.getfixturevalue(who))
    assert client.get(reverse("portal:invoice-submit", args=[settlement_x.pk])).status_code == 404
    assert client.post(reverse("portal:invoice-submit", args=[settlement_x.pk]), form(settlement_x)).status_code == 404
    assert client.get(reverse("portal:invoice-file", args=[settlement_x.pk, invoice.pk])).status_code == 404


def test_staff_read_the_file_in_the_admin_within_their_scope(settlement_x, partner_user_x, finance, rm_a, rm_b):
    invoice = submit(settlement_x, partner_user_x)
    url = reverse("admin:payments_invoice_file", args=[invoice.pk])
    assert login(finance).get(url).status_code == 200
    assert login(rm_a).get(url).status_code == 200  # the partner's branch
    assert login(rm_b).get(url).status_code == 404  # another branch


def test_admin_review_action_accepts(settlement_x, partner_user_x, finance):
    invoice = submit(settlement_x, partner_user_x)
    response = login(finance).post(
        reverse("admin:payments_invoice_changelist"), {"action": "review_invoices", "_selected_action": [invoice.pk]}
    )
    assert response.status_code == 302
    assert Invoice.objects.get().state == InvoiceState.ACCEPTED
