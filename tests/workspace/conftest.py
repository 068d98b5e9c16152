"""Workspace tests: admission cases driven through the real services (``tests/onboarding/conftest.py``), a closed
settlement, and the demo alliance at a small size for the admin crawl."""

from __future__ import annotations

from decimal import Decimal

import pytest

from revenue.ledger.choices import RevenueKind
from tests.onboarding.conftest import case_in, new_case  # noqa: F401 - fixtures
from tests.revenue.factories import ProductFactory
from tests.revenue.statements.factories import LineSpec, make_settlement
from tests.workspace.demo_data import demo_workspace_load

D = Decimal


@pytest.fixture
def product(db):
    return ProductFactory(code="PAY_SETTLE", name="支付结算", revenue_kind=RevenueKind.FEE)


@pytest.fixture
def closed_settlement(partner_x, product):
    return make_settlement(partner_x, "2026-10", lines=[LineSpec(product, D("1000.00"), D("0.30"), count=120)])


@pytest.fixture
def demo_workspace(transactional_db, settings, tmp_path):
    # Committed data: a run's tasks are queued on commit (and run in-process without a broker).
    settings.MEDIA_ROOT = tmp_path / "media"
    demo_workspace_load()


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """The demo's runs execute in-process whatever broker is configured (no worker serves these tests)."""
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved
