"""The conservation check every run passes before it completes (a failure fails the run; a close is not made).

* The ledger lines written (as the chunks read them back) add back to the
  attributions of the window (as the run's one aggregation summed them), to
  the fen and to the attribution (count), separately for regular and
  adjustment lines, so no chunk lost or doubled a partner.
* Every corrected period's lines over all closes (earlier closes' read from
  the database, this run's adjustments from the chunks' sums) add back to
  that period's attributions read again from the ledger.
* No product line pays out more than its revenue; the settlement totals add
  back to their lines.

Shares + retained = settled bank revenue, where the bank retains what inactive
partners' attributions earned and the part of active ones' not shared.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils.translation import gettext_lazy as _

from core.money import MoneySum, from_fen
from core.periods import Period
from revenue.settlement import aggregation
from revenue.settlement.aggregation import LedgerTotals, Window
from revenue.settlement.choices import FROZEN_SETTLEMENT_STATES, LineKind
from revenue.settlement.models import SettlementLine, SettlementRun


@dataclass
class ConservationReport:
    """The run's figures read from both sides; ``problems`` is empty when they add back exactly."""

    ledger: LedgerTotals
    lines_count: int
    lines_revenue: Decimal
    shares: Decimal
    corrected_periods: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # The agreement versions the run's lines applied (a close locks them).
    versions_used: list[int] = field(default_factory=list)

    @property
    def bank_revenue(self) -> Decimal:
        return Decimal(self.ledger.fen) / 100

    @property
    def retained(self) -> Decimal:
        return self.bank_revenue - self.shares


def _fen(amount: Decimal | None) -> int:
    return int((amount or Decimal(0)) * 100)


def _line_totals(lines) -> tuple[int, Decimal, Decimal]:
    agg = lines.aggregate(count=Sum("transaction_count"), revenue=MoneySum("bank_revenue"), share=MoneySum("share"))
    zero = Decimal("0.00")
    return int(agg["count"] or 0), agg["revenue"] or zero, agg["share"] or zero


@dataclass
class _LineSums:
    count: int = 0
    revenue_fen: int = 0
    share_fen: int = 0

    def add(self, count: int, revenue_fen: int, share_fen: int) -> None:
        self.count += count
        self.revenue_fen += revenue_fen
        self.share_fen += share_fen


@dataclass
class _WrittenSums:
    """What the run's chunks wrote, as each read it back (see :func:`aggregation.written_sums`)."""

    by_kind: dict[str, _LineSums] = field(default_factory=dict)
    adjusted_by_month: dict[dt.date, _LineSums] = field(default_factory=dict)
    beyond: int = 0
    versions: set[int] = field(default_factory=set)
    settlements: _LineSums = field(default_factory=_LineSums)

    def kind(self, kind: str) -> _LineSums:
        return self.by_kind.get(kind, _LineSums())


def _written_sums(run: SettlementRun) -> _WrittenSums:
    total = _WrittenSums()
    for sums in run.chunks.values_list("written_sums", flat=True):
        for kind, month, version, _lines, count, revenue_fen, share_fen, beyond in sums.get("lines", []):
            total.by_kind.setdefault(kind, _LineSums()).add(count, revenue_fen, share_fen)
            if kind == LineKind.ADJUSTMENT and month:
                total.adjusted_by_month.setdefault(dt.date.fromisoformat(month), _LineSums()).add(
                    count, revenue_fen, share_fen
                )
            total.beyond += beyond
            if version is not None:
                total.versions.add(version)
        _settlements, count, revenue_fen = sums.get("settlements", (0, 0, 0))
        total.settlements.add(count, revenue_fen, 0)
    return total


def conservation_check(run: SettlementRun, window: Window) -> ConservationReport:
    """Compare the lines written with the window's totals and the corrected periods' ledger (see module docstring).

    The run's own lines are taken from the sums each chunk read back in its transaction; the
    corrected periods' lines of earlier closes are read from the database.
    """
    problems: list[str] = []
    regular_ledger, adjustment_ledger, corrected = aggregation.run_figures_totals(run.pk)
    ledger = regular_ledger + adjustment_ledger
    written = _written_sums(run)
    regular, adjusted = written.kind(LineKind.PRODUCT), written.kind(LineKind.ADJUSTMENT)
    for label, ledger_part, lines_part in (
        (_("regular"), regular_ledger, regular),
        (_("adjustment"), adjustment_ledger, adjusted),
    ):
        if ledger_part.active_count != lines_part.count or ledger_part.active_fen != lines_part.revenue_fen:
            problems.append(
                _(
                    "%(label)s lines hold %(count)s attributions and %(revenue)s of bank revenue; the ledger has "
                    "%(ledger_count)s and %(ledger_revenue)s."
                )
                % {
                    "label": label,
                    "count": lines_part.count,
                    "revenue": from_fen(lines_part.revenue_fen),
                    "ledger_count": ledger_part.active_count,
                    "ledger_revenue": from_fen(ledger_part.active_fen),
                }
            )
    for month in corrected:
        period = Period(month.year, month.month)
        source = aggregation.period_totals(period, upper=window.upper)
        # The month's lines of earlier closes (frozen: from the month itself up to this run's period),
        # plus this run's adjustments of it.
        earlier = SettlementLine.objects.filter(
            settlement__state__in=FROZEN_SETTLEMENT_STATES,
            settlement__period__start__gte=month,
            settlement__period__start__lt=window.period.first_day,
        ).filter(
            Q(kind=LineKind.PRODUCT, settlement__period__start=month)
            | Q(kind=LineKind.ADJUSTMENT, corrects_period=month)
        )
        count, revenue, _share = _line_totals(earlier)
        now = written.adjusted_by_month.get(month, _LineSums())
        count, revenue_fen = count + now.count, _fen(revenue) + now.revenue_fen
        if source.active_count != count or source.active_fen != revenue_fen:
            problems.append(
                _(
                    "%(period)s: its lines over all closes hold %(count)s attributions and %(revenue)s; the ledger "
                    "has %(ledger_count)s and %(ledger_revenue)s."
                )
                % {
                    "period": period,
                    "count": count,
                    "revenue": from_fen(revenue_fen),
                    "ledger_count": source.active_count,
                    "ledger_revenue": from_fen(source.active_fen),
                }
            )
    if written.beyond:
        problems.append(_("%(count)s product lines share more than their bank revenue.") % {"count": written.beyond})
    if (
        written.settlements.count != regular.count + adjusted.count
        or written.settlements.revenue_fen != regular.revenue_fen + adjusted.revenue_fen
    ):
        problems.append(_("Settlement totals do not add back to their lines."))
    return ConservationReport(
        ledger=ledger,
        lines_count=regular.count + adjusted.count,
        lines_revenue=from_fen(regular.revenue_fen + adjusted.revenue_fen),
        shares=from_fen(regular.share_fen + adjusted.share_fen),
        corrected_periods=[str(Period(m.year, m.month)) for m in corrected],
        problems=[str(p) for p in problems],
        versions_used=sorted(written.versions),
    )
