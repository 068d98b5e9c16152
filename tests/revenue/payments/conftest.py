"""Fixtures of the payment tests: the bank profile with its settlement account, approved settlements, a PDF, OFD."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from organisation.roles import Role
from revenue.settlement.choices import SettlementState
from revenue.statements.models import StatementIssuer
from tests.factories import UserFactory
from tests.revenue.statements.factories import LineSpec, make_settlement

D = Decimal
BANK = {
    "name": "开放联盟银行股份有限公司",
    "invoice_title": "开放联盟银行股份有限公司",
    "taxpayer_number": "91110000100000000X",
    "invoice_content": "*信息技术服务*技术服务费",
    "settlement_account_name": "开放联盟银行股份有限公司清算专户",
    "settlement_account_no": "110000000000000001",
    "settlement_bank_name": "开放联盟银行总行营业部",
    "settlement_bank_code": "OPALCNBJXXX",
}
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def ofd_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("OFD.xml", '<?xml version="1.0"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>')
        archive.writestr("Doc_0/Document.xml", "<Document/>")
    return buffer.getvalue()


def pdf_upload(name: str = "发票.pdf", content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def bank_profile(db):
    issuer, _ = StatementIssuer.objects.update_or_create(pk=StatementIssuer.SINGLETON_PK, defaults=BANK)
    return issuer


@pytest.fixture
def finance2(head_office_branch):
    return UserFactory(username="finance2", display_name="财务复核", branch=head_office_branch, roles=[Role.FINANCE])


def approved(partner, period: str = "2026-10", revenue: str = "1000.00", product=None, **kwargs):
    """An approved settlement: ``revenue`` × 30 % share, VAT at 6 % (1000.00 → net 300.00, VAT 18.00, 318.00)."""
    return make_settlement(
        partner,
        period,
        lines=[LineSpec(product=product, bank_revenue=D(revenue))],
        state=SettlementState.APPROVED,
        **kwargs,
    )


@pytest.fixture
def settlement_x(pay, partner_x):
    return approved(partner_x, product=pay)


@pytest.fixture
def settlement_y(pay, partner_y):
    return approved(partner_y, product=pay, revenue="2345.67")


def invoice_fields(settlement, **overrides) -> dict:
    """What a correct invoice for ``settlement`` says (override one field to make it wrong)."""
    fields = {
        "number": "12345678",
        "code": "044031900111",
        "issued_on": dt.date(2026, 11, 5),
        "amount": settlement.net,
        "tax_rate": settlement.partner.vat_rate,
        "tax": settlement.vat,
        "buyer_name": BANK["invoice_title"],
        "buyer_taxpayer_number": BANK["taxpayer_number"],
    }
    fields.update(overrides)
    return fields


def submit(settlement, by, *, file=None, **overrides):
    from revenue.payments.services import invoice_submit

    return invoice_submit(
        settlement=settlement, by=by, file=file or pdf_upload(), **invoice_fields(settlement, **overrides)
    )
