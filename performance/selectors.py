"""Reads for performance control: scoped targets, the KPI actuals of branches and partners, scorecards.

KPI actuals are computed set-based in the database for a period *as of* a
moment: only what was known at ``as_of`` counts, so computing a past period
again later gives the same figures even after new data arrived. Each KPI has
a selector ``(period, as_of) -> {branch_id: value}`` registered in
``KPI_SELECTORS``; KPIs computed by one query together (the ledger's) also
register that query in ``KPI_GROUPS`` so that ``kpi_actuals_for_period``
runs it once. A branch missing from a KPI's result has zero for it.

Branches are the partners' owning branches as they are now (a partner
moved to another branch takes its history with it). For the ledger KPIs this
is the attributed partner's branch, not the transaction's ``branch`` column:
a co-served transaction counts for each partner's branch with that partner's
share, and a branch's figures are exactly the sum of its partners' figures
shown when drilling down (SMEs apart: an SME served by two partners of a
branch is one SME of the branch).

Ledger KPIs (``ledger.TransactionAttribution`` with its ``Transaction``):

* transaction volume = sum of attributed amounts, bank revenue = sum of
  attributed bank revenue, over attributions whose event occurred in the
  period (Beijing time) and whose transaction was booked (``booked_at``) on or
  before ``as_of``. Reversals count with their negative amounts in the period
  they occurred in; an event that arrives late for a closed period changes the
  figures only of a computation with a later ``as_of``. Partners flagged
  inactive at the event still count: the bank earned the revenue through them.
* SMEs reached = distinct ``sme_id`` of the transactions, reversals left out
  (a reversal does not reach anyone; its original did).
* Money is summed with ``core.money.MoneySum`` (exact on SQLite too).

* revenue share paid = the partners' shares settled for the period's months:
  product and adjustment lines (``share_total + adjustment_total``, VAT and
  carry-ins left out, so nothing counts twice) of settlements closed on or
  before ``as_of``. A month-end close is when the share becomes owed; the
  payment itself follows finance's approval, days later, and the scorecard is
  built right after the close.

A KPI with no selector is refused with ``KPIUnavailable``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Case, Count, F, OuterRef, Q, QuerySet, Subquery, Sum, When
from django.http import Http404
from django.utils.translation import gettext as _

from core.money import ZERO, MoneySum
from core.periods import Period
from onboarding.models import Partner, PartnerActivePeriod
from onboarding.policies import ADMITTED_STATES
from onboarding.selectors import partner_reviews_on_time
from organisation.models import Branch, User
from organisation.services import user_sees_all_branches
from performance.errors import KPIUnavailable
from performance.models import (
    KPI,
    BranchScorecard,
    BranchTarget,
    ScorecardKPILine,
    ScorecardTopPartner,
    TierProposal,
)
from performance.periods import ReportingPeriod
from performance.scoring import growth_rate
from revenue.ledger.models import Transaction, TransactionAttribution

KPISelector = Callable[[ReportingPeriod, dt.datetime], dict[int, Decimal]]
KPIGroupSelector = Callable[[ReportingPeriod, dt.datetime], dict[str, dict[int, Decimal]]]

KPI_SELECTORS: dict[str, KPISelector] = {}
KPI_GROUPS: dict[str, KPIGroupSelector] = {}


def register_kpi_selector(kpi: KPI) -> Callable[[KPISelector], KPISelector]:
    """Declare the selector computing ``kpi`` for every branch (one set-based query)."""

    def decorator(func: KPISelector) -> KPISelector:
        KPI_SELECTORS[KPI(kpi).value] = func
        return func

    return decorator


def register_kpi_group_selector(*kpis: KPI) -> Callable[[KPIGroupSelector], KPIGroupSelector]:
    """Declare one query computing several KPIs for every branch: ``(period, as_of) -> {kpi: {branch_id: value}}``.

    Each KPI also gets a single-KPI selector in ``KPI_SELECTORS``;
    ``kpi_actuals_for_period`` runs the group's query once for all of them.
    """

    def decorator(func: KPIGroupSelector) -> KPIGroupSelector:
        for kpi in kpis:
            code = KPI(kpi).value
            KPI_GROUPS[code] = func
            KPI_SELECTORS[code] = _one_of_group(func, code)
        return func

    return decorator


def _one_of_group(func: KPIGroupSelector, kpi: str) -> KPISelector:
    def selector(period: ReportingPeriod, as_of: dt.datetime) -> dict[int, Decimal]:
        return func(period, as_of).get(kpi, {})

    selector.__name__ = f"{func.__name__}__{kpi}"
    return selector


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


@register_kpi_selector(KPI.REVENUE_SHARE_PAID)
def revenue_share_paid_by_branch(period: ReportingPeriod, as_of: dt.datetime) -> dict[int, Decimal]:
    """Partners' shares settled for the period's months, per owning branch, as closed by ``as_of``."""
    from revenue.settlement.models import Settlement

    _require_aware(as_of)
    rows = (
        Settlement.objects.filter(
            period__start__gte=period.start,
            period__start__lt=period.end,
            closed_at__isnull=False,
            closed_at__lte=as_of,
        )
        .values("partner__branch_id")
        # Two sums added in Python: each MoneySum converts its own exact fen sum on SQLite.
        .annotate(shares=MoneySum("share_total"), adjustments=MoneySum("adjustment_total"))
        .order_by()
    )
    return {row["partner__branch_id"]: row["shares"] + row["adjustments"] for row in rows}


def ledger_attributions(period: ReportingPeriod, as_of: dt.datetime) -> QuerySet[TransactionAttribution]:
    """Attributions of events that occurred in ``period`` and were booked on or before ``as_of``."""
    _require_aware(as_of)
    return TransactionAttribution.objects.filter(
        occurred_at__gte=period.start_at, occurred_at__lt=period.end_at, transaction__booked_at__lte=as_of
    ).order_by()


def _when(condition: Q, column: str) -> Case:
    # MoneySum(filter=...) cannot be compiled on SQLite (its template clashes with FILTER), and
    # SUM ignores the NULLs of a CASE without ELSE just as FILTER would leave the rows out.
    return Case(When(condition, then=F(column)))


def _smes_reached(**filters) -> Count:
    # Reversals mirror an event that reached the SME already; alone they reach no one.
    return Count("transaction__sme_id", distinct=True, filter=Q(is_reversal=False, **filters))


def ledger_kpis_by_branch_queryset(period: ReportingPeriod, as_of: dt.datetime) -> QuerySet:
    """The one GROUP BY query behind the ledger KPIs: rows of branch, volume, revenue and SMEs."""
    return (
        ledger_attributions(period, as_of)
        .values(branch_id=F("partner__branch_id"))
        .annotate(volume=MoneySum("amount"), revenue=MoneySum("bank_revenue"), smes=_smes_reached())
    )


@register_kpi_group_selector(KPI.SMES_REACHED, KPI.TRANSACTION_VOLUME, KPI.BANK_REVENUE)
def ledger_kpis_by_branch(period: ReportingPeriod, as_of: dt.datetime) -> dict[str, dict[int, Decimal]]:
    """SMEs reached, transaction volume and bank revenue per branch: one GROUP BY query over the ledger."""
    return ledger_figures(period, as_of, partners=False).by_branch


def _branch_kpis(rows: Iterable[dict]) -> dict[str, dict[int, Decimal]]:
    result: dict[str, dict[int, Decimal]] = {
        KPI.SMES_REACHED.value: {},
        KPI.TRANSACTION_VOLUME.value: {},
        KPI.BANK_REVENUE.value: {},
    }
    for row in rows:
        branch_id = row["branch_id"]
        result[KPI.SMES_REACHED.value][branch_id] = Decimal(row["smes"])
        result[KPI.TRANSACTION_VOLUME.value][branch_id] = row["volume"]
        result[KPI.BANK_REVENUE.value][branch_id] = row["revenue"]
    return result


def kpi_actuals_for_period(
    *,
    period_kind: str,
    period_start: dt.date,
    as_of: dt.datetime,
    kpis: Iterable[str] | None = None,
    precomputed: dict[str, dict[int, Decimal]] | None = None,
) -> dict[tuple[int, str], Decimal]:
    """Every branch's actual figure per KPI for a period, as known at ``as_of``.

    Returns ``{(branch_id, kpi): value}``; an absent key means zero. ``kpis``
    defaults to every KPI; asking for a KPI without a registered selector
    raises ``KPIUnavailable``. ``precomputed`` (``{kpi: {branch_id: value}}``)
    supplies KPIs the caller already computed for the same period and
    ``as_of`` (see ``ledger_figures``), which are then not queried again.
    """
    period = ReportingPeriod(period_kind, period_start)
    wanted = list(dict.fromkeys(KPI(k).value for k in (kpis if kpis is not None else KPI.values)))
    missing = [k for k in wanted if k not in KPI_SELECTORS]
    if missing:
        raise KPIUnavailable(
            _("No figures can be computed yet for: %(kpis)s") % {"kpis": ", ".join(str(KPI(k).label) for k in missing)},
            extra={"kpis": missing},
        )
    actuals: dict[tuple[int, str], Decimal] = {}
    groups_run: dict[KPIGroupSelector, dict[str, dict[int, Decimal]]] = {}
    for kpi in wanted:
        group = KPI_GROUPS.get(kpi)
        if precomputed is not None and kpi in precomputed:
            values = precomputed[kpi]
        elif group is not None:
            if group not in groups_run:
                groups_run[group] = group(period, as_of)
            values = groups_run[group].get(kpi, {})
        else:
            values = KPI_SELECTORS[kpi](period, as_of)
        for branch_id, value in values.items():
            actuals[(branch_id, kpi)] = value
    return actuals


# ---------------------------------------------------------------------------
# Partner KPIs


@dataclass(frozen=True)
class PartnerKPIs:
    """A partner's figures for a period as known at ``as_of``.

    ``growth_rate`` compares bank revenue with the previous period of the same
    kind (``None`` without positive previous revenue). ``dispute_rate`` needs
    settlements, which the product does not hold yet: it is ``None`` unless the
    caller supplies it.
    """

    partner_id: int
    branch_id: int
    volume: Decimal
    revenue: Decimal
    smes: int
    previous_revenue: Decimal
    growth_rate: Decimal | None
    active_months: int = 0
    dispute_rate: Decimal | None = None
    # Share of the partner's re-reviews (年审) due in the period that were approved by their due date.
    reviews_on_time: Decimal | None = None


def partner_kpis_for_period(
    *,
    period: ReportingPeriod,
    as_of: dt.datetime,
    branch_id: int | None = None,
    partner_ids: Iterable[int] | None = None,
) -> dict[int, PartnerKPIs]:
    """Volume, revenue, SMEs served and revenue growth per partner: one GROUP BY query over two periods.

    Partners without ledger rows in the period or the previous one are absent
    (their figures are zero). ``active_months`` is not filled here (see
    :func:`partner_active_months`).
    """
    _require_aware(as_of)
    previous = period.previous()
    in_period = Q(occurred_at__gte=period.start_at)
    rows = TransactionAttribution.objects.filter(
        occurred_at__gte=previous.start_at, occurred_at__lt=period.end_at, transaction__booked_at__lte=as_of
    ).order_by()
    if branch_id is not None:
        rows = rows.filter(partner__branch_id=branch_id)
    if partner_ids is not None:
        rows = rows.filter(partner_id__in=list(partner_ids))
    rows = rows.values("partner_id", "partner__branch_id").annotate(
        volume=MoneySum(_when(in_period, "amount")),
        revenue=MoneySum(_when(in_period, "bank_revenue")),
        previous_revenue=MoneySum(_when(~in_period, "bank_revenue")),
        smes=_smes_reached(occurred_at__gte=period.start_at),
    )
    result = {}
    for row in rows:
        revenue, previous_revenue = row["revenue"] or ZERO, row["previous_revenue"] or ZERO
        result[row["partner_id"]] = PartnerKPIs(
            partner_id=row["partner_id"],
            branch_id=row["partner__branch_id"],
            volume=row["volume"] or ZERO,
            revenue=revenue,
            smes=row["smes"],
            previous_revenue=previous_revenue,
            growth_rate=growth_rate(current=revenue, previous=previous_revenue),
        )
    return result


def _months_touched(start: dt.datetime, end: dt.datetime) -> set[Period]:
    """The calendar months (Beijing time) that the interval ``[start, end)`` touches."""
    first = Period.containing(start)
    last = Period.containing(end - dt.timedelta(microseconds=1))
    months, month = set(), first
    while month <= last:
        months.add(month)
        month = month.next()
    return months


def partner_active_months(
    *, period: ReportingPeriod, as_of: dt.datetime, partner_ids: Iterable[int] | None = None
) -> dict[int, int]:
    """Calendar months, up to the end of ``period``, in which each partner was active at some moment.

    As known at ``as_of`` (like ``active_partners_by_branch``): an activation
    after ``as_of`` is ignored and an end recorded after it was not known then.
    Partners never active are absent. One query; the months are counted here
    from the few active periods each partner has.
    """
    _require_aware(as_of)
    periods = PartnerActivePeriod.objects.filter(started_at__lt=period.end_at, started_at__lte=as_of).values_list(
        "partner_id", "started_at", "ended_at"
    )
    if partner_ids is not None:
        periods = periods.filter(partner_id__in=list(partner_ids))
    touched: dict[int, set[Period]] = defaultdict(set)
    for partner_id, started_at, ended_at in periods:
        # An end recorded after as_of was not known then: the period was still open, up to the period's end.
        known_end = ended_at if ended_at is not None and ended_at <= as_of else None
        until = period.end_at if known_end is None else min(known_end, period.end_at)
        if until > started_at:
            touched[partner_id] |= _months_touched(started_at, until)
    return {partner_id: len(months) for partner_id, months in touched.items()}


def partner_dispute_rates(
    *, period: ReportingPeriod, as_of: dt.datetime, partner_ids: Iterable[int] | None = None
) -> dict[int, Decimal]:
    """Disputed lines per settlement line of each partner's settlements for the period (closed by ``as_of``).

    A line counts as disputed once, however many disputes it had, if one was
    raised by ``as_of``. Partners without settled lines have no rate (absent).
    Rounded half away from zero to four places, like the tier rules' ceilings.
    """
    from revenue.settlement.models import SettlementLine

    _require_aware(as_of)
    lines = SettlementLine.objects.filter(
        settlement__period__start__gte=period.start,
        settlement__period__start__lt=period.end,
        settlement__closed_at__isnull=False,
        settlement__closed_at__lte=as_of,
    )
    if partner_ids is not None:
        lines = lines.filter(settlement__partner_id__in=list(partner_ids))
    rows = (
        lines.values("settlement__partner_id")
        .annotate(
            lines=Count("pk", distinct=True),
            disputed=Count("pk", distinct=True, filter=Q(disputes__raised_at__lte=as_of)),
        )
        .order_by()
    )
    return {
        row["settlement__partner_id"]: (Decimal(row["disputed"]) / Decimal(row["lines"])).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )
        for row in rows
        if row["lines"]
    }


def partner_figures_for_period(
    *,
    period: ReportingPeriod,
    as_of: dt.datetime,
    partner_ids: Iterable[int],
    dispute_rates: dict[int, Decimal] | None = None,
) -> dict[int, PartnerKPIs]:
    """Every listed partner's KPIs for tier evaluation, zero figures included, with active months.

    ``dispute_rates`` (disputed lines per settlement line, by partner id)
    defaults to :func:`partner_dispute_rates` over the period's settlements.
    """
    ids = list(partner_ids)
    kpis = partner_kpis_for_period(period=period, as_of=as_of, partner_ids=ids)
    months = partner_active_months(period=period, as_of=as_of, partner_ids=ids)
    branches = dict(Partner.objects.filter(pk__in=ids).values_list("pk", "branch_id"))
    if dispute_rates is None:
        dispute_rates = partner_dispute_rates(period=period, as_of=as_of, partner_ids=ids)
    disputes = dispute_rates
    on_time = partner_reviews_on_time(due_from=period.start, due_before=period.end, partner_ids=ids)
    result = {}
    for partner_id in ids:
        found = kpis.get(partner_id)
        result[partner_id] = PartnerKPIs(
            partner_id=partner_id,
            branch_id=branches[partner_id],
            volume=found.volume if found else ZERO,
            revenue=found.revenue if found else ZERO,
            smes=found.smes if found else 0,
            previous_revenue=found.previous_revenue if found else ZERO,
            growth_rate=found.growth_rate if found else None,
            active_months=months.get(partner_id, 0),
            dispute_rate=disputes.get(partner_id),
            reviews_on_time=on_time.get(partner_id),
        )
    return result


@dataclass(frozen=True)
class LedgerFigures:
    """The ledger KPIs of a period as of a moment: per branch (``{kpi: {branch_id: value}}``) and per partner."""

    by_branch: dict[str, dict[int, Decimal]]
    by_partner: list[PartnerKPIs]


# Branch totals and partner figures in one pass over the ledger, in two stages: first one row per
# (branch, partner, SME) by hashing — sums, and whether a normal event reached the SME — then both
# levels from those far fewer rows with GROUPING SETS, so that only they are sorted to count
# distinct SMEs. PostgreSQL only (SQLite has no GROUPING SETS); the ORM queries below compute the
# same figures elsewhere. Only rows booked by as_of count.
_LEDGER_GROUPING_SETS_SQL = """
WITH per_sme AS (
    SELECT p.branch_id, a.partner_id, t.sme_id,
           SUM(a.amount) AS volume, SUM(a.bank_revenue) AS revenue, bool_or(NOT a.is_reversal) AS reached
    FROM {attribution} a
    JOIN {transaction} t ON t.id = a.transaction_id
    JOIN {partner} p ON p.id = a.partner_id
    WHERE a.occurred_at >= %s AND a.occurred_at < %s AND t.booked_at <= %s
    GROUP BY p.branch_id, a.partner_id, t.sme_id
)
SELECT branch_id, partner_id, GROUPING(partner_id) = 1 AS branch_total,
       SUM(volume) AS volume, SUM(revenue) AS revenue, COUNT(DISTINCT sme_id) FILTER (WHERE reached) AS smes
FROM per_sme
GROUP BY GROUPING SETS ((branch_id), (branch_id, partner_id))
"""


def ledger_one_pass_sql() -> str:
    """The PostgreSQL one-pass ledger query; parameters: period start, period end, as_of."""
    return _LEDGER_GROUPING_SETS_SQL.format(
        attribution=connection.ops.quote_name(TransactionAttribution._meta.db_table),
        transaction=connection.ops.quote_name(Transaction._meta.db_table),
        partner=connection.ops.quote_name(Partner._meta.db_table),
    )


def ledger_figures(
    period: ReportingPeriod, as_of: dt.datetime, *, partners: bool = True, one_pass: bool | None = None
) -> LedgerFigures:
    """SMEs reached, volume and bank revenue per branch and (``partners=True``) per partner.

    Set-based: on PostgreSQL one query gives both levels (faster even for
    the branch level alone); elsewhere, or with ``one_pass=False``, one GROUP
    BY query per level. Partner rows carry no previous-period figures (see
    ``partner_kpis_for_period``).
    """
    _require_aware(as_of)
    if one_pass is None:
        one_pass = connection.vendor == "postgresql"
    if not one_pass and not partners:
        return LedgerFigures(by_branch=_branch_kpis(ledger_kpis_by_branch_queryset(period, as_of)), by_partner=[])
    if one_pass:
        with connection.cursor() as cursor:
            cursor.execute(ledger_one_pass_sql(), [period.start_at, period.end_at, as_of])
            columns = [column.name for column in cursor.description]
            rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
        branch_rows = [row for row in rows if row["branch_total"]]
        partner_rows = [row for row in rows if not row["branch_total"]]
    else:
        branch_rows = list(ledger_kpis_by_branch_queryset(period, as_of))
        partner_rows = list(
            ledger_attributions(period, as_of)
            .values("partner_id", branch_id=F("partner__branch_id"))
            .annotate(volume=MoneySum("amount"), revenue=MoneySum("bank_revenue"), smes=_smes_reached())
        )
    if not partners:
        partner_rows = []
    return LedgerFigures(
        by_branch=_branch_kpis(branch_rows),
        by_partner=[
            PartnerKPIs(
                partner_id=row["partner_id"],
                branch_id=row["branch_id"],
                volume=row["volume"],
                revenue=row["revenue"],
                smes=row["smes"],
                previous_revenue=ZERO,
                growth_rate=None,
            )
            for row in partner_rows
        ],
    )


def top_partners(partners: Iterable[PartnerKPIs], *, limit: int) -> dict[int, list[PartnerKPIs]]:
    """Each branch's ``limit`` partners with the most bank revenue (ties: volume, then id)."""
    by_branch: dict[int, list[PartnerKPIs]] = defaultdict(list)
    for partner in partners:
        by_branch[partner.branch_id].append(partner)
    return {
        branch_id: sorted(members, key=lambda p: (-p.revenue, -p.volume, p.partner_id))[:limit]
        for branch_id, members in by_branch.items()
    }


def top_partners_by_branch(*, period: ReportingPeriod, as_of: dt.datetime, limit: int) -> dict[int, list[PartnerKPIs]]:
    """Each branch's top partners by bank revenue for the period, as known at ``as_of``."""
    return top_partners(ledger_figures(period, as_of).by_partner, limit=limit)


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


# ---------------------------------------------------------------------------
# Stored scorecards, scoped


def scorecard_periods() -> list[ReportingPeriod]:
    """The periods that have stored scorecards, latest first."""
    rows = (
        BranchScorecard.objects.values_list("period_kind", "period_start")
        .distinct()
        .order_by("-period_start", "period_kind")
    )
    return [ReportingPeriod(kind, start) for kind, start in rows]


def scorecard_ranking(*, period: ReportingPeriod) -> list[BranchScorecard]:
    """All branches' scorecards of a period by rank: the ranking table every scorecard reader may see."""
    return list(
        BranchScorecard.objects.filter(period_kind=period.kind, period_start=period.start)
        .select_related("branch")
        .order_by("rank", "branch__code")
    )


def user_may_see_branch_details(*, user: User, branch_id: int) -> bool:
    """Head office and finance see every branch's scorecard details and partners; branch staff their own."""
    if not user.is_active:
        return False
    return user_sees_all_branches(user) or (user.branch_id is not None and user.branch_id == branch_id)


def scorecards_visible_to(*, user: User) -> QuerySet[BranchScorecard]:
    """Scorecards whose details (KPI lines, partners) a user may see."""
    queryset = BranchScorecard.objects.select_related("branch")
    if user_sees_all_branches(user):
        return queryset
    if not user.is_active or user.branch_id is None:
        return queryset.none()
    return queryset.filter(branch_id=user.branch_id)


def scorecard_for_user(*, user: User, period: ReportingPeriod, branch_code: str) -> BranchScorecard:
    """One branch's scorecard with its lines, or ``Http404`` when it does not exist or is not the user's to see.

    Another branch's scorecard is "not found" for branch staff rather than
    forbidden, so that its details do not even show as existing.
    """
    scorecard = (
        scorecards_visible_to(user=user)
        .filter(period_kind=period.kind, period_start=period.start, branch__code=branch_code)
        .prefetch_related("lines", "top_partners__partner")
        .first()
    )
    if scorecard is None:
        raise Http404(_("No such scorecard."))
    return scorecard


@dataclass(frozen=True)
class TrendPoint:
    period: ReportingPeriod
    total_score: Decimal
    rank: int
    ranked_branches: int


def scorecard_trend(*, branch_id: int, period: ReportingPeriod, periods: int = 6) -> list[TrendPoint]:
    """The branch's stored total scores for ``period`` and up to ``periods - 1`` periods of its kind before it.

    Oldest first; periods without a stored scorecard are left out.
    """
    starts = [period]
    while len(starts) < periods:
        starts.append(starts[-1].previous())
    rows = BranchScorecard.objects.filter(
        branch_id=branch_id, period_kind=period.kind, period_start__in=[p.start for p in starts]
    ).order_by("period_start")
    return [
        TrendPoint(
            period=ReportingPeriod(row.period_kind, row.period_start),
            total_score=row.total_score,
            rank=row.rank,
            ranked_branches=row.ranked_branches,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class PartnerRow:
    """A partner of a branch in the drill-down: its figures for the scorecard's period and as of its cut-off."""

    partner: Partner
    kpis: PartnerKPIs


def branch_partner_rows(*, scorecard: BranchScorecard) -> list[PartnerRow]:
    """The branch's partners (admitted, or with ledger rows in the period) with their figures, by revenue.

    Computed with the scorecard's own ``as_of`` so that the partners add up to
    what the scorecard says.
    """
    period = scorecard.period
    kpis = partner_kpis_for_period(period=period, as_of=scorecard.as_of, branch_id=scorecard.branch_id)
    partners = Partner.objects.filter(branch_id=scorecard.branch_id).filter(
        Q(state__in=ADMITTED_STATES) | Q(pk__in=list(kpis))
    )
    months = partner_active_months(period=period, as_of=scorecard.as_of, partner_ids=[p.pk for p in partners])
    rows = []
    for partner in partners:
        found = kpis.get(partner.pk)
        rows.append(
            PartnerRow(
                partner=partner,
                kpis=PartnerKPIs(
                    partner_id=partner.pk,
                    branch_id=partner.branch_id,
                    volume=found.volume if found else ZERO,
                    revenue=found.revenue if found else ZERO,
                    smes=found.smes if found else 0,
                    previous_revenue=found.previous_revenue if found else ZERO,
                    growth_rate=found.growth_rate if found else None,
                    active_months=months.get(partner.pk, 0),
                ),
            )
        )
    return sorted(rows, key=lambda r: (-r.kpis.revenue, -r.kpis.volume, r.partner.legal_name, r.partner.pk))


def scorecard_lines_for_export(*, user: User, period: ReportingPeriod) -> QuerySet[ScorecardKPILine]:
    """The KPI lines of a period's scorecards that ``user`` may see, by rank and KPI."""
    visible = scorecards_visible_to(user=user).filter(period_kind=period.kind, period_start=period.start)
    return (
        ScorecardKPILine.objects.filter(scorecard__in=visible)
        .select_related("scorecard__branch")
        .order_by("scorecard__rank", "scorecard__branch__code", "kpi")
    )


def top_partners_of(*, scorecard: BranchScorecard) -> list[ScorecardTopPartner]:
    return list(scorecard.top_partners.select_related("partner").order_by("position"))


def tier_proposals_visible_to(*, user: User) -> QuerySet[TierProposal]:
    """Tier proposals of the partners a user looks after: all for head office, own branch's for branch staff."""
    queryset = TierProposal.objects.select_related("partner", "partner__branch", "rule", "decided_by")
    if user_sees_all_branches(user):
        return queryset
    if not user.is_active or user.branch_id is None:
        return queryset.none()
    return queryset.filter(partner__branch_id=user.branch_id)


def branches_with_targets(*, period: ReportingPeriod) -> QuerySet[Branch]:
    return Branch.objects.filter(targets__period_kind=period.kind, targets__period_start=period.start).distinct()


def scorecard_document(*, scorecard: BranchScorecard, trend_periods: int = 12):
    """The plain data of a branch's PDF scorecard (see ``performance.documents``)."""
    from performance.documents import (
        RankingRowData,
        ScorecardDocument,
        ScorecardLineData,
        TopPartnerData,
        TrendPointData,
    )

    period = scorecard.period
    lines = sorted(scorecard.lines.all(), key=lambda line: KPI.values.index(line.kpi))
    return ScorecardDocument(
        branch_code=scorecard.branch.code,
        branch_name=scorecard.branch.name,
        period=str(period),
        period_kind=period.kind,
        as_of=scorecard.as_of,
        computed_at=scorecard.computed_at,
        total_score=scorecard.total_score,
        rank=scorecard.rank,
        ranked_branches=scorecard.ranked_branches,
        achievement_cap=scorecard.achievement_cap,
        lines=tuple(
            ScorecardLineData(
                kpi=line.kpi,
                target=line.target_value,
                actual=line.actual_value,
                weight=line.weight,
                achievement_rate=line.achievement_rate,
                weighted_score=line.weighted_score,
            )
            for line in lines
        ),
        trend=tuple(
            TrendPointData(period=str(point.period), total_score=point.total_score, rank=point.rank)
            for point in scorecard_trend(branch_id=scorecard.branch_id, period=period, periods=trend_periods)
        ),
        top_partners=tuple(
            TopPartnerData(
                position=top.position,
                name=top.partner.legal_name,
                credit_code=top.partner.credit_code,
                volume=top.volume,
                revenue=top.revenue,
                smes=top.smes,
            )
            for top in top_partners_of(scorecard=scorecard)
        ),
        ranking=tuple(
            RankingRowData(
                rank=card.rank, branch_code=card.branch.code, branch_name=card.branch.name, total_score=card.total_score
            )
            for card in scorecard_ranking(period=period)
        ),
        author=f"{settings.STATEMENT_BANK_NAME} {settings.STATEMENT_BANK_NAME_EN}",
    )
