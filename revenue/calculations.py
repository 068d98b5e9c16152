"""The revenue-share computation: rules and aggregated figures in, amounts out.

Pure functions over plain values: no ORM, no I/O, no clock. A settlement
aggregates a period's attributed transactions per partner and product in the
database, turns agreement versions into :class:`ShareRule` values, and calls
:func:`partner_shares_compute`.

Rules (one per partner and product, from the version in force)
    ``percentage``            share = bank revenue × rate
    ``fixed_per_transaction`` share = transactions × fixed amount (a co-served
                              transaction counts as its weight, a reversal as minus its weight)
    ``tiered_progressive``    each slab of the basis figure at its own rate: the
                              effective rate is Σ rateᵢ × (part of the basis in slab i) / basis,
                              and share = bank revenue × effective rate (with the product's
                              own revenue as basis this is exactly Σ rateᵢ × sliceᵢ)
    ``tiered_retroactive``    share = bank revenue × the rate of the slab the basis reached

    The basis of a tiered rule is explicit: the partner's period-to-date volume
    or bank revenue, of this product or across all its products. A basis of
    zero or less (a period of net reversals) takes the first slab's rate.

Floor, cap and the revenue limit, in this order
    A floor lifts a line that earned bank revenue to at least the floor; a cap
    limits it to at most the cap. Then the share is kept between zero and the
    line's bank revenue: the bank never pays out more than the business earned
    it (nor claws back more than it lost), so a floor or a fixed amount above
    the revenue is limited to the revenue.

Rounding (the product's one rule, :func:`core.money.round_money`)
    Everything is computed exactly (Decimal, 50 significant digits) and rounded
    once, half away from zero to the fen, at the line boundary: one partner,
    one product, one period.

Co-served events
    An event attributed to several partners is split by weight with
    :func:`split_exact` (largest remainder on whole fen), so the parts add back
    exactly to the whole.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from itertools import pairwise
from typing import NamedTuple, Protocol

from django.utils.translation import gettext as _

from core.money import ZERO, allocate, round_money
from revenue.ledger.choices import RuleKind, TierBasis

ONE = Decimal(1)
PRECISION = 50
# The exact arithmetic of the computation: 50 significant digits, explicit (a settlement computes tens
# of thousands of lines, and entering a local context for each costs more than the arithmetic).
EXACT = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN)

PERCENTAGE = RuleKind.PERCENTAGE.value
FIXED_PER_TRANSACTION = RuleKind.FIXED_PER_TRANSACTION.value
TIERED_PROGRESSIVE = RuleKind.TIERED_PROGRESSIVE.value
TIERED_RETROACTIVE = RuleKind.TIERED_RETROACTIVE.value
# Tier bases summed over all the partner's products.
TOTAL_BASES = frozenset({TierBasis.TOTAL_VOLUME.value, TierBasis.TOTAL_REVENUE.value})


@dataclass(frozen=True)
class TierBracket:
    """Basis figures from ``lower`` (inclusive) to ``upper`` (exclusive; ``None`` = no limit) earn ``rate``."""

    lower: Decimal
    upper: Decimal | None
    rate: Decimal


@dataclass(frozen=True)
class ShareRule:
    """The terms of one agreement version, as plain values."""

    kind: str
    rate: Decimal | None = None
    fixed_amount: Decimal | None = None
    tier_basis: str | None = None
    tiers: tuple[TierBracket, ...] = ()
    floor: Decimal | None = None
    cap: Decimal | None = None
    # Which version this is, carried through to the line for traceability.
    version_id: int | None = None

    def __post_init__(self) -> None:
        # Slabs in order once, rather than sorted again for every line computed under the rule.
        object.__setattr__(self, "tiers", tuple(sorted(self.tiers, key=lambda b: b.lower)))


class LineFigures(NamedTuple):
    """A partner's period-to-date figures for one product (attributed shares of co-served events).

    Named tuples, here and for :class:`ShareLine`: a settlement makes one per line, tens of thousands.
    """

    bank_revenue: Decimal
    volume: Decimal = ZERO
    count: Decimal = ZERO


class ShareFigures(Protocol):
    """What a share is computed from: :class:`LineFigures`, or any value with these three figures."""

    @property
    def bank_revenue(self) -> Decimal: ...

    @property
    def volume(self) -> Decimal: ...

    @property
    def count(self) -> Decimal: ...


class ShareLine(NamedTuple):
    """The share of one partner for one product and period, and how it was reached."""

    rule: ShareRule | None
    figures: LineFigures
    basis: Decimal | None
    effective_rate: Decimal | None
    unrounded: Decimal
    share: Decimal
    floor_applied: bool = False
    cap_applied: bool = False
    limited_to_revenue: bool = False

    @property
    def limit(self) -> str:
        """Which limit shaped the share (:data:`revenue.vocabulary.SHARE_LIMITS`), "" when the rate alone did."""
        return share_limit(self.rule, self.floor_applied, self.cap_applied, self.limited_to_revenue)


class ShareTerms(NamedTuple):
    """What a settlement line keeps of its share: the amount, the effective rate and how they were reached."""

    share: Decimal
    effective_rate: Decimal | None
    # "" or a key of revenue.vocabulary.SHARE_LIMITS: the last limit that moved the share.
    limit: str = ""
    # Tiered rules: the basis figure and the slab it reached (1 = the first).
    basis: Decimal | None = None
    tier: int | None = None


def share_limit(rule: ShareRule | None, floor_applied: bool, cap_applied: bool, limited: bool) -> str:
    """The limit that shaped a share: the revenue limit is applied last, so it wins over a cap or a floor."""
    if rule is None:
        return "no_agreement"
    if limited:
        return "revenue"
    if cap_applied:
        return "cap"
    if floor_applied:
        return "floor"
    return ""


def tier_brackets_problems(brackets: Sequence[TierBracket]) -> list[str]:
    """What is wrong with a set of slabs: they must run contiguously from zero, the last one open-ended.

    Returns translated messages, empty when the brackets are sound.
    """
    if not brackets:
        return [_("A tiered rule needs at least one slab.")]
    problems: list[str] = []
    ordered = sorted(brackets, key=lambda b: b.lower)
    if ordered[0].lower != 0:
        problems.append(_("The first slab must start at 0, not at %(lower)s.") % {"lower": ordered[0].lower})
    for bracket in ordered:
        if bracket.upper is not None and bracket.upper <= bracket.lower:
            problems.append(_("The slab from %(lower)s must end above where it starts.") % {"lower": bracket.lower})
        if not ZERO <= bracket.rate <= ONE:
            problems.append(_("The rate %(rate)s is not between 0 and 1.") % {"rate": bracket.rate})
    for current, following in pairwise(ordered):
        if current.upper is None:
            problems.append(
                _("Only the last slab may be open-ended; the slab from %(lower)s has no upper limit.")
                % {"lower": current.lower}
            )
        elif following.lower > current.upper:
            problems.append(
                _("Gap between %(upper)s and %(lower)s: the slabs must be contiguous.")
                % {"upper": current.upper, "lower": following.lower}
            )
        elif following.lower < current.upper:
            problems.append(
                _("The slabs from %(a)s and from %(b)s overlap.") % {"a": current.lower, "b": following.lower}
            )
    if ordered[-1].upper is not None:
        problems.append(_("The last slab must be open-ended (no upper limit)."))
    return problems


def _slab_reached(tiers: Sequence[TierBracket], basis: Decimal) -> TierBracket:
    """The slab ``basis`` falls in (``tiers`` in order, as :class:`ShareRule` keeps them)."""
    if basis <= 0:
        return tiers[0]
    for bracket in tiers:
        if bracket.upper is None or basis < bracket.upper:
            return bracket
    return tiers[-1]


def _progressive_weighted(tiers: Sequence[TierBracket], basis: Decimal) -> Decimal:
    """Σ rateᵢ × (part of ``basis`` inside slab i), for a positive basis (``tiers`` in order)."""
    total = Decimal(0)
    for bracket in tiers:
        if basis <= bracket.lower:
            break
        top = basis if bracket.upper is None else min(basis, bracket.upper)
        total = EXACT.add(total, EXACT.multiply(EXACT.subtract(top, bracket.lower), bracket.rate))
    return total


def _basis(rule: ShareRule, figures: ShareFigures, totals: ShareFigures) -> Decimal:
    basis = rule.tier_basis
    if basis == TierBasis.PRODUCT_VOLUME:
        return figures.volume
    if basis == TierBasis.TOTAL_VOLUME:
        return totals.volume
    if basis == TierBasis.PRODUCT_REVENUE:
        return figures.bank_revenue
    if basis == TierBasis.TOTAL_REVENUE:
        return totals.bank_revenue
    raise ValueError(basis)


# (basis, effective rate, unrounded, share, floor applied, cap applied, limited to the revenue): a ShareLine's terms.
_NO_RULE = (None, None, ZERO, ZERO, False, False, False)


def _share_terms(rule: ShareRule | None, figures: ShareFigures, totals: ShareFigures) -> tuple:
    """The rule applied to one line, as the fields of :class:`ShareLine` after ``rule`` and ``figures``.

    The one definition of a share; a plain tuple, because a settlement applies it tens of thousands of
    times and most callers want only the share and the effective rate.
    """
    if rule is None:
        return _NO_RULE
    revenue = figures.bank_revenue
    basis: Decimal | None = None
    effective_rate: Decimal | None = None
    kind = rule.kind
    if kind == PERCENTAGE:
        effective_rate = rule.rate
        raw = EXACT.multiply(revenue, rule.rate)
    elif kind == FIXED_PER_TRANSACTION:
        raw = EXACT.multiply(figures.count, rule.fixed_amount)
    elif kind == TIERED_PROGRESSIVE or kind == TIERED_RETROACTIVE:
        basis = _basis(rule, figures, totals)
        if kind == TIERED_RETROACTIVE or basis <= 0:
            effective_rate = _slab_reached(rule.tiers, basis).rate
            raw = EXACT.multiply(revenue, effective_rate)
        else:
            weighted = _progressive_weighted(rule.tiers, basis)
            effective_rate = EXACT.divide(weighted, basis)
            # Multiply before dividing: with the line's own revenue as basis this is exact.
            raw = EXACT.divide(EXACT.multiply(revenue, weighted), basis)
    else:
        raise ValueError(rule.kind)

    floor_applied = cap_applied = limited = False
    value = raw
    if rule.floor is not None and revenue > 0 and value < rule.floor:
        value, floor_applied = rule.floor, True
    if rule.cap is not None and value > rule.cap:
        value, cap_applied = rule.cap, True
    if revenue >= 0:
        low, high = ZERO, revenue
    else:
        low, high = revenue, ZERO
    if value > high:
        value, limited = high, True
    elif value < low:
        value, limited = low, True
    return basis, effective_rate, raw, round_money(value), floor_applied, cap_applied, limited


def share_compute(*, rule: ShareRule | None, figures: LineFigures, totals: LineFigures | None = None) -> ShareLine:
    """The share of one line (partner × product × period); ``totals`` are the partner's figures over all products.

    Without a rule (no agreement in force) the share is zero.
    """
    return ShareLine(rule, figures, *_share_terms(rule, figures, totals or figures))


def figures_total(figures: Mapping[Hashable, ShareFigures]) -> LineFigures:
    """A partner's figures across all its products."""
    return LineFigures(
        bank_revenue=sum((f.bank_revenue for f in figures.values()), ZERO),
        volume=sum((f.volume for f in figures.values()), ZERO),
        count=sum((f.count for f in figures.values()), ZERO),
    )


def _totals_if_needed(
    rules: Mapping[Hashable, ShareRule | None], figures: Mapping[Hashable, ShareFigures]
) -> ShareFigures | None:
    """The partner's figures across products, when a rule of one of them is tiered on such a total."""
    if len(figures) > 1:
        for key in figures:
            rule = rules.get(key)
            if rule is not None and rule.tier_basis in TOTAL_BASES:
                return figures_total(figures)
    return None


def partner_shares_compute(
    *, rules: Mapping[Hashable, ShareRule | None], figures: Mapping[Hashable, LineFigures]
) -> dict[Hashable, ShareLine]:
    """One partner's shares for a period, per product (the keys of ``figures``).

    ``figures`` must hold every product the partner had business in, because
    the across-all-products bases are their sums; a product without a rule
    earns nothing but still counts towards those bases.
    """
    totals = _totals_if_needed(rules, figures)
    lines = {}
    for key, line in figures.items():
        rule = rules.get(key)
        lines[key] = ShareLine(rule, line, *_share_terms(rule, line, totals or line))
    return lines


def partner_share_amounts(
    *, rules: Mapping[Hashable, ShareRule | None], figures: Mapping[Hashable, ShareFigures]
) -> dict[Hashable, tuple[Decimal, Decimal | None]]:
    """``(share, effective rate)`` per product: the two fields of :func:`partner_shares_compute` a settlement keeps."""
    totals = _totals_if_needed(rules, figures)
    amounts = {}
    for key, line in figures.items():
        terms = _share_terms(rules.get(key), line, totals or line)
        amounts[key] = (terms[3], terms[1])
    return amounts


def partner_share_terms(
    *, rules: Mapping[Hashable, ShareRule | None], figures: Mapping[Hashable, ShareFigures]
) -> dict[Hashable, ShareTerms]:
    """:class:`ShareTerms` per product: what :func:`partner_shares_compute` reached, as a settlement line keeps it."""
    totals = _totals_if_needed(rules, figures)
    out = {}
    for key, line in figures.items():
        rule = rules.get(key)
        basis, rate, _raw, share, floor_applied, cap_applied, limited = _share_terms(rule, line, totals or line)
        tier = None
        if basis is not None:
            tier = rule.tiers.index(_slab_reached(rule.tiers, basis)) + 1
        out[key] = ShareTerms(share, rate, share_limit(rule, floor_applied, cap_applied, limited), basis, tier)
    return out


def weights_problems(weights: Sequence[Decimal]) -> list[str]:
    """Attribution weights must each be in (0, 1] and add up to exactly 1."""
    problems = []
    if not weights:
        problems.append(_("At least one partner is needed."))
    if any(not (ZERO < w <= ONE) for w in weights):
        problems.append(_("Each weight must be more than 0 and at most 1."))
    if weights and sum(weights, Decimal(0)) != ONE:
        problems.append(_("The weights add up to %(sum)s, not to exactly 1.") % {"sum": sum(weights, Decimal(0))})
    return problems


def split_exact(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split an amount (of whole fen) by weights so that the parts add back to it exactly.

    The largest-remainder method of :func:`core.money.allocate`; a negative
    total (a reversal) splits into the negated parts of its positive twin.
    """
    return allocate(total, weights)
