"""The partner API: settlements and lines, downloads (recorded), drafts, throttling per token, revocation, schema."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from core.spreadsheets import export_headers
from portal.services import partner_token_rotate
from revenue.settlement.services import settlement_dispute_raise
from revenue.statements.exports import detail_export_columns
from revenue.statements.models import DownloadEvent, Statement
from tests.revenue.statements.conftest import login
from tests.revenue.statements.pdftext import pdf_text

D = Decimal


def test_the_list_holds_own_settlements_with_totals_and_links(api_x, settlement_x, draft_x):
    response = api_x.get("/api/v1/partner/settlements/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    newest, october = body["results"]
    assert (newest["id"], newest["period"], newest["state"]) == (draft_x.pk, "2026-11", "draft")
    assert "statement_pdf" not in newest["links"]  # a draft has no statement yet
    assert october["id"] == settlement_x.pk
    assert october["period"] == "2026-10" and october["state"] == "closed"
    assert (october["net"], october["vat"], october["payable"]) == ("788.00", "47.28", "835.28")
    assert october["statement"] is None
    assert october["links"]["statement_pdf"].endswith(f"/api/v1/partner/settlements/{settlement_x.pk}/statement.pdf")


def test_filters(api_x, settlement_x, draft_x):
    assert [s["id"] for s in api_x.get("/api/v1/partner/settlements/?period=2026-10").json()["results"]] == [
        settlement_x.pk
    ]
    assert [s["id"] for s in api_x.get("/api/v1/partner/settlements/?state=draft").json()["results"]] == [draft_x.pk]
    assert api_x.get("/api/v1/partner/settlements/?period=October").status_code == 400
    assert api_x.get("/api/v1/partner/settlements/?state=nonsense").status_code == 400


def test_the_detail_has_lines_and_disputes(api_x, settlement_x, partner_user_x):
    line = settlement_x.lines.order_by("position").last()
    settlement_dispute_raise(line=line, by=partner_user_x, comment="两笔冲正不属于我们 Not our reversals")
    body = api_x.get(f"/api/v1/partner/settlements/{settlement_x.pk}/").json()
    assert [(ln["kind"], ln["product"], ln["corrects_period"], ln["share"]) for ln in body["lines"]] == [
        ("product", "PAY_SETTLE", None, "300.00"),
        ("product", "SCF_LOAN", None, "500.00"),
        ("adjustment", "PAY_SETTLE", "2026-09", "-12.00"),
    ]
    assert body["lines"][0]["effective_rate"] == "0.30000000"
    assert body["lines"][2]["disputes"][0]["state"] == "open"
    assert body["lines"][2]["disputes"][0]["comment"].startswith("两笔冲正")


def test_the_pdf_download_is_the_statement_and_is_recorded(api_x, settlement_x, partner_user_x, partner_x):
    response = api_x.get(f"/api/v1/partner/settlements/{settlement_x.pk}/statement.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    statement = Statement.objects.get(settlement=settlement_x)  # issued on first download
    assert f'filename="{statement.number}.pdf"' in response["Content-Disposition"]
    text = pdf_text(response.content)
    assert partner_x.legal_name in text and "¥835.28" in text
    again = api_x.get(f"/api/v1/partner/settlements/{settlement_x.pk}/statement.pdf", HTTP_ACCEPT="application/pdf")
    assert again.content == response.content
    events = DownloadEvent.objects.filter(user=partner_user_x)
    assert [(e.kind, e.channel, e.settlement_id) for e in events] == [("pdf", "api", settlement_x.pk)] * 2
    listed = api_x.get("/api/v1/partner/settlements/").json()["results"][0]
    assert listed["statement"]["verification_code"] == statement.code
    assert listed["statement"]["sha256"] == statement.sha256


def test_detail_files_download(api_x, settlement_x, partner_user_x):
    csv = api_x.get(f"/api/v1/partner/settlements/{settlement_x.pk}/transactions.csv")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    header = b"".join(csv.streaming_content).decode("utf-8-sig").splitlines()[0]
    assert header.split(",") == export_headers(detail_export_columns(), "en")  # the suite runs in English
    xlsx = api_x.get(f"/api/v1/partner/settlements/{settlement_x.pk}/transactions.xlsx")
    assert xlsx.status_code == 200 and b"".join(xlsx.streaming_content)[:2] == b"PK"
    assert sorted(DownloadEvent.objects.filter(user=partner_user_x).values_list("kind", flat=True)) == ["csv", "xlsx"]


@pytest.mark.parametrize("suffix", ["statement.pdf", "transactions.csv", "transactions.xlsx"])
def test_a_draft_has_no_files_yet(api_x, draft_x, suffix):
    response = api_x.get(f"/api/v1/partner/settlements/{draft_x.pk}/{suffix}")
    assert response.status_code == 409
    assert "draft" in response.json()["detail"]
    assert not DownloadEvent.objects.exists()


def test_throttling_is_per_partner(settings, api_x, api_y, settlement_x, settlement_y):
    settings.PARTNER_API_THROTTLE_RATE = "3/minute"
    for _ in range(3):
        assert api_x.get("/api/v1/partner/settlements/").status_code == 200
    refused = api_x.get(f"/api/v1/partner/settlements/{settlement_x.pk}/")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    # The whole partner API shares the partner's budget, attributed transactions included.
    assert api_x.get("/api/v1/partner/transactions/").status_code == 429
    # Another partner has its own allowance.
    assert api_y.get("/api/v1/partner/settlements/").status_code == 200


def test_revoked_and_replaced_tokens_get_401(api_x, partner_user_x, settlement_x):
    assert api_x.get("/api/v1/partner/settlements/").status_code == 200
    portal = login(partner_user_x)
    page = portal.post("/portal/api-access/", {"action": "rotate"})
    new_key = re.search(r'data-test="new-token">([0-9a-f]{64})<', page.content.decode()).group(1)
    assert api_x.get("/api/v1/partner/settlements/").status_code == 401  # the old token died at once
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Token {new_key}")
    assert fresh.get("/api/v1/partner/settlements/").status_code == 200
    portal.post("/portal/api-access/", {"action": "revoke"})
    assert fresh.get("/api/v1/partner/settlements/").status_code == 401
    # The new key is never shown again.
    assert new_key not in portal.get("/portal/api-access/").content.decode()


def test_a_token_can_revoke_itself(partner_user_x):
    token = partner_token_rotate(user=partner_user_x)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.delete("/api/v1/partner/token/").status_code == 204
    assert client.get("/api/v1/partner/settlements/").status_code == 401


def test_the_settlements_transactions_endpoint(api_x, settlement_x):
    body = api_x.get(f"/api/v1/partner/settlements/{settlement_x.pk}/transactions/").json()
    assert body["results"] == []  # this settlement was built without ledger rows (see test_detail for a real close)


def test_the_schema_documents_the_partner_api(db, client):
    schema = client.get("/api/schema/").content.decode()
    for path in [
        "/api/v1/partner/settlements/:",
        "/api/v1/partner/settlements/{id}/:",
        "/api/v1/partner/settlements/{id}/statement.pdf:",
        "/api/v1/partner/settlements/{id}/transactions.csv:",
        "/api/v1/partner/settlements/{id}/transactions.xlsx:",
        "/api/v1/partner/settlements/{id}/transactions/:",
        "/api/v1/partner/token/:",
        "/api/v1/partner/transactions/:",
    ]:
        assert path in schema, path


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_interactive_docs_load_nothing_remote(db, client, page):
    html = client.get(page).content.decode()
    assert "drf_spectacular_sidecar" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "cdn.jsdelivr" not in html and "unpkg" not in html and "fonts.googleapis" not in html
    if page == "/api/docs/":
        assert '"validatorUrl": null' in html  # the schema's URL is never sent to an online validator
