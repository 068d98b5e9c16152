"""Workspace tests reuse the admission cases driven through the real services (``tests/onboarding/conftest.py``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from revenue.ledger.choices import RevenueKind
from tests.onboarding.conftest import case_in, new_case  # noqa: F401 - fixtures
from tests.revenue.factories import ProductFactory
from tests.revenue.statements.factories import LineSpec, make_settlement

D = Decimal


@pytest.fixture
def product(db):
    return ProductFactory(code="PAY_SETTLE", name="支付结算", revenue_kind=RevenueKind.FEE)


@pytest.fixture
def closed_settlement(partner_x, product):
    return make_settlement(partner_x, "2026-10", lines=[LineSpec(product, D("1000.00"), D("0.30"), count=120)])
