"""Reads for performance control: scoped targets and the KPI actuals of branches.

KPI actuals are computed set-based in the database, one query per KPI for all
branches, for a period *as of* a moment: only what was known at ``as_of``
counts, so computing a past period again later gives the same figures even
after new data arrived. Each KPI has a selector
``(period, as_of) -> {branch_id: value}`` registered in ``KPI_SELECTORS``;
``kpi_actuals_for_period`` assembles them. A branch missing from a KPI's
result has zero for it.

Branches are the partners' owning branches as they are now (a partner
moved to another branch takes its history with it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils.translation import gettext as _

from onboarding.models import Partner, PartnerActivePeriod
from organisation.models import User
from organisation.services import user_sees_all_branches
from performance.errors import KPIUnavailable
from performance.models import KPI, BranchTarget
from performance.periods import ReportingPeriod

KPISelector = Callable[[ReportingPeriod, dt.datetime], dict[int, Decimal]]

KPI_SELECTORS: dict[str, KPISelector] = {}


def register_kpi_selector(kpi: KPI) -> Callable[[KPISelector], KPISelector]:
    """Declare the selector computing ``kpi`` for every branch (one set-based query)."""

    def decorator(func: KPISelector) -> KPISelector:
        KPI_SELECTORS[KPI(kpi).value] = func
        return func

    return decorator


def _require_aware(as_of: dt.datetime) -> None:
    if not isinstance(as_of, dt.datetime) or as_of.tzinfo is None:
        raise ValueError("as_of must be an aware datetime")


@register_kpi_selector(KPI.PARTNERS_ONBOARDED)
def partners_onboarded_by_branch(period: ReportingPeriod, as_of: dt.datetime) -> dict[int, Decimal]:
    """Partners whose first activation falls in the period, per owning branch.

    Onboarded means "first became active": a partner re-activated after a
    suspension is not onboarded again. An activation after ``as_of`` was not
    known then and does not count.
    """
    _require_aware(as_of)
    first_activation = (
        PartnerActivePeriod.objects.filter(partner=OuterRef("pk")).order_by("started_at").values("started_at")[:1]
    )
    rows = (
        Partner.objects.annotate(first_active_at=Subquery(first_activation))
        .filter(first_active_at__gte=period.start_at, first_active_at__lt=period.end_at, first_active_at__lte=as_of)
        .values("branch_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["branch_id"]: Decimal(row["n"]) for row in rows}


@register_kpi_selector(KPI.ACTIVE_PARTNERS)
def active_partners_by_branch(period: ReportingPeriod, as_of: dt.datetime) -> dict[int, Decimal]:
    """Partners active at the end of the period (as known at ``as_of``), per owning branch.

    Active at the end means an active period covering the period's last
    instant: started before the end and not ended before it. As known at
    ``as_of``: an active period started after ``as_of`` is ignored, and one
    ended after ``as_of`` was still open then. When ``as_of`` falls inside the
    period this is the count active at ``as_of``, projected to the end.
    """
    _require_aware(as_of)
    end = period.end_at
    covering = Q(started_at__lt=end, started_at__lte=as_of) & (
        Q(ended_at__isnull=True) | Q(ended_at__gte=end) | Q(ended_at__gt=as_of)
    )
    rows = (
        PartnerActivePeriod.objects.filter(covering)
        .values("partner__branch_id")
        .annotate(n=Count("partner_id", distinct=True))
        .order_by()
    )
    return {row["partner__branch_id"]: Decimal(row["n"]) for row in rows}


def kpi_actuals_for_period(
    *, period_kind: str, period_start: dt.date, as_of: dt.datetime, kpis: Iterable[str] | None = None
) -> dict[tuple[int, str], Decimal]:
    """Every branch's actual figure per KPI for a period, as known at ``as_of``.

    Returns ``{(branch_id, kpi): value}``; an absent key means zero. ``kpis``
    defaults to every KPI; asking for a KPI without a registered selector
    raises ``KPIUnavailable``.
    """
    period = ReportingPeriod(period_kind, period_start)
    wanted = [KPI(k).value for k in (kpis if kpis is not None else KPI.values)]
    missing = [k for k in wanted if k not in KPI_SELECTORS]
    if missing:
        raise KPIUnavailable(
            _("No figures can be computed yet for: %(kpis)s") % {"kpis": ", ".join(str(KPI(k).label) for k in missing)},
            extra={"kpis": missing},
        )
    actuals: dict[tuple[int, str], Decimal] = {}
    for kpi in wanted:
        for branch_id, value in KPI_SELECTORS[kpi](period, as_of).items():
            actuals[(branch_id, kpi)] = value
    return actuals


def branch_targets_visible_to(*, user: User) -> QuerySet[BranchTarget]:
    """Targets a user may see: all for head office and finance, their own branch's for branch staff."""
    queryset = BranchTarget.objects.select_related("branch")
    if user_sees_all_branches(user):
        return queryset
    if not user.is_active or user.branch_id is None:
        return queryset.none()
    return queryset.filter(branch_id=user.branch_id)


def branch_target_weight_sum(
    *, branch_id: int, period_kind: str, period_start: dt.date, exclude_pk: int | None = None
) -> Decimal:
    """The sum of the weights of one branch-period's targets (optionally leaving one out)."""
    weights = BranchTarget.objects.filter(branch_id=branch_id, period_kind=period_kind, period_start=period_start)
    if exclude_pk is not None:
        weights = weights.exclude(pk=exclude_pk)
    # Summed here rather than by SQL: SQLite would sum the decimals as floating point.
    return sum(weights.values_list("weight", flat=True), Decimal(0))


def branch_target_weight_sums(*, period: ReportingPeriod | None = None) -> list[dict]:
    """Each branch-period's sum of target weights where it is not 1 (an incomplete or broken set).

    Rows: ``{"branch_id", "branch__code", "branch__name", "period_kind", "period_start", "weight_sum"}``.
    """
    queryset = BranchTarget.objects.all()
    if period is not None:
        queryset = queryset.filter(period_kind=period.kind, period_start=period.start)
    rows = (
        queryset.values("branch_id", "branch__code", "branch__name", "period_kind", "period_start")
        .annotate(weight_sum=Sum("weight"))
        .order_by("period_start", "period_kind", "branch__code")
    )
    # SQLite sums decimals as floating point; weights have four places, so round back to them.
    result = []
    for row in rows:
        row["weight_sum"] = Decimal(str(row["weight_sum"])).quantize(Decimal("0.0001"))
        if row["weight_sum"] != 1:
            result.append(row)
    return result
