"""Targets for the demo alliance, so that the demo month has scorecards to show.

Real targets come from head office (the admin or a spreadsheet import). For
the demo, each branch with partners gets targets for the KPIs the product can
compute, set near its own figures for the period with a different stretch per
branch, so that the ranking has winners and laggards. Revenue share paid is
left out until settlements exist (see ``performance.selectors``).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from onboarding.models import Partner
from organisation.models import Branch
from performance.models import KPI, BranchTarget
from performance.periods import ReportingPeriod
from performance.selectors import kpi_actuals_for_period

DEMO_WEIGHTS = {
    KPI.PARTNERS_ONBOARDED: Decimal("0.10"),
    KPI.ACTIVE_PARTNERS: Decimal("0.20"),
    KPI.SMES_REACHED: Decimal("0.20"),
    KPI.TRANSACTION_VOLUME: Decimal("0.25"),
    KPI.BANK_REVENUE: Decimal("0.25"),
}
# Each branch's targets are its figures divided by one of these: some exceed, some fall short.
STRETCH = (Decimal("0.80"), Decimal("0.95"), Decimal("1.05"), Decimal("1.20"), Decimal("1.40"))
MONEY_KPIS = {KPI.TRANSACTION_VOLUME, KPI.BANK_REVENUE}


def _target(kpi: str, actual: Decimal, stretch: Decimal) -> Decimal:
    if kpi in MONEY_KPIS:
        return max(actual * stretch, Decimal(1000)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return max(actual * stretch, Decimal(1)).quantize(Decimal(1), rounding=ROUND_HALF_UP)


@transaction.atomic
def demo_targets_create(*, period: ReportingPeriod, as_of: dt.datetime | None = None) -> int:
    """Replace the period's targets of every branch with partners by demo targets; returns how many were set."""
    as_of = as_of or timezone.now()
    branches = list(
        Branch.objects.filter(pk__in=Partner.objects.values("branch_id")).order_by("pk").select_for_update()
    )
    actuals = kpi_actuals_for_period(
        period_kind=period.kind, period_start=period.start, as_of=as_of, kpis=list(DEMO_WEIGHTS)
    )
    BranchTarget.objects.filter(period_kind=period.kind, period_start=period.start).delete()
    targets = [
        BranchTarget(
            branch=branch,
            period_kind=period.kind,
            period_start=period.start,
            kpi=kpi.value,
            target_value=_target(kpi, actuals.get((branch.pk, kpi.value), Decimal(0)), STRETCH[index % len(STRETCH)]),
            weight=weight,
        )
        for index, branch in enumerate(branches)
        for kpi, weight in DEMO_WEIGHTS.items()
    ]
    BranchTarget.objects.bulk_create(targets)
    return len(targets)
