"""Fixtures of the revenue tests: the demo-like catalogue, active partners, and token clients per persona."""

from __future__ import annotations

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from organisation.roles import Role
from portal.selectors import user_api_token
from portal.services import api_token_issue
from revenue.ledger.choices import RevenueKind
from revenue.ledger.models import SourceSystem
from tests.factories import UserFactory
from tests.revenue.factories import ProductFactory, make_active


@pytest.fixture(autouse=True)
def _english(settings):
    """Messages are asserted in their English source text, whatever the catalogue says."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def pay(db):
    return ProductFactory(code="PAY_SETTLE", name="支付结算", revenue_kind=RevenueKind.FEE)


@pytest.fixture
def loan(db):
    return ProductFactory(code="SCF_LOAN", name="供应链贷款", revenue_kind=RevenueKind.INTEREST_MARGIN)


@pytest.fixture
def active_x(partner_x):
    return make_active(partner_x)


@pytest.fixture
def active_y(partner_y):
    return make_active(partner_y)


@pytest.fixture
def source_system(db):
    """The payments system's API account, registered as the source system ``payments``."""
    user = UserFactory(username="payments", is_staff=False, roles=[Role.SOURCE_SYSTEM])
    SourceSystem.objects.update_or_create(code="payments", defaults={"name": "支付系统", "user": user})
    return user


# Keys of the tokens the tests issued (a key cannot be read back from the database), by digest.
token_keys: dict[int, str] = {}


def token_client(user) -> APIClient:
    """A client with the user's current token (issued on first use; reused, as get_or_create did, while valid)."""
    client = APIClient()
    token = user_api_token(user=user)
    key = token_keys.get(token.digest) if token else None
    if key is None:
        issued = api_token_issue(user=user, name="test")
        token, key = issued.token, issued.key
        token_keys[token.digest] = key
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def source_client(source_system):
    return token_client(source_system)
