"""A partner never sees another partner's data by any path: the full access matrix of pages and endpoints.

Every object path is tried by partner X's and partner Y's users on both
partners' objects: their own answers, the other's is 404 — exactly as an id
that does not exist. Then anonymous visitors, bank staff and lists/filters.
"""

from __future__ import annotations

import pytest
from django.test import Client

from revenue.settlement.models import SettlementDispute
from revenue.statements.models import DownloadEvent, PartnerWebhook
from revenue.statements.services import statement_generate
from tests.revenue.conftest import token_client
from tests.revenue.statements.conftest import login

MISSING = 999_999

PORTAL_GET = [
    "/portal/settlements/{pk}/",
    "/portal/settlements/{pk}/statement.pdf",
    "/portal/settlements/{pk}/transactions.csv",
    "/portal/settlements/{pk}/transactions.xlsx",
]
API_GET = [
    "/api/v1/partner/settlements/{pk}/",
    "/api/v1/partner/settlements/{pk}/statement.pdf",
    "/api/v1/partner/settlements/{pk}/transactions.csv",
    "/api/v1/partner/settlements/{pk}/transactions.xlsx",
    "/api/v1/partner/settlements/{pk}/transactions/",
]
ADMIN_GET = [
    "/admin/statements/statement/settlement/{pk}/pdf/",
    "/admin/statements/statement/settlement/{pk}/transactions.csv",
    "/admin/statements/statement/settlement/{pk}/transactions.xlsx",
]


@pytest.fixture
def world(settlement_x, settlement_y, partner_user_x, partner_user_y):
    return {
        "x": {"settlement": settlement_x, "user": partner_user_x},
        "y": {"settlement": settlement_y, "user": partner_user_y},
    }


def client_for(user, channel: str):
    return token_client(user) if channel == "api" else login(user)


@pytest.mark.parametrize("path", PORTAL_GET + API_GET)
@pytest.mark.parametrize("who", ["x", "y"])
@pytest.mark.parametrize("whose", ["x", "y"])
def test_object_paths(world, path, who, whose):
    client = client_for(world[who]["user"], "api" if path.startswith("/api/") else "portal")
    response = client.get(path.format(pk=world[whose]["settlement"].pk))
    if who == whose:
        assert response.status_code == 200
    else:
        assert response.status_code == 404
        assert not DownloadEvent.objects.filter(user=world[who]["user"]).exists()


@pytest.mark.parametrize("path", PORTAL_GET + API_GET)
def test_another_partners_id_answers_as_a_missing_id(world, path):
    channel = "api" if path.startswith("/api/") else "portal"
    client = client_for(world["x"]["user"], channel)
    other = client.get(path.format(pk=world["y"]["settlement"].pk))
    missing = client.get(path.format(pk=MISSING))
    assert other.status_code == missing.status_code == 404
    if channel == "api":
        assert other.json() == missing.json()


@pytest.mark.parametrize("who", ["x", "y"])
@pytest.mark.parametrize("whose_settlement", ["x", "y"])
@pytest.mark.parametrize("whose_line", ["x", "y"])
def test_disputes_only_on_own_lines(world, who, whose_settlement, whose_line):
    settlement = world[whose_settlement]["settlement"]
    line = world[whose_line]["settlement"].lines.first()
    client = login(world[who]["user"])
    response = client.post(
        f"/portal/settlements/{settlement.pk}/lines/{line.pk}/dispute/", {"comment": "The count is wrong."}
    )
    if who == whose_settlement == whose_line:
        assert response.status_code == 302
        assert SettlementDispute.objects.filter(line=line, raised_by=world[who]["user"]).count() == 1
    else:
        assert response.status_code == 404
        assert not SettlementDispute.objects.exists()


@pytest.mark.parametrize("action", ["toggle", "remove"])
@pytest.mark.parametrize("who", ["x", "y"])
def test_webhooks_only_own(world, settings, action, who):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    hook = PartnerWebhook.objects.create(
        partner=world["x"]["user"].partner, url="https://hooks.example/x", secret="s", created_by=world["x"]["user"]
    )
    response = login(world[who]["user"]).post(f"/portal/webhooks/{hook.pk}/{action}/")
    if who == "x":
        assert response.status_code == 302
    else:
        assert response.status_code == 404
        hook.refresh_from_db()  # untouched
        assert hook.active
    page = login(world["y"]["user"]).get("/portal/webhooks/")
    assert "hooks.example" not in page.content.decode()


@pytest.mark.parametrize("path", PORTAL_GET)
def test_anonymous_visitors_are_sent_to_the_portal_sign_in(world, path):
    response = Client().get(path.format(pk=world["x"]["settlement"].pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/portal/login/?next=")


@pytest.mark.parametrize("path", [*API_GET, "/api/v1/partner/settlements/"])
def test_anonymous_api_calls_get_401(world, path):
    assert Client().get(path.format(pk=world["x"]["settlement"].pk)).status_code == 401


@pytest.mark.parametrize("path", [*PORTAL_GET, "/portal/", "/portal/api-access/", "/portal/webhooks/"])
def test_bank_staff_in_the_portal_are_sent_to_the_admin(world, head_office, path):
    response = login(head_office).get(path.format(pk=world["x"]["settlement"].pk))
    assert response.status_code == 302 and response["Location"] == "/admin/"


@pytest.mark.parametrize("path", [*API_GET, "/api/v1/partner/settlements/"])
def test_bank_staff_cannot_use_the_partner_api(world, head_office, path):
    assert token_client(head_office).get(path.format(pk=world["x"]["settlement"].pk)).status_code == 403


@pytest.mark.parametrize("path", ADMIN_GET)
@pytest.mark.parametrize(
    ("persona", "whose", "status"),
    [
        ("head_office", "x", 200),
        ("head_office", "y", 200),
        ("finance", "y", 200),
        ("rm_a", "x", 200),
        ("rm_a", "y", 404),  # partner Y belongs to branch B
        ("rm_b", "x", 404),
        ("rm_b", "y", 200),
        ("reviewer_a", "x", 403),  # reviewers do not read settlements
    ],
)
def test_staff_download_statements_in_their_scope(world, request, path, persona, whose, status):
    user = request.getfixturevalue(persona)
    response = login(user).get(path.format(pk=world[whose]["settlement"].pk))
    assert response.status_code == status
    assert DownloadEvent.objects.filter(user=user, channel="admin").count() == (1 if status == 200 else 0)


@pytest.mark.parametrize("path", ADMIN_GET)
def test_partner_users_never_reach_the_admin(world, path):
    response = login(world["x"]["user"]).get(path.format(pk=world["x"]["settlement"].pk))
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_the_admin_list_of_statements_is_scoped(world, rm_b):
    for key in ("x", "y"):
        statement_generate(settlement=world[key]["settlement"])
    page = login(rm_b).get("/admin/statements/statement/").content.decode()
    assert world["y"]["user"].partner.legal_name in page
    assert world["x"]["user"].partner.legal_name not in page


@pytest.mark.parametrize(
    "query", ["", "?period=2026-10", "?state=closed", "?state=approved", "?partner={y}", "?partner_id={y}"]
)
def test_lists_and_filters_hold_only_own_settlements(world, query):
    y = world["y"]["user"].partner
    response = token_client(world["x"]["user"]).get("/api/v1/partner/settlements/" + query.format(y=y.pk))
    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["results"]}
    assert world["y"]["settlement"].pk not in ids
    if query in ("", "?period=2026-10", "?state=closed", "?partner={y}", "?partner_id={y}"):
        assert ids == {world["x"]["settlement"].pk}
    page = login(world["x"]["user"]).get("/portal/" + query.format(y=y.pk)).content.decode()
    assert "1,590.00" not in page and "835.28" in page


def test_the_transactions_list_holds_only_own(world, pay, active_x, active_y):
    from revenue.ledger.services import transactions_ingest
    from tests.revenue.factories import txn_row

    transactions_ingest(rows=[txn_row(active_x, "TX"), txn_row(active_y, "TY")], source="payments", by=None)
    items = token_client(world["x"]["user"]).get("/api/v1/partner/transactions/").json()["results"]
    assert [item["external_id"] for item in items] == ["TX"]


def test_the_verification_page_reveals_only_partner_period_and_total(world):
    statement = statement_generate(settlement=world["y"]["settlement"])
    partner = world["y"]["user"].partner
    page = Client().get("/verify/", {"code": statement.code}).content.decode()
    assert partner.legal_name in page and "2026-10" in page and "1,590.00" in page
    for secret in [
        partner.credit_code,
        partner.settlement_account_no[-4:],
        statement.number,
        "1,500.00",  # the share
        "5,000.00",  # the bank revenue
        "支付结算",
    ]:
        assert secret not in page
