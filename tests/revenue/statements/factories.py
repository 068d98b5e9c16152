"""Settlements built directly (periods, settlements, lines) for statement tests, as a month-end close leaves them.

A settlement is written as a draft with its lines, then moved to its final
state with a plain update, exactly like the close does (on PostgreSQL lines
of a closed settlement can no longer be inserted).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from core.money import round_money
from core.periods import CHINA_TZ, Period
from onboarding.models import Partner
from revenue.ledger.models import Product
from revenue.settlement.choices import LineKind, PeriodState, SettlementState
from revenue.settlement.models import Settlement, SettlementLine, SettlementPeriod


def period_row(label: str, *, closed: bool = True, lower: int = 0, upper: int = 10**12) -> SettlementPeriod:
    period = Period.parse(label)
    row, _ = SettlementPeriod.objects.get_or_create(start=period.first_day)
    if closed and row.state != PeriodState.CLOSED:
        SettlementPeriod.objects.filter(pk=row.pk).update(
            state=PeriodState.CLOSED,
            lower_watermark=lower,
            close_watermark=upper,
            closed_at=period.end + dt.timedelta(hours=2),
        )
        row.refresh_from_db()
    return row


@dataclass
class LineSpec:
    """One line: a product's share, or an adjustment of ``corrects`` ("YYYY-MM")."""

    product: Product
    bank_revenue: Decimal
    rate: Decimal = Decimal("0.30")
    count: int = 10
    corrects: str | None = None
    previous_share: Decimal | None = None
    share: Decimal | None = None
    rule: str = field(default="")

    def computed_share(self) -> Decimal:
        return self.share if self.share is not None else round_money(self.bank_revenue * self.rate)


def make_settlement(
    partner: Partner,
    period: str = "2026-10",
    *,
    lines: Sequence[LineSpec] = (),
    state: str = SettlementState.CLOSED,
    vat_rate: Decimal = Decimal("0.0600"),
    carried_in: Decimal = Decimal("0.00"),
    watermark_from: int = 0,
    watermark_to: int = 10**12,
    closed_at: dt.datetime | None = None,
) -> Settlement:
    """A settlement with consistent totals (net, VAT, payable) for ``lines``, in ``state``."""
    row = period_row(period, closed=state != SettlementState.DRAFT)
    p = Period.parse(period)
    share_total = sum((s.computed_share() for s in lines if s.corrects is None), Decimal("0.00"))
    adjustment_total = sum((s.computed_share() for s in lines if s.corrects is not None), Decimal("0.00"))
    net = share_total + adjustment_total + carried_in
    carried_forward = net <= 0
    vat = Decimal("0.00") if carried_forward else round_money(net * vat_rate)
    settlement = Settlement.objects.create(
        partner=partner,
        period=row,
        watermark_from=watermark_from,
        watermark_to=watermark_to,
        transaction_count=sum(s.count for s in lines),
        bank_revenue=sum((s.bank_revenue for s in lines), Decimal("0.00")),
        share_total=share_total,
        adjustment_total=adjustment_total,
        carried_in=carried_in,
        net=net,
        vat_rate=vat_rate,
        vat=vat,
        payable=Decimal("0.00") if carried_forward else net + vat,
        carried_forward=carried_forward,
        computed_at=p.end + dt.timedelta(hours=2),
        closed_at=None if state == SettlementState.DRAFT else (closed_at or p.end + dt.timedelta(hours=2)),
    )
    SettlementLine.objects.bulk_create(
        SettlementLine(
            settlement=settlement,
            position=number,
            kind=LineKind.PRODUCT if spec.corrects is None else LineKind.ADJUSTMENT,
            product=spec.product,
            corrects_period=Period.parse(spec.corrects).first_day if spec.corrects else None,
            transaction_count=spec.count,
            net_count=Decimal(spec.count),
            volume=spec.bank_revenue * 100,
            bank_revenue=spec.bank_revenue,
            rule_description=spec.rule
            or f"按银行收入的 {spec.rate * 100:.2f}% · {spec.rate * 100:.2f}% of bank revenue",
            effective_rate=spec.rate,
            previous_share=spec.previous_share,
            share=spec.computed_share(),
        )
        for number, spec in enumerate(lines, start=1)
    )
    if state != SettlementState.DRAFT:
        fields = {"state": state}
        if state == SettlementState.PAID:
            fields.update(paid_at=p.end + dt.timedelta(days=10), payment_reference="PAY-REF-001")
        Settlement.objects.filter(pk=settlement.pk).update(**fields)
        settlement.refresh_from_db()
    return settlement


def beijing(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CHINA_TZ)
