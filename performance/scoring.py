"""Scorecard arithmetic and partner tier evaluation: pure functions, no database.

Scoring a branch for one period (every step in ``Decimal``):

1. **Achievement rate** = actual / target, rounded to 4 places (0.01 %),
   ``ROUND_HALF_UP`` (half away from zero, the product's rounding mode). A
   target of zero has no rate (``None``, shown as "—"); for scoring it counts
   as met (100 %) when the actual is not negative, and as 0 % otherwise.
2. **Scored achievement** = the rate clamped to ``[0, cap]``. The cap
   (``DEFAULT_ACHIEVEMENT_CAP`` = 1.5, i.e. 150 %) stops one over-achieved KPI
   from hiding the others; it is a parameter and is stored with each scorecard.
   Negative actuals (a month of reversals) score 0, never below.
3. **Weighted score** = scored achievement × weight × 100, rounded to 2 places
   ``ROUND_HALF_UP``. Rounding happens here, once per line, on the rounded rate,
   so anyone can recompute a line from the figures shown beside it.
4. **Total score** = the sum of the rounded weighted scores (exact: the lines
   shown add up to the total). With weights summing to 1 a branch that meets
   every target scores 100; the most it can score is ``cap × 100`` plus at
   most half a hundredth per line of rounding.
5. **Rank**: standard competition ranking ("1224") on the totals, which are
   already whole hundredths: equal totals share a rank and the next rank skips.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

RATE_QUANTUM = Decimal("0.0001")
SCORE_QUANTUM = Decimal("0.01")
DEFAULT_ACHIEVEMENT_CAP = Decimal("1.5")
ONE = Decimal(1)
ZERO = Decimal(0)
HUNDRED = Decimal(100)

K = TypeVar("K", bound=Hashable)


def achievement_rate(*, actual: Decimal, target: Decimal) -> Decimal | None:
    """actual / target to 4 places, ROUND_HALF_UP; ``None`` for a zero target."""
    _require_decimal(actual=actual, target=target)
    if target < 0:
        raise ValueError("a target is not negative")
    if target == 0:
        return None
    return (actual / target).quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)


def scored_achievement(*, rate: Decimal | None, actual: Decimal, cap: Decimal = DEFAULT_ACHIEVEMENT_CAP) -> Decimal:
    """The achievement that counts towards the score: the rate clamped to [0, cap].

    A zero target (rate ``None``) is met by any actual that is not negative.
    """
    if cap < ONE:
        raise ValueError("the achievement cap is at least 1 (100%)")
    if rate is None:
        return ONE if actual >= 0 else ZERO
    return min(max(rate, ZERO), cap)


def weighted_score(*, achievement: Decimal, weight: Decimal) -> Decimal:
    """achievement × weight × 100, to 2 places ROUND_HALF_UP."""
    if not ZERO < weight <= ONE:
        raise ValueError("a weight is above 0 and at most 1")
    return (achievement * weight * HUNDRED).quantize(SCORE_QUANTUM, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class KPIInput:
    """One KPI of a branch for a period: its target and weight, and the actual figure."""

    kpi: str
    target: Decimal
    weight: Decimal
    actual: Decimal


@dataclass(frozen=True)
class KPIScore:
    kpi: str
    target: Decimal
    weight: Decimal
    actual: Decimal
    achievement_rate: Decimal | None
    scored_achievement: Decimal
    weighted_score: Decimal


@dataclass(frozen=True)
class BranchScore:
    lines: tuple[KPIScore, ...]
    total: Decimal


def score_kpi(item: KPIInput, *, cap: Decimal = DEFAULT_ACHIEVEMENT_CAP) -> KPIScore:
    rate = achievement_rate(actual=item.actual, target=item.target)
    achievement = scored_achievement(rate=rate, actual=item.actual, cap=cap)
    return KPIScore(
        kpi=item.kpi,
        target=item.target,
        weight=item.weight,
        actual=item.actual,
        achievement_rate=rate,
        scored_achievement=achievement,
        weighted_score=weighted_score(achievement=achievement, weight=item.weight),
    )


def score_branch(items: Iterable[KPIInput], *, cap: Decimal = DEFAULT_ACHIEVEMENT_CAP) -> BranchScore:
    """Score one branch's KPIs for a period.

    The weights must sum to exactly 1: scores of branches are only comparable
    (and rankable) when each is out of the same 100.
    """
    items = list(items)
    if not items:
        raise ValueError("a scorecard needs at least one KPI target")
    kpis = [item.kpi for item in items]
    if len(set(kpis)) != len(kpis):
        raise ValueError("each KPI appears once on a scorecard")
    weight_sum = sum((item.weight for item in items), ZERO)
    if weight_sum != ONE:
        raise ValueError(f"the weights of a scorecard sum to 1, not {weight_sum}")
    lines = tuple(score_kpi(item, cap=cap) for item in items)
    return BranchScore(lines=lines, total=sum((line.weighted_score for line in lines), ZERO))


def competition_ranks(totals: Mapping[K, Decimal]) -> dict[K, int]:
    """Standard competition ranking ("1224") of totals, highest first.

    Totals are compared at 2 places (ROUND_HALF_UP), the precision scores are
    shown at, so two branches that look equal share a rank. A key's rank is one
    more than the number of keys with a strictly higher total, which makes the
    result independent of the order of ``totals``.
    """
    shown = {key: total.quantize(SCORE_QUANTUM, rounding=ROUND_HALF_UP) for key, total in totals.items()}
    descending = sorted(shown.values(), reverse=True)
    first_place: dict[Decimal, int] = {}
    for place, total in enumerate(descending, start=1):
        first_place.setdefault(total, place)
    return {key: first_place[total] for key, total in shown.items()}


# ---------------------------------------------------------------------------
# Partner tiers


@dataclass(frozen=True)
class PartnerFigures:
    """A partner's KPIs over the evaluation period.

    ``growth_rate`` is revenue growth against the previous period (see
    :func:`growth_rate`), ``None`` without a previous revenue to compare with;
    ``dispute_rate`` is disputed lines per settlement line, ``None`` without lines.
    """

    revenue: Decimal
    volume: Decimal
    smes: int
    active_months: int
    growth_rate: Decimal | None = None
    dispute_rate: Decimal | None = None


@dataclass(frozen=True)
class TierCriteria:
    """A tier rule as plain data (``performance.models.TierRule.as_criteria``). ``None`` = not checked."""

    tier: str
    priority: int
    rule_id: int | None = None
    min_revenue: Decimal | None = None
    min_volume: Decimal | None = None
    min_smes: int | None = None
    min_active_months: int | None = None
    min_growth_rate: Decimal | None = None
    max_dispute_rate: Decimal | None = None


@dataclass(frozen=True)
class TierProposal:
    tier: str
    rule: TierCriteria | None  # None: no rule met, the default tier


def growth_rate(*, current: Decimal, previous: Decimal) -> Decimal | None:
    """(current − previous) / previous to 4 places ROUND_HALF_UP; ``None`` when previous is not positive.

    Without a positive base a growth rate means nothing, so a rule asking for
    growth is not met by a partner without previous revenue.
    """
    _require_decimal(current=current, previous=previous)
    if previous <= 0:
        return None
    return ((current - previous) / previous).quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)


def unmet_thresholds(rule: TierCriteria, figures: PartnerFigures) -> list[str]:
    """Names of the thresholds of ``rule`` that ``figures`` do not meet (empty: the rule is met)."""
    unmet = []
    if rule.min_revenue is not None and figures.revenue < rule.min_revenue:
        unmet.append("min_revenue")
    if rule.min_volume is not None and figures.volume < rule.min_volume:
        unmet.append("min_volume")
    if rule.min_smes is not None and figures.smes < rule.min_smes:
        unmet.append("min_smes")
    if rule.min_active_months is not None and figures.active_months < rule.min_active_months:
        unmet.append("min_active_months")
    if rule.min_growth_rate is not None and (figures.growth_rate is None or figures.growth_rate < rule.min_growth_rate):
        unmet.append("min_growth_rate")
    # No settlement lines means nothing was disputed: a dispute ceiling is met.
    if (
        rule.max_dispute_rate is not None
        and figures.dispute_rate is not None
        and figures.dispute_rate > rule.max_dispute_rate
    ):
        unmet.append("max_dispute_rate")
    return unmet


def tier_evaluate(*, rules: Iterable[TierCriteria], figures: PartnerFigures, default_tier: str) -> TierProposal:
    """Propose a tier: the tier of the highest-priority rule whose every threshold is met.

    Priorities are unique (the database enforces it for stored rules); the
    order of ``rules`` does not matter.
    """
    ordered = sorted(rules, key=lambda rule: -rule.priority)
    priorities = [rule.priority for rule in ordered]
    if len(set(priorities)) != len(priorities):
        raise ValueError("tier rule priorities are unique")
    for rule in ordered:
        if not unmet_thresholds(rule, figures):
            return TierProposal(tier=rule.tier, rule=rule)
    return TierProposal(tier=default_tier, rule=None)


def _require_decimal(**values: object) -> None:
    for name, value in values.items():
        if not isinstance(value, Decimal):
            raise TypeError(f"{name} must be Decimal, got {type(value).__name__}")
