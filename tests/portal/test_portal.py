"""The partner portal: sign-in for partners only, settlements by period, disputes and their resolution, languages."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation

from revenue.settlement.models import SettlementDispute
from revenue.settlement.services import settlement_dispute_reject, settlement_dispute_resolve
from revenue.statements.models import DownloadEvent, PartnerWebhook
from tests.revenue.statements.factories import LineSpec, make_settlement, period_row

D = Decimal


def test_a_partner_user_signs_in_and_out(partner_user_x, settlement_x):
    client = Client()
    response = client.post("/portal/login/", {"username": "partner_x", "password": "pw"})
    assert response.status_code == 302 and response["Location"] == "/portal/"
    page = client.get("/portal/").content.decode()
    assert "深圳云账房科技有限公司" in page and "835.28" in page
    assert client.post("/portal/logout/").status_code == 302
    assert client.get("/portal/")["Location"].startswith("/portal/login/")


def test_bank_staff_are_refused_like_a_wrong_password(head_office):
    response = Client().post("/portal/login/", {"username": "hq_admin", "password": "pw"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Please enter a correct username and password" in page and "Bank staff work in the admin" not in page
    assert 'href="/admin/login/"' in page  # the page's own link for staff who came to the wrong door
    assert "_auth_user_id" not in response.wsgi_request.session


def test_a_wrong_password_is_refused(partner_user_x):
    response = Client().post("/portal/login/", {"username": "partner_x", "password": "nope"})
    assert response.status_code == 200 and "_auth_user_id" not in response.wsgi_request.session


def test_a_partner_user_without_access_is_refused(partner_x):
    from tests.factories import UserFactory

    UserFactory(username="no_role", is_staff=False, partner=partner_x, roles=[])
    response = Client().post("/portal/login/", {"username": "no_role", "password": "pw"})
    assert "cannot read settlements" in response.content.decode()


def test_the_list_shows_periods_states_totals_and_downloads(portal_x, settlement_x, draft_x):
    page = portal_x.get("/portal/").content.decode()
    assert page.index("2026-11") < page.index("2026-10")  # newest first
    assert "Draft (accrued)" in page and "Closed" in page
    for figure in ["788.00", "47.28", "835.28", "3,460.00"]:
        assert figure in page
    assert f"/portal/settlements/{settlement_x.pk}/statement.pdf" in page
    assert f"/portal/settlements/{draft_x.pk}/statement.pdf" not in page  # no statement before the close
    assert portal_x.get(f"/portal/settlements/{draft_x.pk}/statement.pdf").status_code == 404


def test_the_list_pages_and_filters_by_year(portal_x, partner_x, pay):
    for month in range(1, 13):
        make_settlement(partner_x, f"2025-{month:02d}", lines=[LineSpec(pay, D("10.00"))])
    make_settlement(partner_x, "2026-01", lines=[LineSpec(pay, D("10.00"))])
    first = portal_x.get("/portal/").content.decode()
    assert "2026-01" in first and "2025-02" in first and "2025-01" not in first  # 12 a page
    assert "2025-01" in portal_x.get("/portal/?page=2").content.decode()
    only_2025 = portal_x.get("/portal/?year=2025").content.decode()
    assert "2026-01" not in only_2025 and "2025-01" in only_2025


def test_the_detail_shows_lines_and_downloads(portal_x, settlement_x, partner_user_x):
    page = portal_x.get(f"/portal/settlements/{settlement_x.pk}/").content.decode()
    for text in [
        "支付结算",
        "供应链贷款",
        "2026-09",
        "300.00",
        "500.00",
        "-12.00",
        "835.28",
        "Download statement (PDF)",
    ]:
        assert text in page
    pdf = portal_x.get(f"/portal/settlements/{settlement_x.pk}/statement.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert DownloadEvent.objects.get().channel == "portal"
    page = portal_x.get(f"/portal/settlements/{settlement_x.pk}/").content.decode()
    assert "verification code" in page and "Recent downloads" in page


def test_raising_a_dispute_and_seeing_its_resolution(portal_x, settlement_x, partner_user_x, finance, mailoutbox):
    line = settlement_x.lines.get(position=3)
    url = f"/portal/settlements/{settlement_x.pk}/lines/{line.pk}/dispute/"
    response = portal_x.post(url, {"comment": "This reversal is not ours."}, follow=True)
    assert "Your dispute was sent to the bank" in response.content.decode()
    dispute = SettlementDispute.objects.get()
    assert (dispute.line, dispute.raised_by, dispute.comment) == (line, partner_user_x, "This reversal is not ours.")
    # One open dispute per line: the form is gone, and a second post is refused with the reason.
    again = portal_x.post(url, {"comment": "Again"}, follow=True).content.decode()
    assert "already has an open dispute" in again
    period_row("2026-11", closed=False)
    settlement_dispute_resolve(dispute=dispute, by=finance, amount=D("12.00"), comment="Agreed, refunded in November.")
    page = portal_x.get(f"/portal/settlements/{settlement_x.pk}/").content.decode()
    assert "Resolved" in page and "Agreed, refunded in November." in page and "12.00 CNY, settled in 2026-11" in page


def test_a_rejected_dispute_shows_the_reason(portal_x, settlement_x, partner_user_x, finance):
    line = settlement_x.lines.get(position=1)
    portal_x.post(f"/portal/settlements/{settlement_x.pk}/lines/{line.pk}/dispute/", {"comment": "Too low"})
    settlement_dispute_reject(
        dispute=SettlementDispute.objects.get(), by=finance, comment="The rate is in the contract."
    )
    page = portal_x.get(f"/portal/settlements/{settlement_x.pk}/").content.decode()
    assert "Rejected" in page and "The rate is in the contract." in page


def test_an_empty_dispute_is_refused(portal_x, settlement_x):
    line = settlement_x.lines.first()
    response = portal_x.post(f"/portal/settlements/{settlement_x.pk}/lines/{line.pk}/dispute/", {"comment": " "})
    assert response.status_code == 302
    assert not SettlementDispute.objects.exists()


def test_disputes_need_a_final_settlement(portal_x, draft_x):
    line = draft_x.lines.first()
    page = portal_x.post(
        f"/portal/settlements/{draft_x.pk}/lines/{line.pk}/dispute/", {"comment": "x"}, follow=True
    ).content.decode()
    assert "still a draft" in page and not SettlementDispute.objects.exists()


def test_partner_text_is_escaped_in_pages(portal_x, partner_x, settlement_x):
    type(partner_x).objects.filter(pk=partner_x.pk).update(legal_name='<script>alert("x")</script>公司')
    page = portal_x.get(f"/portal/settlements/{settlement_x.pk}/").content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def test_chinese_by_default_and_english_on_request(settings, portal_x, settlement_x):
    settings.LANGUAGE_CODE = "zh-hans"
    with_default = portal_x.get("/portal/", HTTP_ACCEPT_LANGUAGE="").content.decode()
    assert '<html lang="zh-CN">' in with_default
    assert re.search(r'<option value="zh-hans" selected>', with_default)
    response = portal_x.post("/i18n/setlang/", {"language": "en", "next": "/portal/"})
    assert response.status_code == 302 and response["Location"] == "/portal/"
    english = portal_x.get("/portal/").content.decode()
    assert '<html lang="en">' in english and '<option value="en" selected>' in english


@pytest.mark.parametrize(
    "path", ["/portal/", "/portal/settlements/{pk}/", "/portal/api-access/", "/portal/webhooks/", "/portal/login/"]
)
def test_pages_load_nothing_from_elsewhere(portal_x, settlement_x, path):
    html = portal_x.get(path.format(pk=settlement_x.pk), follow=True).content.decode()
    assert not re.search(r"""(src|href|action)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "<script src" not in html  # the stylesheet is inline
    assert '<meta name="viewport"' in html


def test_registering_a_webhook_shows_its_secret_once(settings, portal_x, partner_x):
    response = portal_x.post("/portal/webhooks/", {"url": "https://erp.partner.example/hooks/bank"})
    page = response.content.decode()
    hook = PartnerWebhook.objects.get()
    assert hook.partner == partner_x and hook.active
    assert re.search(rf'data-test="webhook-secret">{hook.secret}<', page)
    assert hook.secret not in portal_x.get("/portal/webhooks/").content.decode()
    portal_x.post(f"/portal/webhooks/{hook.pk}/toggle/")
    hook.refresh_from_db()
    assert not hook.active
    portal_x.post(f"/portal/webhooks/{hook.pk}/remove/")
    assert not PartnerWebhook.objects.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://erp.partner.example/x", "starts with https:// or http://"),
        ("javascript:alert(1)", "Enter a valid URL"),
        ("http://127.0.0.1:8000/hook", "public address"),
        ("http://localhost/hook", "public address"),
        ("https://10.1.2.3/hook", "public address"),
        ("https://user:pw@erp.partner.example/", "user name or password"),
    ],
)
def test_webhook_urls_refused(portal_x, url, message):
    page = portal_x.post("/portal/webhooks/", {"url": url}).content.decode()
    assert message in page
    assert not PartnerWebhook.objects.exists()


def test_the_api_page_states_the_request_limit_in_words(client, partner_user_x, settings):
    settings.PARTNER_API_THROTTLE_RATE = "120/minute"
    client.force_login(partner_user_x)
    with translation.override("zh-hans"):
        page = client.get("/portal/api-access/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "每分钟 120 次请求" in page and "120/minute" not in page


def test_head_office_lists_and_revokes_api_tokens_in_the_admin(client, partner_user_x, head_office):
    from portal.models import ApiToken
    from portal.services import api_token_issue

    issued = api_token_issue(user=partner_user_x, name="erp")
    client.force_login(head_office)
    listing = client.get("/admin/portal/apitoken/")
    assert listing.status_code == 200
    assert issued.key not in listing.content.decode()
    token = ApiToken.objects.get(user=partner_user_x)
    response = client.post("/admin/portal/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True)
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None
    from django.contrib.admin.models import LogEntry

    assert LogEntry.objects.filter(user=head_office, object_id=str(token.pk)).exists()
