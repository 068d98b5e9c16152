"""When an admitted partner is next re-reviewed (年审): a number of months by risk rating, from settings."""

from __future__ import annotations

import calendar
from datetime import date

from django.conf import settings

from onboarding.models import Partner, RiskRating


def review_interval_months(risk_rating: str) -> int:
    """Months between re-reviews: REREVIEW_MONTHS_HIGH / _MEDIUM / _LOW."""
    return {
        RiskRating.HIGH: settings.REREVIEW_MONTHS_HIGH,
        RiskRating.MEDIUM: settings.REREVIEW_MONTHS_MEDIUM,
        RiskRating.LOW: settings.REREVIEW_MONTHS_LOW,
    }[risk_rating]


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day (31 Aug + 6 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_review_date(*, risk_rating: str, from_day: date) -> date:
    return add_months(from_day, review_interval_months(risk_rating))


def partner_schedule_next_review(*, partner: Partner, today: date) -> date:
    """Set the partner's next re-review date from ``today`` and its risk rating; the date."""
    due = next_review_date(risk_rating=partner.risk_rating, from_day=today)
    Partner.objects.filter(pk=partner.pk).update(next_review_on=due)
    partner.next_review_on = due
    return due
