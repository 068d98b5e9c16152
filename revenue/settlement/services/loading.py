"""Loading what a partner's settlement depends on, in bulk: the reads between the aggregation and the pure computation.

Per chunk of partners a fixed number of queries, whatever the number of
partners or transactions: partner types and VAT rates, the agreement versions
in force (once per period involved), what earlier closes settled for the
corrected periods, carried-forward balances and resolved disputes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.money import ZERO
from core.periods import Period
from onboarding.models import Partner
from revenue.ledger.models import AgreementVersion, Product
from revenue.ledger.selectors import agreement_versions_by_owner, share_rule_from_version
from revenue.settlement import aggregation
from revenue.settlement.aggregation import Window
from revenue.settlement.choices import (
    DisputeState,
    PeriodState,
)
from revenue.settlement.compute import (
    CarriedBalance,
    DisputeAdjustment,
    Figures,
    PartnerInput,
    RuleChoice,
    Settled,
    rule_describe,
)
from revenue.settlement.models import Settlement, SettlementDispute, SettlementPeriod


@dataclass(frozen=True)
class PartnerRange:
    """Partner ids ``(after, upto]`` (``upto`` None: no upper limit); ``only`` narrows to one partner."""

    after: int = 0
    upto: int | None = None
    only: int | None = None

    def q(self, field: str = "partner_id") -> Q:
        if self.only is not None:
            return Q(**{field: self.only})
        cond = Q(**{f"{field}__gt": self.after})
        if self.upto is not None:
            cond &= Q(**{f"{field}__lte": self.upto})
        return cond

    def sql(self, column: str) -> tuple[str, list]:
        return aggregation.partner_range_sql(column, after=self.after, upto=self.upto, only=self.only)

    def contains(self, partner_id: int) -> bool:
        if self.only is not None:
            return partner_id == self.only
        return partner_id > self.after and (self.upto is None or partner_id <= self.upto)


def minimum_payout() -> Decimal:
    return Decimal(str(settings.SETTLEMENT_MINIMUM_PAYOUT))


def last_day(period: Period) -> dt.date:
    """The day whose agreement version governs a period: its last day (the terms in force when it closes)."""
    return period.next().first_day - dt.timedelta(days=1)


def product_order() -> dict[int, int]:
    """Products by code, for a stable order of lines."""
    return {pk: i for i, pk in enumerate(Product.objects.order_by("code").values_list("pk", flat=True))}


def previous_closed_period(period: Period) -> SettlementPeriod | None:
    return (
        SettlementPeriod.objects.filter(state=PeriodState.CLOSED, start__lt=period.first_day).order_by("-start").first()
    )


@dataclass(frozen=True)
class RulesInForce:
    """The rule of every agreement version in force on a day: partner types' defaults and partners' own."""

    defaults: dict[tuple[str, int], RuleChoice]
    own: dict[tuple[int, int], RuleChoice]

    def choice(self, partner_id: int, partner_type: str, product_id: int) -> RuleChoice | None:
        """A partner's own agreement for the product overrides its type's default; None: no share."""
        return self.own.get((partner_id, product_id)) or self.defaults.get((partner_type, product_id))


def rules_in_force(on: dt.date) -> RulesInForce:
    """Two queries (versions with their agreements, then tiers) whatever the number of partners."""
    choices: dict[int, RuleChoice] = {}

    def choice(version: AgreementVersion) -> RuleChoice:
        if version.pk not in choices:
            rule = share_rule_from_version(version)
            choices[version.pk] = RuleChoice(rule=rule, version_id=version.pk, description=rule_describe(rule))
        return choices[version.pk]

    defaults, own = agreement_versions_by_owner(on=on)
    return RulesInForce(
        defaults={key: choice(v) for key, v in defaults.items()}, own={key: choice(v) for key, v in own.items()}
    )


# The rules of the periods a run settles, kept for the run's chunks that this process executes: they
# are read once per run and process rather than once per chunk.
_run_rules: dict[str, Any] = {"key": None, "by_day": {}}


def rules_for_day(on: dt.date, cache_key: Hashable | None) -> RulesInForce:
    if cache_key is None:
        return rules_in_force(on)
    key = (cache_key, get_language())
    if _run_rules["key"] != key:
        _run_rules["key"], _run_rules["by_day"] = key, {}
    by_day = _run_rules["by_day"]
    if on not in by_day:
        by_day[on] = rules_in_force(on)
    return by_day[on]


class RuleBook:
    """The rule of every (partner, product) for a period, resolved in bulk; a proposed version can stand in."""

    def __init__(
        self,
        *,
        partners: dict[int, str],
        proposed: AgreementVersion | None = None,
        cache_key: Hashable | None = None,
    ) -> None:
        self.partners = partners
        self.proposed = proposed
        self.cache_key = cache_key
        self._by_period: dict[dt.date, RulesInForce] = {}
        self._proposed_choice: RuleChoice | None = None
        if proposed is not None:
            rule = share_rule_from_version(proposed)
            self._proposed_choice = RuleChoice(rule=rule, version_id=proposed.pk, description=rule_describe(rule))

    def for_period(self, period: Period) -> RulesInForce:
        key = period.first_day
        if key not in self._by_period:
            self._by_period[key] = rules_for_day(last_day(period), self.cache_key)
        return self._by_period[key]

    def choice(
        self, period: Period, partner_id: int, product_id: int, *, with_proposed: bool = False
    ) -> RuleChoice | None:
        partner_type = self.partners[partner_id]
        rules = self.for_period(period)
        if with_proposed and self.proposed is not None:
            # Where the proposed version's agreement would govern, it replaces the version in force.
            agreement = self.proposed.agreement
            if agreement.product_id == product_id:
                if agreement.partner_id is not None:
                    if agreement.partner_id == partner_id:
                        return self._proposed_choice
                elif partner_type == agreement.partner_type and (partner_id, product_id) not in rules.own:
                    return self._proposed_choice
        return rules.choice(partner_id, partner_type, product_id)


def _group_figures(rows: Iterable[tuple], partners: PartnerRange):
    """Active figures per partner: regular per product, adjustments per corrected month and product."""
    regular: dict[int, dict[int, Figures]] = defaultdict(dict)
    adjustments: dict[int, dict[dt.date, dict[int, Figures]]] = defaultdict(lambda: defaultdict(dict))
    for partner_id, product_id, month, active, count, micro, volume, revenue in rows:
        if not active or not partners.contains(partner_id):
            continue  # inactive partners earn nothing: retained by the bank (see the conservation check)
        figures = Figures.from_integers(count=count, net_count_micro=micro, volume_fen=volume, bank_revenue_fen=revenue)
        if month is None:
            regular[partner_id][product_id] = figures
        else:
            adjustments[partner_id][month][product_id] = figures
    return regular, adjustments


def _previous_settled(partners: PartnerRange, periods: set[dt.date], before: dt.date):
    """What closed settlements before ``before`` settled per (partner, corrected month, product)."""
    out: dict[tuple[int, dt.date], dict[int, Settled]] = defaultdict(dict)
    rows = aggregation.settled_before(partners=partners.sql("s.partner_id"), months=sorted(periods), before=before)
    for partner_id, month, product_id, count, micro, volume, revenue, share in rows:
        figures = Figures.from_integers(count=count, net_count_micro=micro, volume_fen=volume, bank_revenue_fen=revenue)
        out[(partner_id, month)][product_id] = Settled(figures, Decimal(share).scaleb(-2))
    return out


def _carried(period: Period, partners: PartnerRange) -> dict[int, list[CarriedBalance]]:
    """Nets carried forward by the latest closed period before this one."""
    previous = previous_closed_period(period)
    out: dict[int, list[CarriedBalance]] = defaultdict(list)
    if previous is None:
        return out
    rows = Settlement.objects.filter(partners.q(), period=previous, carried_forward=True).values_list(
        "pk", "partner_id", "net"
    )
    for pk, partner_id, net in rows:
        out[partner_id].append(CarriedBalance(settlement_id=pk, period=previous.start, amount=net))
    return out


def _disputes(period_row: SettlementPeriod | None, partners: PartnerRange) -> dict[int, list[DisputeAdjustment]]:
    out: dict[int, list[DisputeAdjustment]] = defaultdict(list)
    if period_row is None:
        return out
    rows = (
        SettlementDispute.objects.filter(partners.q("settlement__partner_id"), adjust_period=period_row)
        .filter(state=DisputeState.RESOLVED)
        .exclude(resolution_amount=ZERO)
        .values_list("pk", "settlement__partner_id", "settlement__period__start", "resolution_amount")
    )
    for pk, partner_id, disputed, amount in rows:
        out[partner_id].append(DisputeAdjustment(dispute_id=pk, disputed_period=disputed, amount=amount))
    return out


def partner_inputs(
    *,
    window: Window,
    period_row: SettlementPeriod | None,
    figure_rows: Iterable[tuple],
    partners: PartnerRange,
    proposed: AgreementVersion | None = None,
    cache_key: Hashable | None = None,
) -> list[PartnerInput]:
    """Everything the partners of a range need for their settlement of the window's period, in partner order.

    ``cache_key`` (a run's id and attempt) lets the chunks of one run that this process executes share
    the agreement rules they read.
    """
    regular, adjustments = _group_figures(figure_rows, partners)
    carried = _carried(window.period, partners)
    disputes = _disputes(period_row, partners)
    ids = set(regular) | set(adjustments) | set(carried) | set(disputes)
    if not ids:
        return []
    # A range, not a list of ids: one index condition instead of thousands of parameters.
    rows = Partner.objects.filter(partners.q("pk")).values_list("pk", "partner_type", "vat_rate")
    meta = {pk: (ptype, vat) for pk, ptype, vat in rows if pk in ids}
    missing = ids - set(meta)
    if missing:
        raise LookupError(_("Attributions name partners that do not exist: %(ids)s") % {"ids": sorted(missing)[:10]})
    book = RuleBook(partners={pk: m[0] for pk, m in meta.items()}, proposed=proposed, cache_key=cache_key)
    with_proposed = proposed is not None
    corrected = {month for per_partner in adjustments.values() for month in per_partner}
    previous = _previous_settled(partners, corrected, window.period.first_day)
    inputs = []
    for partner_id in sorted(ids):
        item = PartnerInput(partner_id=partner_id, vat_rate=meta[partner_id][1])
        item.regular = regular.get(partner_id, {})
        regular_rules = {}
        for product_id in item.regular:
            choice = book.choice(window.period, partner_id, product_id, with_proposed=with_proposed)
            if choice is not None:
                regular_rules[product_id] = choice
        item.regular_rules = regular_rules
        for month, deltas in adjustments.get(partner_id, {}).items():
            corrected_period = Period(month.year, month.month)
            item.adjustments[month] = deltas
            before = previous.get((partner_id, month), {})
            item.previous[month] = before
            rules = {}
            for product_id in set(deltas) | set(before):
                choice = book.choice(corrected_period, partner_id, product_id)
                if choice is not None:
                    rules[product_id] = choice
            item.adjustment_rules[month] = rules
        item.carried = carried.get(partner_id, [])
        item.disputes = disputes.get(partner_id, [])
        inputs.append(item)
    return inputs
