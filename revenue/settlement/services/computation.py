"""The settlement computation of a range of partners: their inputs loaded in bulk, then the pure function per partner.

Shared by the runs (accrual and close) and the dry run, so a preview runs the
very code a close runs. Per chunk of partners a fixed number of queries,
whatever the number of partners or transactions: partner types and VAT rates,
the agreement versions in force (once per period involved), what earlier
closes settled for the corrected periods, carried-forward balances and
resolved disputes; then :func:`revenue.settlement.compute.settlement_compute`
for each partner.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import translation
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
)
from revenue.settlement.compute import (
    CarriedBalance,
    DisputeAdjustment,
    Figures,
    PartnerInput,
    RuleChoice,
    Settled,
    SettlementDraft,
    figures_from_integers,
    line_texts,
    rule_describe,
    settlement_compute,
)
from revenue.settlement.models import Settlement, SettlementDispute, SettlementPeriod
from revenue.settlement.selectors import previous_closed_period


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
        low, high = self.bounds()
        return low < partner_id <= high

    def bounds(self) -> tuple[int, float]:
        """``(low, high)``: the range holds the ids with ``low < id <= high``."""
        if self.only is not None:
            return self.only - 1, self.only
        return self.after, math.inf if self.upto is None else self.upto


def minimum_payout() -> Decimal:
    return Decimal(str(settings.SETTLEMENT_MINIMUM_PAYOUT))


def last_day(period: Period) -> dt.date:
    """The day whose agreement version governs a period: its last day (the terms in force when it closes)."""
    return period.next().first_day - dt.timedelta(days=1)


def product_order() -> dict[int, int]:
    """Products by code, for a stable order of lines."""
    return {pk: i for i, pk in enumerate(Product.objects.order_by("code").values_list("pk", flat=True))}


EMPTY_RULES: Mapping[int, RuleChoice] = MappingProxyType({})


@dataclass(frozen=True)
class RulesInForce:
    """The rule of every agreement version in force on a day: partner types' defaults and partners' own."""

    defaults: dict[tuple[str, int], RuleChoice]
    own: dict[tuple[int, int], RuleChoice]

    @cached_property
    def by_type(self) -> dict[str, Mapping[int, RuleChoice]]:
        """Each partner type's defaults, product → rule (read-only: every partner of the type shares it)."""
        return _by_owner(self.defaults)

    @cached_property
    def own_by_partner(self) -> dict[int, Mapping[int, RuleChoice]]:
        """Each partner's own agreements, product → rule."""
        return _by_owner(self.own)


def _by_owner(rules: Mapping[tuple[Hashable, int], RuleChoice]) -> dict[Hashable, Mapping[int, RuleChoice]]:
    grouped: dict[Hashable, dict[int, RuleChoice]] = defaultdict(dict)
    for (owner, product_id), choice in rules.items():
        grouped[owner][product_id] = choice
    return {owner: MappingProxyType(products) for owner, products in grouped.items()}


def _partner_rules(
    by_type: Mapping[str, Mapping[int, RuleChoice]],
    own: Mapping[int, Mapping[int, RuleChoice]],
    partner_id: int,
    partner_type: str,
) -> Mapping[int, RuleChoice]:
    """A partner's rules, product → rule: its own agreement for a product overrides its type's default."""
    defaults = by_type.get(partner_type, EMPTY_RULES)
    mine = own.get(partner_id)
    return defaults if mine is None else MappingProxyType({**defaults, **mine})


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
    """The rules of every partner for a period, resolved in bulk; a proposed version can stand in.

    Each period's rules are grouped once by owner (partner type, partner), so that a partner's
    rules are one or two dictionary lookups, whatever its number of products.
    """

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
        self._with_proposed: dict[dt.date, tuple[dict, dict]] = {}
        if proposed is not None:
            rule = share_rule_from_version(proposed)
            self._proposed_choice = RuleChoice(rule=rule, version_id=proposed.pk, description=rule_describe(rule))

    def for_period(self, period: Period) -> RulesInForce:
        key = period.first_day
        if key not in self._by_period:
            self._by_period[key] = rules_for_day(last_day(period), self.cache_key)
        return self._by_period[key]

    def _owners(self, period: Period, with_proposed: bool) -> tuple[Mapping, Mapping]:
        rules = self.for_period(period)
        if not with_proposed or self.proposed is None:
            return rules.by_type, rules.own_by_partner
        key = period.first_day
        if key not in self._with_proposed:
            # Where the proposed version's agreement would govern, it replaces the version in force: for
            # its partner, or for its partner type wherever a partner has no agreement of its own.
            agreement = self.proposed.agreement
            by_type, own = dict(rules.by_type), dict(rules.own_by_partner)
            if agreement.partner_id is not None:
                owners, owner = own, agreement.partner_id
            else:
                owners, owner = by_type, agreement.partner_type
            owners[owner] = MappingProxyType(
                {**owners.get(owner, EMPTY_RULES), agreement.product_id: self._proposed_choice}
            )
            self._with_proposed[key] = (by_type, own)
        return self._with_proposed[key]

    def partner_rules(
        self, period: Period, partner_id: int, *, with_proposed: bool = False
    ) -> Mapping[int, RuleChoice]:
        """A partner's rules for a period, product → rule (read-only; a product without one earns nothing)."""
        by_type, own = self._owners(period, with_proposed)
        return _partner_rules(by_type, own, partner_id, self.partners[partner_id])


def _group_figures(rows: Iterable[tuple], partners: PartnerRange):
    """Active figures per partner: regular per product, adjustments per corrected month and product."""
    regular: dict[int, dict[int, Figures]] = {}
    adjustments: dict[int, dict[dt.date, dict[int, Figures]]] = {}
    low, high = partners.bounds()
    for partner_id, product_id, month, active, *integers in rows:
        if not active or not low < partner_id <= high:
            continue  # inactive partners earn nothing: retained by the bank (see the conservation check)
        figures = figures_from_integers(*integers)
        if month is None:
            per_product = regular.get(partner_id)
            if per_product is None:
                per_product = regular[partner_id] = {}
            per_product[product_id] = figures
        else:
            adjustments.setdefault(partner_id, {}).setdefault(month, {})[product_id] = figures
    return regular, adjustments


def _previous_settled(partners: PartnerRange, periods: set[dt.date], before: dt.date):
    """What closed settlements before ``before`` settled per (partner, corrected month, product)."""
    out: dict[tuple[int, dt.date], dict[int, Settled]] = {}
    rows = aggregation.settled_before(partners=partners.sql("s.partner_id"), months=sorted(periods), before=before)
    for partner_id, month, product_id, count, micro, volume, revenue, share in rows:
        key = (partner_id, month)
        per_product = out.get(key)
        if per_product is None:
            per_product = out[key] = {}
        per_product[product_id] = Settled(
            figures_from_integers(count, micro, volume, revenue), Decimal(share).scaleb(-2)
        )
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
        out[partner_id].append(CarriedBalance(pk, previous.start, net))
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
        out[partner_id].append(DisputeAdjustment(pk, disputed, amount))
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
    period = window.period
    with_proposed = proposed is not None
    corrected = {month: Period(month.year, month.month) for months in adjustments.values() for month in months}
    previous = _previous_settled(partners, set(corrected), period.first_day)
    no_adjustments: dict = {}
    inputs = []
    for partner_id in sorted(ids):
        partner_adjustments = adjustments.get(partner_id, no_adjustments)
        settled: dict[dt.date, dict[int, Settled]] = {}
        adjustment_rules: dict[dt.date, Mapping[int, RuleChoice]] = {}
        for month in partner_adjustments:
            settled[month] = previous.get((partner_id, month), {})
            adjustment_rules[month] = book.partner_rules(corrected[month], partner_id)
        inputs.append(
            PartnerInput(
                partner_id=partner_id,
                vat_rate=meta[partner_id][1],
                regular=regular.get(partner_id, {}),
                regular_rules=book.partner_rules(period, partner_id, with_proposed=with_proposed),
                adjustments=dict(partner_adjustments),
                previous=settled,
                adjustment_rules=adjustment_rules,
                carried=carried.get(partner_id, []),
                disputes=disputes.get(partner_id, []),
            )
        )
    return inputs


@contextmanager
def no_cyclic_gc():
    """Python's cycle collector paused while settlements are loaded, computed and written.

    A chunk makes a few hundred thousand small values (figures, rules, lines) that live until it is
    written and form no reference cycle: their reference counts free them, and the collector,
    triggered again and again as they pile up, would only scan them and the rest of the process
    for nothing (as it would once more on resuming, were they still alive). It is switched back on
    afterwards, and then collects whatever cycles were made meanwhile, unless it was off already:
    another chunk's thread, or the process, turned it off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def compute_partners(
    *,
    window: Window,
    period_row: SettlementPeriod | None,
    figure_rows,
    partners: PartnerRange,
    proposed=None,
    cache_key=None,
) -> list[SettlementDraft]:
    """Load and compute the settlements of a range of partners (shared by runs and dry runs)."""
    with translation.override(settings.LANGUAGE_CODE), no_cyclic_gc():
        inputs = partner_inputs(
            window=window,
            period_row=period_row,
            figure_rows=figure_rows,
            partners=partners,
            proposed=proposed,
            cache_key=cache_key,
        )
        order = product_order()
        payout = minimum_payout()
        texts = line_texts(translation.get_language())
        drafts = (
            settlement_compute(partner=item, minimum_payout=payout, product_order=order, texts=texts) for item in inputs
        )
        return [d for d in drafts if d is not None]
