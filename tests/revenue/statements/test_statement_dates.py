"""What a settlement's statement prints besides its figures: dates, the verification link, why nothing is payable."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from revenue.statements.documents import statement_code, verify_link
from revenue.statements.selectors import DEVELOPMENT_PORTAL_BASE_URL, statement_data
from revenue.statements.services import statement_generate, statement_regenerate
from tests.revenue.statements.factories import LineSpec, beijing, make_settlement
from tests.revenue.statements.pdftext import pdf_text

pytestmark = pytest.mark.django_db
D = Decimal


def test_dates_count_from_the_close_in_beijing_time(settings, partner_x, pay):
    settings.STATEMENT_PAYMENT_TERMS_DAYS = 15
    settings.STATEMENT_DISPUTE_WINDOW_DAYS = 45
    # 23:30 on 2 November in Beijing is still 2 November, whatever the server's zone (15:30 UTC).
    settlement = make_settlement(
        partner_x, "2026-10", lines=[LineSpec(pay, D("1000.00"), D("0.30"))], closed_at=beijing(2026, 11, 2, 23, 30)
    )
    data = statement_data(settlement=settlement)
    assert data.issued_on == dt.date(2026, 11, 2)
    assert data.payment_due_on == dt.date(2026, 11, 17)
    assert data.dispute_deadline == dt.date(2026, 12, 17)
    assert data.next_period == "2026-11"


def test_the_verification_link_is_absolute(settings, settlement_x):
    settings.PARTNER_PORTAL_BASE_URL = "https://partners.bank.example/"
    data = statement_data(settlement=settlement_x)
    assert data.verify_url == "https://partners.bank.example/verify/"
    code = statement_code(data)
    assert verify_link(data, code) == f"https://partners.bank.example/verify/?code={code}"


def test_without_a_portal_address_the_link_is_the_development_servers(settings, settlement_x):
    settings.PARTNER_PORTAL_BASE_URL = ""
    assert statement_data(settlement=settlement_x).verify_url == f"{DEVELOPMENT_PORTAL_BASE_URL}/verify/"


def test_the_printed_link_opens_the_page_with_the_code_filled_in(client, settings, settlement_x):
    settings.PARTNER_PORTAL_BASE_URL = "https://partners.bank.example"
    statement = statement_generate(settlement=settlement_x)
    link = verify_link(statement_data(settlement=settlement_x), statement.code)
    response = client.get(link.removeprefix("https://partners.bank.example"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-test="verified"' in page and settlement_x.partner.legal_name in page


def test_a_below_minimum_statement_says_what_carries_where(settings, partner_x, pay):
    settings.SETTLEMENT_MINIMUM_PAYOUT = D("100")
    settlement = make_settlement(partner_x, "2026-10", lines=[LineSpec(pay, D("-100.00"), D("0.30"))])
    data = statement_data(settlement=settlement)
    assert data.minimum_payout == D("100.00")
    statement = statement_generate(settlement=settlement)
    text = " ".join(pdf_text(statement_regenerate(statement=statement)).split())
    assert "本期服务费为负（-30.00 元），不予支付，全额结转至 2026-11 结算抵扣。" in text
    assert "增值税" not in text


def test_a_statement_of_an_earlier_layout_still_verifies_and_is_never_regenerated_differently(settlement_x):
    import json

    from django.utils import timezone

    from core.pdf import canonical_json, verification_code
    from revenue.statements.documents import CODE_PURPOSE
    from revenue.statements.errors import StatementIntegrityError
    from revenue.statements.models import Statement
    from revenue.statements.services import statement_verify

    # The data as the first layout stored it: none of the fields page 1 now prints.
    data = json.loads(statement_data(settlement=settlement_x).canonical())
    for field in ("issued_on", "payment_due_on", "dispute_deadline", "bank_address", "bank_service_line"):
        del data[field]
    data["layout"] = 1
    code = verification_code(data, purpose=CODE_PURPOSE)
    statement = Statement.objects.create(
        settlement=settlement_x,
        number="ST-202610-OLD",
        code=code,
        layout=1,
        data=canonical_json(data).decode(),
        sha256="0" * 64,
        size=1,
        pdf="statements/2026-10/old.pdf",
        period_label="2026-10",
        generated_at=timezone.now(),
    )
    verified = statement_verify(code=code)
    assert verified is not None and verified.payable == D("835.28")
    with pytest.raises(StatementIntegrityError):
        statement_regenerate(statement=statement)


def test_the_portal_shows_the_payable_in_capitals_as_the_statement_prints_it(settlement_x, portal_x):
    page = portal_x.get(f"/portal/settlements/{settlement_x.pk}/").content.decode()
    assert 'data-test="payable-in-words">人民币捌佰叁拾伍元贰角捌分<' in page
