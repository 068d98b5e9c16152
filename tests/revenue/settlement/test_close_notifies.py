"""A month-end close tells finance, once, that the period's settlements await approval (not whoever closed it)."""

from __future__ import annotations

import pytest

from revenue.settlement.choices import RunKind
from tests.revenue.settlement.conftest import book, pct, row
from workspace.models import Notification, NotificationKind

pytestmark = pytest.mark.django_db

SEP = "2026-09-10T10:00:00+08:00"


def test_a_close_tells_finance_and_an_accrual_does_not(pay, active_x, closer, finance, run_settlement):
    pct(pay, "0.300000")
    book(row(active_x, "S1", revenue="1000.00", at=SEP))
    run_settlement("2026-09", kind=RunKind.ACCRUAL, by=closer)
    assert not Notification.objects.exists()

    run = run_settlement("2026-09", by=closer)
    told = Notification.objects.filter(kind=NotificationKind.SETTLEMENTS_AWAIT_APPROVAL)
    assert list(told.values_list("recipient__username", flat=True)) == ["finance"]
    assert f"period__id__exact={run.period_id}" in told.get().url
    assert "2026-09" in told.get().title
