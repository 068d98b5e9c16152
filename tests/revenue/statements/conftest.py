"""Fixtures of the statement tests: a closed October for partners X and Y, signed-in clients per persona."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client

from revenue.settlement.choices import SettlementState
from tests.revenue.conftest import token_client
from tests.revenue.statements.factories import LineSpec, make_settlement

D = Decimal


@pytest.fixture(autouse=True)
def _tasks_in_process(request, settings):
    """Tasks run eagerly here even when a broker is configured, except in tests marked ``celery_worker``."""
    from config.celery import app

    settings.SETTLEMENT_BUILD_SCORECARDS = False
    if request.node.get_closest_marker("celery_worker"):
        yield
        return
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture(autouse=True)
def _clean_cache():
    # Throttles count in the cache: every test starts with a clean slate.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def settlement_x(partner_x, pay, loan):
    """Partner X, October 2026, closed: two products and an adjustment of September.

    Shares: 1,000.00 × 30% = 300.00; 2,500.00 × 20% = 500.00; adjustment −40.00 × 30% = −12.00.
    Net 788.00, VAT 6% 47.28, payable 835.28.
    """
    return make_settlement(
        partner_x,
        "2026-10",
        lines=[
            LineSpec(pay, D("1000.00"), D("0.30"), count=120),
            LineSpec(loan, D("2500.00"), D("0.20"), count=8),
            LineSpec(pay, D("-40.00"), D("0.30"), count=-2, corrects="2026-09"),
        ],
    )


@pytest.fixture
def settlement_y(partner_y, pay):
    """Partner Y, October 2026, approved: 5,000.00 × 30% = 1,500.00, VAT 90.00, payable 1,590.00."""
    return make_settlement(
        partner_y, "2026-10", lines=[LineSpec(pay, D("5000.00"), D("0.30"), count=300)], state=SettlementState.APPROVED
    )


@pytest.fixture
def draft_x(partner_x, pay):
    """Partner X, November 2026, still accruing."""
    return make_settlement(
        partner_x, "2026-11", lines=[LineSpec(pay, D("100.00"), D("0.30"))], state=SettlementState.DRAFT
    )


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def portal_x(partner_user_x):
    return login(partner_user_x)


@pytest.fixture
def portal_y(partner_user_y):
    return login(partner_user_y)


@pytest.fixture
def api_x(partner_user_x):
    return token_client(partner_user_x)


@pytest.fixture
def api_y(partner_user_y):
    return token_client(partner_user_y)


@pytest.fixture
def partner_factory(db):
    from tests.factories import PartnerFactory

    return PartnerFactory
