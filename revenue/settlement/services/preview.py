"""The dry run: what a close of a period would produce, computed by the production code path, written nowhere.

For an open period it is the close as it would run now (attributions up to
the current highest id); for a closed period it recomputes that close's
window exactly (its watermarks), so a *proposed* agreement version — one not
yet in force — answers "what would this partner have earned last month under
the new rule?" next to what the partner was actually settled. The proposed
version replaces, for the period's own product lines, the version of its
agreement wherever that agreement governs (adjustments of earlier periods keep
the rules they were settled under).

Nothing is written: no run, no period row, no figure rows, and the whole
computation runs inside a transaction that is rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError
from core.money import ZERO
from core.periods import Period
from onboarding.models import Partner
from organisation.models import User
from organisation.services import user_sees_all_branches
from revenue.ledger.models import AgreementVersion, Product, TransactionAttribution
from revenue.ledger.selectors import agreement_version_list
from revenue.settlement import aggregation
from revenue.settlement.aggregation import LedgerTotals, Window
from revenue.settlement.choices import PeriodState
from revenue.settlement.compute import SettlementDraft
from revenue.settlement.errors import NotPermitted
from revenue.settlement.models import Settlement, SettlementPeriod
from revenue.settlement.selectors import latest_closed_period
from revenue.settlement.services.computation import PartnerRange, compute_partners
from revenue.settlement.services.runs import close_checks


@dataclass
class DryRun:
    """A dry run's settlements (not saved) and how they add up."""

    period: Period
    window: Window
    period_state: str
    settlements: list[SettlementDraft]
    ledger: LedgerTotals
    proposed: AgreementVersion | None = None
    partner: Partner | None = None
    partner_names: dict[int, str] = field(default_factory=dict)
    product_names: dict[int, str] = field(default_factory=dict)
    actual: dict[int, Settlement] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def _sum(self, attr: str) -> Decimal:
        return sum((getattr(s, attr) for s in self.settlements), ZERO)

    @property
    def totals(self) -> dict[str, Decimal | int]:
        return {
            "settlements": len(self.settlements),
            "lines": sum(len(s.lines) for s in self.settlements),
            "transactions": sum(s.transaction_count for s in self.settlements),
            "bank_revenue": self._sum("bank_revenue"),
            "share_total": self._sum("share_total"),
            "adjustment_total": self._sum("adjustment_total"),
            "carried_in": self._sum("carried_in"),
            "net": self._sum("net"),
            "vat": self._sum("vat"),
            "payable": self._sum("payable"),
            "carried_forward": sum(1 for s in self.settlements if s.carried_forward),
        }

    @property
    def shares(self) -> Decimal:
        return sum((line.share for s in self.settlements for line in s.ledger_lines), ZERO)

    @property
    def retained(self) -> Decimal:
        return Decimal(self.ledger.fen) / 100 - self.shares

    @property
    def conserved(self) -> bool:
        """The lines add back to the ledger's active attributions of the window (count and revenue)."""
        lines = [line for s in self.settlements for line in s.ledger_lines]
        count = sum(line.figures.transaction_count for line in lines)
        revenue = sum((line.figures.bank_revenue for line in lines), ZERO)
        return count == self.ledger.active_count and int(revenue * 100) == self.ledger.active_fen


def _window(period: Period, row: SettlementPeriod | None, notes: list[str]) -> Window:
    if row is not None and row.state == PeriodState.CLOSED:
        return Window(period, row.lower_watermark or 0, row.close_watermark or 0, period.start)
    latest = latest_closed_period()
    lower = latest.close_watermark if latest is not None and latest.start < period.first_day else 0
    upper = TransactionAttribution.objects.aggregate(m=Max("id"))["m"] or 0
    try:
        close_checks(period, row or SettlementPeriod(start=period.first_day))
    except ApplicationError as exc:
        notes.append(str(exc.message))
    return Window(period, lower, upper, period.start)


def settlement_dry_run(
    *,
    period: Period,
    by: User | None,
    proposed_version: AgreementVersion | None = None,
    partner: Partner | None = None,
) -> DryRun:
    """What the close of ``period`` would produce (for all partners, or one), optionally under a proposed version.

    Branch staff preview their own branch's partners one at a time; head office and finance preview all.
    """
    if by is not None:
        if not by.has_perm("settlement.preview_settlement"):
            raise NotPermitted(_("You may not preview settlements."))
        if not user_sees_all_branches(by) and (partner is None or partner.branch_id != by.branch_id):
            raise NotPermitted(_("Preview a partner of your own branch."))
        if proposed_version is not None and not agreement_version_list(user=by).filter(pk=proposed_version.pk).exists():
            raise NotPermitted(_("Preview a proposed version of your own branch's partners or of a partner type."))
    with transaction.atomic():
        notes: list[str] = []
        row = SettlementPeriod.objects.filter(start=period.first_day).first()
        window = _window(period, row, notes)
        partner_id = partner.pk if partner is not None else None
        rows = list(aggregation.figures_fetch(window, partner_id=partner_id))
        ledger = LedgerTotals()
        for _p, _product, _month, active, count, _micro, _volume, revenue, *_kinds in rows:
            ledger = ledger + (LedgerTotals(count, revenue) if active else LedgerTotals(0, 0, count, revenue))
        partners = PartnerRange(only=partner_id) if partner_id is not None else PartnerRange()
        drafts = compute_partners(
            window=window, period_row=row, figure_rows=rows, partners=partners, proposed=proposed_version
        )
        ids = [d.partner_id for d in drafts]
        result = DryRun(
            period=period,
            window=window,
            period_state=row.state if row else PeriodState.OPEN,
            settlements=drafts,
            ledger=ledger,
            proposed=proposed_version,
            partner=partner,
            partner_names=dict(Partner.objects.filter(pk__in=ids).values_list("pk", "legal_name")),
            product_names={
                pk: f"{name} ({code})" for pk, code, name in Product.objects.values_list("pk", "code", "name")
            },
            actual={s.partner_id: s for s in Settlement.objects.filter(period=row, partner_id__in=ids)} if row else {},
            notes=notes,
        )
        # Belt and braces: whatever the computation touched is undone.
        transaction.set_rollback(True)
    return result
