import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from performance.models import BranchTarget


@pytest.fixture
def english():
    """Messages in English, so that assertions on their text hold whatever catalogue is installed."""
    with translation.override("en"):
        yield


@pytest.fixture
def client(client):
    """The test client asking for English pages, so assertions on message texts hold whatever catalogue is built."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def make_target():
    def make(
        branch,
        kpi="bank_revenue",
        *,
        period_kind="month",
        period_start=dt.date(2026, 10, 1),
        target="100.00",
        weight="1",
    ):
        return BranchTarget.objects.create(
            branch=branch,
            period_kind=period_kind,
            period_start=period_start,
            kpi=kpi,
            target_value=Decimal(target),
            weight=Decimal(weight),
        )

    return make
