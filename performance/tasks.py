"""Celery tasks of performance control: thin wrappers around the services, safe to run twice."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.db import transaction

from performance.errors import ScorecardBuildRefused
from performance.models import BranchTarget
from performance.periods import PeriodKind, ReportingPeriod
from performance.services import partner_tier_proposals, scorecards_build

logger = logging.getLogger(__name__)


@shared_task(name="performance.scorecards_build")
def scorecards_build_task(period_kind: str, period_start: str) -> dict:
    """Build a period's scorecards with the figures as of now (idempotent: a rerun replaces them).

    A period without targets is skipped (logged), not failed: the month-end
    chain asks for every period kind that ends with the month.
    """
    period = ReportingPeriod(period_kind, dt.date.fromisoformat(period_start))
    try:
        build = scorecards_build(period_kind=period.kind, period_start=period.start)
    except ScorecardBuildRefused as exc:
        logger.info("scorecards for %s not built: %s", period, exc.message)
        return {"period": str(period), "built": 0, "reason": str(exc.message)}
    return {"period": str(period), "built": len(build.scorecards), "as_of": build.as_of.isoformat()}


@shared_task(name="performance.tier_proposals")
def tier_proposals_task(period_kind: str, period_start: str) -> dict:
    """Evaluate the tier rules for a period and store the proposals (a rerun replaces the open ones)."""
    period = ReportingPeriod(period_kind, dt.date.fromisoformat(period_start))
    run = partner_tier_proposals(period=period)
    return {"period": str(period), "evaluated": run.evaluated, "proposed": run.proposed}


def periods_ending_with(month: dt.date) -> list[ReportingPeriod]:
    """The month itself, and the quarter and the year when the month is their last."""
    periods = [ReportingPeriod(PeriodKind.MONTH, month.replace(day=1))]
    for kind in (PeriodKind.QUARTER, PeriodKind.YEAR):
        period = ReportingPeriod.containing(kind, month)
        if period.months[-1].first_day == month.replace(day=1):
            periods.append(period)
    return periods


def performance_after_month_close(*, month: dt.date) -> list[ReportingPeriod]:
    """Queue the scorecards (and, for the month, the tier proposals) once a month's settlements are closed.

    Call it from the month-end close; the tasks are queued when the caller's
    transaction commits. Quarters and years are built when the month ends them
    and they have targets. Returns the periods queued.
    """
    periods = [
        period
        for period in periods_ending_with(month)
        if period.kind == PeriodKind.MONTH
        or BranchTarget.objects.filter(period_kind=period.kind, period_start=period.start).exists()
    ]
    for period in periods:
        args = (period.kind, period.start.isoformat())
        transaction.on_commit(lambda args=args: scorecards_build_task.delay(*args))
    first = periods[0]
    transaction.on_commit(lambda: tier_proposals_task.delay(first.kind, first.start.isoformat()))
    return periods
