"""A suspended partner's users read past statements only; a terminated partner's users lose every access."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.errors import NotPermitted
from onboarding import services as onboarding
from onboarding.models import AdmissionState, Partner
from onboarding.selectors import partner_state_log
from portal.models import ApiToken
from portal.services import partner_token_rotate
from revenue.statements.models import PartnerWebhook
from revenue.statements.services import webhook_create, webhook_set_active
from tests.revenue.factories import make_active
from tests.revenue.statements.conftest import login

PASSWORD = "correct-horse-battery-staple-9"


def set_state(partner: Partner, state: str) -> None:
    Partner.objects.filter(pk=partner.pk).update(state=state)


def api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def sign_in(user) -> tuple[Client, object]:
    user.set_password(PASSWORD)
    user.save()
    client = Client()
    response = client.post("/portal/login/", {"username": user.username, "password": PASSWORD})
    return client, response


@pytest.fixture
def armed_x(settings, partner_x, partner_user_x, settlement_x):
    """Partner X, active, with an API token and a webhook."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    make_active(partner_x)
    key = partner_token_rotate(user=partner_user_x).key
    webhook_create(partner=partner_x, url="https://hooks.example.com/x", by=partner_user_x)
    return key


def test_a_suspended_partner_reads_statements_in_the_portal_and_nothing_else(
    armed_x, partner_x, partner_user_x, settlement_x
):
    line = settlement_x.lines.order_by("position").first()
    portal = login(partner_user_x)
    set_state(partner_x, AdmissionState.SUSPENDED)

    assert portal.get("/portal/").status_code == 200
    detail = portal.get(f"/portal/settlements/{settlement_x.pk}/")
    assert detail.status_code == 200 and "dispute-raise" not in detail.content.decode()
    assert portal.get(f"/portal/settlements/{settlement_x.pk}/statement.pdf").status_code == 200
    assert portal.get(f"/portal/settlements/{settlement_x.pk}/transactions.csv").status_code == 200

    refused = portal.post(f"/portal/settlements/{settlement_x.pk}/lines/{line.pk}/dispute/", {"comment": "不对"})
    assert refused.status_code == 302 and refused["Location"] == "/portal/"
    assert not line.disputes.exists()
    portal.post("/portal/webhooks/", {"url": "https://hooks.example.com/another"})
    assert PartnerWebhook.objects.filter(partner=partner_x).count() == 1
    portal.post("/portal/api-access/", {"action": "rotate"})
    assert ApiToken.objects.filter(user=partner_user_x).count() == 1

    response = api(armed_x).get("/api/v1/partner/settlements/")
    assert response.status_code == 403
    assert "suspended" in response.json()["detail"]
    assert api(armed_x).get("/api/v1/partner/transactions/").status_code == 403
    # Suspension is reversible: the token is kept, refused until the partner is reinstated.
    set_state(partner_x, AdmissionState.ACTIVE)
    assert api(armed_x).get("/api/v1/partner/settlements/").status_code == 200


def test_a_suspended_partner_without_read_access_cannot_sign_in(settings, partner_x, partner_user_x, settlement_x):
    settings.PORTAL_SUSPENDED_PARTNER_CAN_READ_STATEMENTS = False
    make_active(partner_x)
    portal = login(partner_user_x)
    set_state(partner_x, AdmissionState.SUSPENDED)
    assert portal.get(f"/portal/settlements/{settlement_x.pk}/statement.pdf")["Location"] == "/portal/login/"
    assert portal.get("/portal/")["Location"].startswith("/portal/login/")  # signed out
    _, response = sign_in(partner_user_x)
    assert response.status_code == 200
    assert "suspended or has ended" in response.content.decode()


def test_a_suspended_partner_with_read_access_signs_in(partner_x, partner_user_x, settlement_x):
    set_state(partner_x, AdmissionState.SUSPENDED)
    client, response = sign_in(partner_user_x)
    assert response.status_code == 302
    assert client.get("/portal/").status_code == 200


def test_termination_revokes_tokens_deactivates_webhooks_and_records_it(
    armed_x, partner_x, partner_user_x, rm_a, settlement_x
):
    portal = login(partner_user_x)
    onboarding.partner_terminate(partner=partner_x, by=rm_a, comment="合作到期")

    response = api(armed_x).get("/api/v1/partner/settlements/")
    assert response.status_code == 401 and "revoked" in response.json()["detail"]
    assert not ApiToken.objects.usable().filter(user=partner_user_x).exists()
    assert not PartnerWebhook.objects.filter(partner=partner_x, active=True).exists()
    entry = partner_state_log(partner=partner_x).get(transition="revoke_access")
    assert entry.by == rm_a and entry.state == AdmissionState.TERMINATED
    assert "1 API tokens" in entry.description and "1 webhooks" in entry.description

    # The open session ends at its next request, and signing in again is refused.
    assert portal.get(f"/portal/settlements/{settlement_x.pk}/statement.pdf")["Location"] == "/portal/login/"
    _, again = sign_in(partner_user_x)
    assert again.status_code == 200 and "suspended or has ended" in again.content.decode()


def test_a_terminated_partners_webhooks_cannot_be_switched_back_on(armed_x, partner_x, partner_user_x, rm_a):
    onboarding.partner_terminate(partner=partner_x, by=rm_a, comment="合作到期")
    webhook = PartnerWebhook.objects.get(partner=partner_x)
    with pytest.raises(NotPermitted):
        webhook_set_active(webhook=webhook, active=True, by=partner_user_x)
