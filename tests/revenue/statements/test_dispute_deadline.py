"""A line can be disputed until the statement's dispute deadline (inclusive, Beijing days), not after: on every path."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from core import clock
from revenue.settlement.errors import InvalidState
from revenue.settlement.models import SettlementDispute
from revenue.settlement.services import settlement_dispute_open_until, settlement_dispute_raise
from revenue.statements.selectors import statement_data
from tests.revenue.statements.factories import LineSpec, beijing, make_settlement

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def closed_on_2_november(settings, partner_x, pay):
    settings.STATEMENT_DISPUTE_WINDOW_DAYS = 30
    return make_settlement(
        partner_x, "2026-10", lines=[LineSpec(pay, D("1000.00"))], closed_at=beijing(2026, 11, 2, 9, 0)
    )


def test_the_deadline_is_the_one_the_statement_prints(closed_on_2_november):
    assert settlement_dispute_open_until(closed_on_2_november) == dt.date(2026, 12, 2)
    assert statement_data(settlement=closed_on_2_november).dispute_deadline == dt.date(2026, 12, 2)


def test_a_dispute_on_the_last_day_is_taken(closed_on_2_november, partner_user_x):
    line = closed_on_2_november.lines.first()
    dispute = settlement_dispute_raise(
        line=line, by=partner_user_x, comment="Two events missing.", now=beijing(2026, 12, 2, 23, 59)
    )
    assert dispute.raised_at == beijing(2026, 12, 2, 23, 59)


def test_a_dispute_after_the_deadline_is_refused_with_the_date(closed_on_2_november, partner_user_x):
    line = closed_on_2_november.lines.first()
    # Midnight in Beijing is still 1 December in UTC: the deadline is counted in Beijing days.
    with pytest.raises(InvalidState, match="2026-12-02"):
        settlement_dispute_raise(line=line, by=partner_user_x, comment="Too late?", now=beijing(2026, 12, 3, 0, 0))
    assert not SettlementDispute.objects.exists()


def test_the_service_reads_the_products_clock_when_no_instant_is_given(
    closed_on_2_november, partner_user_x, monkeypatch
):
    monkeypatch.setattr(clock, "now", lambda: beijing(2027, 1, 10, 12, 0))
    with pytest.raises(InvalidState):
        settlement_dispute_raise(line=closed_on_2_november.lines.first(), by=partner_user_x, comment="Late")


def test_the_portal_refuses_a_late_dispute_and_says_why(closed_on_2_november, portal_x, monkeypatch):
    line = closed_on_2_november.lines.first()
    page = reverse("portal:settlement", args=[closed_on_2_november.pk])
    monkeypatch.setattr(clock, "now", lambda: beijing(2026, 12, 1, 12, 0))
    before = portal_x.get(page).content.decode()
    assert f"/lines/{line.pk}/dispute/" in before  # the form, while disputes are open
    assert 'data-test="dispute-deadline"' in before and "2026-12-02" in before

    monkeypatch.setattr(clock, "now", lambda: beijing(2026, 12, 5, 12, 0))
    after = portal_x.get(page).content.decode()
    assert f"/lines/{line.pk}/dispute/" not in after  # no form once the deadline has passed
    response = portal_x.post(
        reverse("portal:dispute-raise", args=[closed_on_2_november.pk, line.pk]), {"comment": "Late"}, follow=True
    )
    assert response.status_code == 200
    assert "2026-12-02" in response.content.decode()
    assert not SettlementDispute.objects.exists()
