"""One partner's settlement from aggregated figures: pure, no ORM, no clock.

The services aggregate the ledger in the database (one set-based query per
run) and load, per partner, the few rows this needs; everything here works on
plain values so that the production run, the dry run and the tests share it.

Lines
    * a ``product`` line per product with business in the period: the share (and
      effective rate) of :func:`revenue.calculations.partner_shares_compute`, as
      :func:`~revenue.calculations.partner_share_terms` gives them (with the limit that shaped the
      share and, for tiered rules, the slab reached and its basis), under the version in force;
    * an ``adjustment`` line per product of a corrected period Q that received
      late events or reversals: Q's share recomputed on everything of Q
      settled so far plus the new attributions, minus what earlier closes
      settled for it (exact for tiered rules, floors and caps; a product whose
      share depends on the partner's other products through an across-products
      tier basis gets a line when its share moves);
    * a ``carry_forward`` line per unpaid net of an earlier period;
    * a ``dispute_resolution`` line per resolved dispute.

Totals and the one rounding boundary
    Each line's share is rounded once, half away from zero to the fen, by the
    share computation. The totals are sums of those fen amounts (exact). VAT is
    ``round_money(net × vat_rate)``: the second and last rounding, on the
    partner's service fee. A net below zero or below the minimum payout is
    carried forward (no VAT, nothing payable); a net of exactly zero is
    neither paid nor carried.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import NamedTuple

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.money import ZERO, round_money
from core.periods import Period
from revenue.calculations import LineFigures, ShareRule, ShareTerms, partner_share_terms
from revenue.ledger.choices import RuleKind, TierBasis
from revenue.settlement.choices import LineKind

RATE_PLACES = Decimal("0.00000001")
MICRO = Decimal(1_000_000)
HUNDRED = Decimal(100)
_tuple_new = tuple.__new__


class Figures(NamedTuple):
    """Exact aggregated figures of attributions: rows, net count, volume and bank revenue.

    ``transaction_count`` counts attributions whole (events and reversals alike); ``reversal_count``
    is how many of them are reversals, ``coserved_count`` how many are co-served (weight below 1) and
    ``coserved_net_count`` what those add to the net count (their weights, a reversal's negative).
    A named tuple: tens of thousands are made per run, and a tuple is the cheapest immutable value.
    """

    transaction_count: int = 0
    net_count: Decimal = Decimal(0)
    volume: Decimal = ZERO
    bank_revenue: Decimal = ZERO
    reversal_count: int = 0
    coserved_count: int = 0
    coserved_net_count: Decimal = Decimal(0)

    @classmethod
    def from_integers(cls, *, count: int, net_count_micro: int, volume_fen: int, bank_revenue_fen: int) -> Figures:
        """From the run's integer aggregates (fen, millionths): exact on every database."""
        return figures_from_integers(count, net_count_micro, volume_fen, bank_revenue_fen)

    @property
    def event_count(self) -> int:
        """Attributions that are not reversals."""
        return self.transaction_count - self.reversal_count

    def plus(self, other: Figures) -> Figures:
        return Figures(
            self.transaction_count + other.transaction_count,
            self.net_count + other.net_count,
            self.volume + other.volume,
            self.bank_revenue + other.bank_revenue,
            self.reversal_count + other.reversal_count,
            self.coserved_count + other.coserved_count,
            self.coserved_net_count + other.coserved_net_count,
        )

    def line_figures(self) -> LineFigures:
        return LineFigures(bank_revenue=self.bank_revenue, volume=self.volume, count=self.net_count)

    @property
    def count(self) -> Decimal:  # type: ignore[override]
        """The net count, by the name the share computation gives it (:class:`revenue.calculations.ShareFigures`)."""
        return self.net_count


NO_FIGURES = Figures()


def figures_from_integers(
    count: int,
    micro: int,
    volume_fen: int,
    revenue_fen: int,
    reversals: int = 0,
    coserved: int = 0,
    coserved_micro: int = 0,
) -> Figures:
    """:meth:`Figures.from_integers` with positional arguments, for the loaders' inner loops.

    Built with ``tuple.__new__`` as ``NamedTuple._make`` does: a chunk makes one per figure row it loads.
    """
    return _tuple_new(
        Figures,
        (
            count,
            Decimal(micro) / MICRO,
            Decimal(volume_fen) / HUNDRED,
            Decimal(revenue_fen) / HUNDRED,
            reversals,
            coserved,
            Decimal(coserved_micro) / MICRO if coserved_micro else _ZERO_COUNT,
        ),
    )


_ZERO_COUNT = Decimal(0)


@dataclass(frozen=True)
class RuleChoice:
    """The rule governing a partner's product in a period, with the version it comes from."""

    rule: ShareRule | None
    version_id: int | None = None
    # The rule in words (see :func:`rule_describe`), put once per version rather than once per line.
    description: str = ""

    @property
    def text(self) -> str:
        return self.description or rule_describe(self.rule)


class Settled(NamedTuple):
    """What earlier closes settled for a partner's product of one period: summed figures and shares.

    Named tuples, here and below: a chunk loads one per partner and product of a corrected period.
    """

    figures: Figures
    share: Decimal


class CarriedBalance(NamedTuple):
    settlement_id: int
    period: dt.date
    amount: Decimal


class DisputeAdjustment(NamedTuple):
    dispute_id: int
    disputed_period: dt.date
    amount: Decimal


@dataclass
class PartnerInput:
    """Everything one partner's settlement of a period depends on."""

    partner_id: int
    vat_rate: Decimal
    regular: dict[int, Figures] = field(default_factory=dict)
    # product → rule; products without figures may be named too (they earn nothing)
    regular_rules: Mapping[int, RuleChoice] = field(default_factory=dict)
    # corrected period (first day) → product → figures of the new attributions
    adjustments: dict[dt.date, dict[int, Figures]] = field(default_factory=dict)
    previous: dict[dt.date, dict[int, Settled]] = field(default_factory=dict)
    adjustment_rules: dict[dt.date, Mapping[int, RuleChoice]] = field(default_factory=dict)
    carried: list[CarriedBalance] = field(default_factory=list)
    disputes: list[DisputeAdjustment] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.regular or self.adjustments or self.carried or self.disputes)


@dataclass
class LineDraft:
    kind: str
    share: Decimal
    product_id: int | None = None
    corrects_period: dt.date | None = None
    carried_from_id: int | None = None
    dispute_id: int | None = None
    figures: Figures = NO_FIGURES
    version_id: int | None = None
    rule_description: str = ""
    effective_rate: Decimal | None = None
    previous_share: Decimal | None = None
    description: str = ""
    position: int = 0
    # What shaped the share (revenue.vocabulary.SHARE_LIMITS; "" when the rate alone did), and for tiered
    # rules the slab reached and the basis figure that reached it.
    share_limit: str = ""
    tier_reached: int | None = None
    tier_basis_figure: Decimal | None = None


@dataclass
class SettlementDraft:
    partner_id: int
    vat_rate: Decimal
    lines: list[LineDraft]
    transaction_count: int
    bank_revenue: Decimal
    share_total: Decimal
    adjustment_total: Decimal
    carried_in: Decimal
    net: Decimal
    vat: Decimal
    payable: Decimal
    carried_forward: bool

    @property
    def ledger_lines(self) -> list[LineDraft]:
        return [line for line in self.lines if line.kind in (LineKind.PRODUCT, LineKind.ADJUSTMENT)]


def _percent(rate: Decimal) -> str:
    text = format((rate * 100).normalize(), "f")
    return f"{text}%"


def _yuan(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def rule_describe(rule: ShareRule | None) -> str:
    """A rule in words, for the settlement line and the partner's statement (in the active language)."""
    return _rule_describe(rule, get_language())


@lru_cache(maxsize=4096)
def _rule_describe(rule: ShareRule | None, language: str | None) -> str:
    # Thousands of lines share a handful of rules: each is put in words once per language.
    if rule is None:
        return _("No agreement in force: no share")
    kind = RuleKind(rule.kind)
    if kind == RuleKind.PERCENTAGE:
        text = _("%(rate)s of bank revenue") % {"rate": _percent(rule.rate)}
    elif kind == RuleKind.FIXED_PER_TRANSACTION:
        text = _("CNY %(amount)s per transaction") % {"amount": _yuan(rule.fixed_amount)}
    else:
        slabs = "; ".join(
            f"{_yuan(t.lower)}–{_yuan(t.upper) if t.upper is not None else '…'}: {_percent(t.rate)}"
            for t in sorted(rule.tiers, key=lambda t: t.lower)
        )
        basis = TierBasis(rule.tier_basis).label
        template = (
            _("Progressive tiers on %(basis)s (%(slabs)s)")
            if kind == RuleKind.TIERED_PROGRESSIVE
            else _("Retroactive tiers on %(basis)s (%(slabs)s)")
        )
        text = template % {"basis": str(basis).lower(), "slabs": slabs}
    if rule.floor is not None:
        text += _(", floor CNY %(amount)s") % {"amount": _yuan(rule.floor)}
    if rule.cap is not None:
        text += _(", cap CNY %(amount)s") % {"amount": _yuan(rule.cap)}
    return text[:255]


def _amount_text(amount: Decimal) -> str:
    """An amount in a line's text: two places, and no "-0.00" (the stored amounts have no negative zero)."""
    return f"{round_money(amount) + ZERO:f}"


def _rate(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def _shares(rules: Mapping[int, RuleChoice], figures: Mapping[int, Figures]) -> dict[int, ShareTerms]:
    """:class:`~revenue.calculations.ShareTerms` per product, from the pure share function."""
    return partner_share_terms(rules={product: choice.rule for product, choice in rules.items()}, figures=figures)


def _in_order(products, order: Mapping[int, int]) -> list[int]:
    """Products by their rank in ``order`` (the catalogue's, by code); a product it does not rank, by its id."""
    if len(products) == 1:
        return list(products)
    return sorted(products, key=lambda p: (order.get(p, p), p))


@lru_cache(maxsize=512)
def _period_text(day: dt.date) -> str:
    return str(Period(day.year, day.month))


class LineTexts(NamedTuple):
    """The texts of a settlement's lines in one language: the choice of no agreement, and templates."""

    no_rule: RuleChoice
    adjustment: str
    carried: str
    dispute: str


@lru_cache(maxsize=16)
def line_texts(language: str | None) -> LineTexts:
    """The line texts in one language (the active one when the settlements are computed), translated once."""
    return LineTexts(
        no_rule=RuleChoice(None, None, _rule_describe(None, language)),
        adjustment=_("Late events and reversals of %(period)s: share recomputed %(new)s, settled before %(old)s"),
        carried=_("Carried forward from %(period)s"),
        dispute=_("Resolution of dispute #%(id)s on %(period)s"),
    )


def settlement_compute(
    *,
    partner: PartnerInput,
    minimum_payout: Decimal,
    product_order: Mapping[int, int] | None = None,
    texts: LineTexts | None = None,
) -> SettlementDraft | None:
    """The partner's settlement of the period, or ``None`` when it has nothing to settle.

    ``texts``: :func:`line_texts` of the active language, which a caller settling many partners
    passes once for all (reading the active language costs more than a line).

    Invariants: every line's share is a whole number of fen; ``net`` is the sum
    of the lines; ``payable == net + vat`` unless carried forward (then both 0).
    """
    if partner.is_empty:
        return None
    order = product_order or {}
    texts = texts or line_texts(get_language())
    no_rule = texts.no_rule
    lines: list[LineDraft] = []
    # The totals, summed as the lines are made (exact: whole fen).
    share_total = adjustment_total = carried_in = bank_revenue = ZERO
    transaction_count = 0

    regular = partner.regular
    if regular:
        rules = partner.regular_rules
        shares = _shares(rules, regular)
        for product_id in _in_order(regular, order):
            terms = shares[product_id]
            share = terms.share
            choice = rules.get(product_id) or no_rule
            figures = regular[product_id]
            lines.append(
                LineDraft(
                    kind=LineKind.PRODUCT,
                    product_id=product_id,
                    figures=figures,
                    version_id=choice.version_id,
                    rule_description=choice.text,
                    effective_rate=_rate(terms.effective_rate),
                    share=share,
                    position=len(lines) + 1,
                    share_limit=terms.limit,
                    tier_reached=terms.tier,
                    tier_basis_figure=terms.basis,
                )
            )
            share_total += share
            transaction_count += figures.transaction_count
            bank_revenue += figures.bank_revenue

    for period in sorted(partner.adjustments):
        deltas = partner.adjustments[period]
        previous = partner.previous.get(period, {})
        rules = partner.adjustment_rules.get(period, {})
        # Q's figures as now known: everything settled for it before plus the new attributions.
        combined = {p: s.figures for p, s in previous.items()}
        for product_id, delta in deltas.items():
            combined[product_id] = combined.get(product_id, NO_FIGURES).plus(delta)
        recomputed = _shares(rules, combined)
        for product_id in _in_order(combined, order):
            before = previous[product_id].share if product_id in previous else ZERO
            terms = recomputed[product_id]
            share = terms.share
            change = share - before
            delta = deltas.get(product_id)
            if delta is None:
                if change == 0:
                    continue
                delta = NO_FIGURES
            choice = rules.get(product_id) or no_rule
            lines.append(
                LineDraft(
                    kind=LineKind.ADJUSTMENT,
                    product_id=product_id,
                    corrects_period=period,
                    figures=delta,
                    version_id=choice.version_id,
                    rule_description=choice.text,
                    effective_rate=_rate(terms.effective_rate),
                    previous_share=before,
                    share=change,
                    description=texts.adjustment
                    % {"period": _period_text(period), "new": _amount_text(share), "old": _amount_text(before)},
                    position=len(lines) + 1,
                    share_limit=terms.limit,
                    tier_reached=terms.tier,
                    tier_basis_figure=terms.basis,
                )
            )
            adjustment_total += change
            transaction_count += delta.transaction_count
            bank_revenue += delta.bank_revenue

    for carried in sorted(partner.carried, key=lambda c: (c.period, c.settlement_id)):
        lines.append(
            LineDraft(
                kind=LineKind.CARRY_FORWARD,
                carried_from_id=carried.settlement_id,
                share=carried.amount,
                description=texts.carried % {"period": _period_text(carried.period)},
                position=len(lines) + 1,
            )
        )
        carried_in += carried.amount
    for dispute in sorted(partner.disputes, key=lambda d: d.dispute_id):
        lines.append(
            LineDraft(
                kind=LineKind.DISPUTE_RESOLUTION,
                dispute_id=dispute.dispute_id,
                share=dispute.amount,
                description=texts.dispute % {"id": dispute.dispute_id, "period": _period_text(dispute.disputed_period)},
                position=len(lines) + 1,
            )
        )
        adjustment_total += dispute.amount

    net = share_total + adjustment_total + carried_in
    carried_forward = net != 0 and (net < 0 or net < minimum_payout)
    if carried_forward or net == 0:
        vat, payable = ZERO, ZERO
    else:
        vat = round_money(net * partner.vat_rate)
        payable = net + vat
    return SettlementDraft(
        partner_id=partner.partner_id,
        vat_rate=partner.vat_rate,
        lines=lines,
        transaction_count=transaction_count,
        bank_revenue=bank_revenue,
        share_total=share_total,
        adjustment_total=adjustment_total,
        carried_in=carried_in,
        net=net,
        vat=vat,
        payable=payable,
        carried_forward=carried_forward,
    )
