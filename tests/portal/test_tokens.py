"""API tokens: stored as digests, expiring, revocable, used cheaply; the throttle counts per partner."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from organisation.roles import Role
from portal.models import ApiToken
from portal.services import api_token_issue, partner_token_rotate
from tests.factories import UserFactory
from tests.revenue.statements.conftest import login

SETTLEMENTS = "/api/v1/partner/settlements/"


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_only_a_digest_and_a_prefix_are_stored(partner_user_x):
    issued = partner_token_rotate(user=partner_user_x)
    row = ApiToken.objects.values().get(pk=issued.token.pk)
    assert row["digest"] == hashlib.sha256(issued.key.encode()).hexdigest()
    assert row["prefix"] == issued.key[:8]
    assert not any(issued.key in str(value) for value in row.values())
    assert not apps.is_installed("rest_framework.authtoken")


def test_a_token_expires_after_the_configured_days(settings, partner_user_x, settlement_x):
    settings.API_TOKEN_TTL_DAYS = 30
    issued = partner_token_rotate(user=partner_user_x)
    assert issued.token.expires_at - issued.token.created_at == dt.timedelta(days=30)
    client = client_with(issued.key)
    assert client.get(SETTLEMENTS).status_code == 200
    ApiToken.objects.filter(pk=issued.token.pk).update(
        created_at=timezone.now() - dt.timedelta(days=31), expires_at=timezone.now() - dt.timedelta(days=1)
    )
    response = client.get(SETTLEMENTS)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert response["WWW-Authenticate"] == "Token"


def test_a_revoked_token_is_told_so(partner_user_x, settlement_x):
    issued = partner_token_rotate(user=partner_user_x)
    partner_token_rotate(user=partner_user_x)  # replaced: the first one is revoked
    response = client_with(issued.key).get(SETTLEMENTS)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert client_with("0" * 64).get(SETTLEMENTS).json()["detail"] == "Invalid token."


def test_last_use_is_written_at_most_once_a_minute(partner_user_x, settlement_x):
    issued = partner_token_rotate(user=partner_user_x)
    client = client_with(issued.key)
    client.get(SETTLEMENTS)
    first_use = ApiToken.objects.get(pk=issued.token.pk).last_used_at
    assert first_use is not None
    client.get(SETTLEMENTS)
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at == first_use
    ApiToken.objects.filter(pk=issued.token.pk).update(last_used_at=first_use - dt.timedelta(minutes=2))
    client.get(SETTLEMENTS)
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at > first_use


def test_replacing_a_token_does_not_reset_the_partners_budget(settings, partner_user_x, settlement_x):
    settings.PARTNER_API_THROTTLE_RATE = "3/minute"
    first = partner_token_rotate(user=partner_user_x)
    for _ in range(3):
        assert client_with(first.key).get(SETTLEMENTS).status_code == 200
    second = partner_token_rotate(user=partner_user_x)
    assert client_with(second.key).get(SETTLEMENTS).status_code == 429


def test_another_user_of_the_same_partner_shares_the_budget(settings, partner_x, partner_user_x, settlement_x):
    colleague = UserFactory(username="x-colleague", is_staff=False, partner=partner_x, roles=[Role.PARTNER_USER])
    settings.PARTNER_API_THROTTLE_RATE = "2/minute"
    for _ in range(2):
        assert client_with(partner_token_rotate(user=partner_user_x).key).get(SETTLEMENTS).status_code == 200
    assert client_with(partner_token_rotate(user=colleague).key).get(SETTLEMENTS).status_code == 429


@pytest.mark.parametrize(
    "header",
    [
        "Token a\x00b",
        "Token " + "a" * 5000,
        "Token " + "é" * 64,
        "Token abc def",
        "Token " + "g" * 64,
    ],
    ids=["nul", "over-long", "non-ascii", "three-parts", "not-hex"],
)
def test_malformed_token_headers_get_401_not_500(db, settlement_x, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(SETTLEMENTS)
    assert response.status_code == 401
    assert "Invalid token" in response.json()["detail"]


def test_source_systems_get_their_tokens_from_the_command(source_system, pay, active_x):
    out = io.StringIO()
    call_command("api_token_issue", "payments", "--name", "payments prod", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    token = ApiToken.objects.get(user=source_system)
    assert token.name == "payments prod" and token.digest == hashlib.sha256(key.encode()).hexdigest()
    response = client_with(key).post("/api/v1/transactions/batch/", {"transactions": []}, format="json")
    assert response.status_code not in (401, 403)


def test_issuing_replaces_the_accounts_previous_token(source_system):
    first = api_token_issue(user=source_system)
    second = api_token_issue(user=source_system)
    first.token.refresh_from_db()
    assert first.token.revoked_at is not None
    assert second.token.revoked_at is None


def test_the_api_access_page_shows_the_prefix_and_expiry_never_the_key(partner_user_x):
    issued = partner_token_rotate(user=partner_user_x)
    page = login(partner_user_x).get("/portal/api-access/").content.decode()
    assert issued.token.prefix in page and "valid until" in page and "Not used yet." in page
    assert issued.key not in page
