"""The statement issuer: seeded from the settings, set by head office only, printed on statements issued after."""

from __future__ import annotations

import pytest
from django.urls import reverse

from revenue.statements.errors import NotPermitted
from revenue.statements.models import StatementIssuer
from revenue.statements.selectors import statement_data, statement_issuer
from revenue.statements.services import statement_issuer_update
from tests.revenue.statements.conftest import login

pytestmark = pytest.mark.django_db

DETAILS = dict(
    name="开放联盟银行股份有限公司",
    name_en="Open Alliance Bank Co., Ltd.",
    address="上海市浦东新区世纪大道 100 号",
    service_line="95588-8",
    invoice_title="开放联盟银行股份有限公司",
    taxpayer_number="91310000MA1K000000",
    invoice_content="*信息技术服务*技术服务费",
    footer="本结算单由系统生成，加盖电子签章后有效。",
)


def test_the_migration_seeds_the_issuer_from_the_settings(settings):
    issuer = StatementIssuer.objects.get()
    assert issuer.pk == StatementIssuer.SINGLETON_PK
    assert (issuer.name, issuer.name_en) == (settings.STATEMENT_BANK_NAME, settings.STATEMENT_BANK_NAME_EN)
    assert issuer.invoice_title == settings.STATEMENT_BANK_NAME


def test_head_office_sets_the_details_and_statements_print_them(head_office, settlement_x):
    statement_issuer_update(by=head_office, **DETAILS)
    assert statement_issuer().taxpayer_number == DETAILS["taxpayer_number"]
    data = statement_data(settlement=settlement_x)
    assert (data.bank_name, data.bank_address, data.taxpayer_number) == (
        DETAILS["name"],
        DETAILS["address"],
        DETAILS["taxpayer_number"],
    )


@pytest.mark.parametrize("persona", ["finance", "rm_a", "partner_user_x"])
def test_nobody_else_sets_them(persona, request):
    with pytest.raises(NotPermitted):
        statement_issuer_update(by=request.getfixturevalue(persona), **DETAILS)


def test_admin_head_office_changes_finance_reads_rm_is_refused(head_office, finance, rm_a):
    url = reverse("admin:statements_statementissuer_change", args=[StatementIssuer.SINGLETON_PK])
    response = login(head_office).post(url, DETAILS)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert StatementIssuer.objects.get().taxpayer_number == DETAILS["taxpayer_number"]
    assert StatementIssuer.objects.get().updated_by == head_office

    as_finance = login(finance)
    assert as_finance.get(url).status_code == 200
    as_finance.post(url, {**DETAILS, "name": "改名"})
    assert StatementIssuer.objects.get().name == DETAILS["name"]

    assert login(rm_a).get(url).status_code == 403
    # One row: nothing to add or delete.
    assert login(head_office).get(reverse("admin:statements_statementissuer_add")).status_code == 403


def test_the_deploy_check_requires_the_portal_address(settings):
    from revenue.statements.checks import portal_base_url_check

    settings.PARTNER_PORTAL_BASE_URL = ""
    assert [e.id for e in portal_base_url_check(None)] == ["statements.E001"]
    settings.PARTNER_PORTAL_BASE_URL = "https://partners.bank.example"
    assert portal_base_url_check(None) == []
