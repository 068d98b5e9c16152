"""Reads of settlement: scoped lists, a line's transactions (drill-down, CSV export), conservation per period."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum

from core.money import MoneySum
from core.periods import Period
from organisation.models import User
from organisation.services import user_sees_all_branches
from revenue.ledger.models import TransactionAttribution
from revenue.ledger.selectors import share_rule_from_version
from revenue.settlement import aggregation
from revenue.settlement.aggregation import Window
from revenue.settlement.choices import (
    FROZEN_SETTLEMENT_STATES,
    LEDGER_LINE_KINDS,
    DisputeState,
    LineKind,
    PeriodState,
    RunKind,
    SettlementState,
)
from revenue.settlement.compute import rule_describe
from revenue.settlement.models import (
    Settlement,
    SettlementDispute,
    SettlementLine,
    SettlementPeriod,
    SettlementRun,
    SettlementRunFigure,
)
from revenue.vocabulary import line_notes


def settlement_list(*, user: User) -> QuerySet[Settlement]:
    """Settlements a user may see: every branch's for head office and finance, their branch's for staff,
    their own partner's closed ones for a partner user."""
    qs = Settlement.objects.select_related("partner", "period")
    if not user.is_active:
        return qs.none()
    if user_sees_all_branches(user):
        return qs
    if user.partner_id:
        return qs.filter(partner_id=user.partner_id, state__in=FROZEN_SETTLEMENT_STATES)
    if user.branch_id:
        return qs.filter(partner__branch_id=user.branch_id)
    return qs.none()


def settlement_run_list(*, user: User) -> QuerySet[SettlementRun]:
    """Runs are head office's and finance's (they span every branch)."""
    qs = SettlementRun.objects.select_related("period", "triggered_by")
    return qs if user.is_active and user_sees_all_branches(user) else qs.none()


def settlement_lines(*, settlement: Settlement) -> QuerySet[SettlementLine]:
    return settlement.lines.select_related("product", "agreement_version", "carried_from__period").order_by(
        "position", "id"
    )


def _attributions(settlement: Settlement) -> QuerySet[TransactionAttribution]:
    return TransactionAttribution.objects.filter(
        partner_id=settlement.partner_id, partner_active=True, id__lte=settlement.watermark_to
    )


def _line_condition(line: SettlementLine, settlement: Settlement) -> Q | None:
    if line.kind == LineKind.PRODUCT:
        period = settlement.period.period
        return Q(product_id=line.product_id, occurred_at__gte=period.start, occurred_at__lt=period.end)
    if line.kind == LineKind.ADJUSTMENT:
        corrected = line.corrected_period
        return Q(
            product_id=line.product_id,
            occurred_at__gte=corrected.start,
            occurred_at__lt=corrected.end,
            id__gt=settlement.watermark_from,
        )
    return None  # carried balances and dispute resolutions come from no transaction


def settlement_line_attributions(*, line: SettlementLine) -> QuerySet[TransactionAttribution]:
    """The attributions a ledger line adds up (its count, volume and bank revenue are their sums).

    A product line: the partner's active attributions of the product in the
    settlement's period with ``id <= watermark_to``. An adjustment line: those
    of the corrected period with ``watermark_from < id <= watermark_to``.
    Carried balances and dispute resolutions have none.
    """
    settlement = line.settlement
    condition = _line_condition(line, settlement)
    if condition is None:
        return TransactionAttribution.objects.none()
    return _attributions(settlement).filter(condition).order_by("occurred_at", "id")


def settlement_attributions(*, settlement: Settlement) -> QuerySet[TransactionAttribution]:
    """Every attribution of a settlement's ledger lines (each in exactly one of them)."""
    condition = Q(pk__in=[])
    for line in settlement.lines.filter(kind__in=[LineKind.PRODUCT, LineKind.ADJUSTMENT]):
        condition |= _line_condition(line, settlement)
    return _attributions(settlement).filter(condition).order_by("occurred_at", "id")


def attributions_for_export(qs: QuerySet[TransactionAttribution]) -> QuerySet[TransactionAttribution]:
    """The columns of the transaction-level export, loaded in one query."""
    return qs.select_related("transaction", "transaction__reverses", "product")


@dataclass(frozen=True)
class PeriodConservation:
    """A period's ledger (``id <= upper``) against the lines of every close that settled part of it."""

    period: Period
    upper: int
    ledger_count: int
    ledger_revenue: Decimal
    inactive_count: int
    inactive_revenue: Decimal
    lines_count: int
    lines_revenue: Decimal
    shares: Decimal

    @property
    def retained(self) -> Decimal:
        return self.ledger_revenue + self.inactive_revenue - self.shares

    @property
    def holds(self) -> bool:
        """Every active attribution in exactly one line, to the fen; shares + retained = bank revenue."""
        return (
            self.lines_count == self.ledger_count
            and self.lines_revenue == self.ledger_revenue
            and self.shares + self.retained == self.ledger_revenue + self.inactive_revenue
        )


def settlement_period_conservation(*, period: Period, upper: int | None = None) -> PeriodConservation:
    """Conservation of one month over all closes so far (``upper``: default the latest close's watermark)."""
    if upper is None:
        latest = SettlementPeriod.objects.filter(state=PeriodState.CLOSED).order_by("-start").first()
        upper = latest.close_watermark if latest else 0
    ledger = aggregation.period_totals(period, upper=upper)
    month = period.first_day
    lines = SettlementLine.objects.filter(
        Q(kind=LineKind.PRODUCT, settlement__period__start=month) | Q(kind=LineKind.ADJUSTMENT, corrects_period=month),
        settlement__state__in=FROZEN_SETTLEMENT_STATES,
        settlement__watermark_to__lte=upper,
    ).aggregate(count=Sum("transaction_count"), revenue=MoneySum("bank_revenue"), share=MoneySum("share"))
    zero = Decimal("0.00")
    return PeriodConservation(
        period=period,
        upper=upper,
        ledger_count=ledger.active_count,
        ledger_revenue=Decimal(ledger.active_fen) / 100,
        inactive_count=ledger.inactive_count,
        inactive_revenue=Decimal(ledger.inactive_fen) / 100,
        lines_count=int(lines["count"] or 0),
        lines_revenue=lines["revenue"] or zero,
        shares=lines["share"] or zero,
    )


def settlement_period_of(day: dt.date) -> SettlementPeriod | None:
    return SettlementPeriod.objects.filter(start=day.replace(day=1)).first()


# ---- runs ------------------------------------------------------------------------------------


def previous_closed_period(period: Period) -> SettlementPeriod | None:
    """The latest closed period before ``period``."""
    return (
        SettlementPeriod.objects.filter(state=PeriodState.CLOSED, start__lt=period.first_day).order_by("-start").first()
    )


def latest_closed_period() -> SettlementPeriod | None:
    return SettlementPeriod.objects.filter(state=PeriodState.CLOSED).order_by("-start").first()


def run_window(run: SettlementRun) -> Window:
    """The attributions a run settles (see :mod:`revenue.settlement.aggregation`), from what the run recorded."""
    period = run.period.period
    if run.kind == RunKind.CLOSE:
        adjust_before = period.start
    else:
        # An accrual corrects only periods already closed when it started: the latest one
        # whose watermark is its lower bound (periods never reopen, so this is stable).
        previous = (
            SettlementPeriod.objects.filter(
                state=PeriodState.CLOSED, start__lt=period.first_day, close_watermark=run.lower_watermark
            )
            .order_by("-start")
            .first()
        )
        adjust_before = min(period.start, previous.period.end) if previous else None
    return Window(period=period, lower=run.lower_watermark or 0, upper=run.watermark or 0, adjust_before=adjust_before)


def settlement_run_partners(run: SettlementRun) -> list[int]:
    """The partners a run settles: those with figures, a balance carried from the previous close, a resolved
    dispute to settle or a draft of the period to replace."""
    ids = set(SettlementRunFigure.objects.filter(run=run).values_list("partner_id", flat=True).distinct())
    previous = previous_closed_period(run.period.period)
    if previous is not None:
        ids |= set(
            Settlement.objects.filter(period=previous, carried_forward=True).values_list("partner_id", flat=True)
        )
    ids |= set(
        SettlementDispute.objects.filter(adjust_period=run.period, state=DisputeState.RESOLVED).values_list(
            "settlement__partner_id", flat=True
        )
    )
    ids |= set(
        Settlement.objects.filter(period=run.period, state=SettlementState.DRAFT).values_list("partner_id", flat=True)
    )
    return sorted(ids)


def line_rule_text(line: SettlementLine) -> str:
    """A line's rule in words in the active language (the stored text is in the language of the close).

    From the line's agreement version when it has one (load it with its tiers: ``agreement_version`` and
    ``agreement_version__tiers``); a ledger line without one had no agreement in force.
    """
    if line.agreement_version_id:
        return rule_describe(share_rule_from_version(line.agreement_version))
    if line.kind in LEDGER_LINE_KINDS:
        return rule_describe(None)
    return line.rule_description


def line_notes_shown(line: SettlementLine) -> list[str]:
    """What a line says about its counts, limit, tier and correction, in the active language (revenue.vocabulary)."""
    return [str(note) for note in line_notes(line)]
