"""A generated month settles the same through the accrual, the dry run and the close.

One engine computes every settlement: the set-based aggregation, then the pure
share function per partner and product, then the writers. The accrual and the
close write through it, and the dry run runs the very same computation
writing nothing; a month with every rule kind, own agreements, co-served
events, reversals, an inactive partner, late events of a closed period, a
carried balance and a dispute resolution must come out of all three alike,
field for field, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from core.periods import Period
from onboarding.models import PartnerType
from organisation.roles import Role
from revenue.ledger.choices import RuleKind, TierBasis
from revenue.settlement.choices import RunKind, RunState, SettlementState
from revenue.settlement.models import Settlement, SettlementLine
from revenue.settlement.services import settlement_dispute_raise, settlement_dispute_resolve
from revenue.settlement.services.preview import settlement_dry_run
from revenue.settlement.services.writers import LINE_COLUMNS, SETTLEMENT_COLUMNS, _line_rows
from tests.factories import PartnerFactory, UserFactory
from tests.revenue.factories import ProductFactory, make_active
from tests.revenue.settlement.conftest import D, agreement, book, reversal, row

SETTLEMENT_FIELDS = tuple(c for c in SETTLEMENT_COLUMNS if c not in ("id", "period_id", "run_id", "computed_at"))
# The written columns less the ids and the time of writing, which differ between runs.
COMPARED_SETTLEMENT_FIELDS = tuple(
    c for c in SETTLEMENT_FIELDS if c not in ("state", "watermark_from", "watermark_to", "payment_reference")
)
LINE_FIELDS = tuple(c for c in LINE_COLUMNS if c != "settlement_id")


# ---- a whole month ---------------------------------------------------------------------------------


def _rule_terms(rng: random.Random) -> dict:
    kind = rng.choice(list(RuleKind))
    terms: dict = {"rule_kind": kind}
    if kind == RuleKind.PERCENTAGE:
        terms["rate"] = D(rng.randint(0, 500_000)) / 10**6
    elif kind == RuleKind.FIXED_PER_TRANSACTION:
        terms["fixed_amount"] = D(rng.randint(1, 5_000)) / 100
    else:
        terms["tier_basis"] = rng.choice(list(TierBasis))
        bounds = sorted(rng.sample(range(100, 400_000), 2))
        rates = [D(rng.randint(0, 400_000)) / 10**6 for _ in range(3)]
        terms["tiers"] = [
            (D(0), D(bounds[0]), rates[0]),
            (D(bounds[0]), D(bounds[1]), rates[1]),
            (D(bounds[1]), None, rates[2]),
        ]
    if rng.random() < 0.3:
        terms["floor"] = D(rng.randint(1, 20_000)) / 100
    if rng.random() < 0.3:
        terms["cap"] = D(rng.randint(20_000, 200_000)) / 100
    return terms


def _events(rng, partners, products, *, prefix, count, month, day_range=(1, 28)) -> list[dict]:
    rows = []
    for i in range(count):
        first, second = rng.sample(partners, 2)
        who = f"{first.credit_code}:0.6;{second.credit_code}:0.4" if rng.random() < 0.1 else first
        at = dt.datetime(2026, month, rng.randint(*day_range), rng.randint(0, 23), 30).isoformat() + "+08:00"
        revenue = D(rng.randint(1, 500_000)) / 100
        amount = revenue * rng.randint(10, 300)
        rows.append(
            row(who, f"{prefix}{i}", revenue=str(revenue), amount=str(amount), at=at, product=rng.choice(products).code)
        )
    return rows


def _snapshot() -> list[tuple]:
    out = []
    for settlement in Settlement.objects.filter(period__start=dt.date(2026, 10, 1)).order_by("partner_id"):
        lines = SettlementLine.objects.filter(settlement=settlement).order_by("position").values_list(*LINE_FIELDS)
        out.append((tuple(getattr(settlement, f) for f in SETTLEMENT_FIELDS), list(lines)))
    return out


def _comparable(snapshot) -> list[tuple]:
    """Settlement figures and lines, without the state and watermarks that differ between a draft and a close."""
    return [
        (tuple(v for f, v in zip(SETTLEMENT_FIELDS, fields, strict=True) if f in COMPARED_SETTLEMENT_FIELDS), lines)
        for fields, lines in snapshot
    ]


def _dry_run_snapshot(period: Period) -> list[tuple]:
    """The dry run's settlements in the shape the writers give them (nothing is written)."""
    drafts = sorted(settlement_dry_run(period=period, by=None).settlements, key=lambda d: d.partner_id)
    lines_by_partner: dict[int, list] = {}
    for partner_id, *line in _line_rows([d.partner_id for d in drafts], drafts):
        lines_by_partner.setdefault(partner_id, []).append(tuple(line))
    return [
        (tuple(getattr(d, f) for f in COMPARED_SETTLEMENT_FIELDS), lines_by_partner.get(d.partner_id, []))
        for d in drafts
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_month_settled_by_accrual_dry_run_and_close_is_identical(seed, run_settlement, head_office_branch):
    rng = random.Random(seed)
    products = [ProductFactory(code=code) for code in ("PAY_SETTLE", "SCF_LOAN", "WEALTH", "ACCOUNT")]
    types = list(PartnerType)
    partners = [make_active(PartnerFactory(partner_type=types[i % len(types)])) for i in range(9)]
    inactive = PartnerFactory(partner_type=PartnerType.HARDWARE)
    small = make_active(PartnerFactory(partner_type=PartnerType.SOFTWARE_DATA))  # under the minimum payout
    agreement(products[0], partner=small, rule_kind=RuleKind.PERCENTAGE, rate=D("0.300000"))
    for partner_type in types:
        for product in products:
            if rng.random() < 0.85:
                agreement(product, partner_type=partner_type, **_rule_terms(rng))
    for partner in rng.sample(partners, 2):
        agreement(rng.choice(products), partner=partner, **_rule_terms(rng))

    book(*_events(rng, partners, products, prefix="S", count=120, month=9))
    book(row(small, "TINY", revenue="0.50", amount="10.00", at="2026-09-03T10:00:00+08:00"))
    book(row(inactive, "IN-S", revenue="300.00", at="2026-09-04T10:00:00+08:00"))
    assert run_settlement("2026-09").state == RunState.COMPLETED

    # A dispute on September, resolved into October; late events and reversals of September; October itself.
    disputed = SettlementLine.objects.filter(settlement__partner=partners[1], kind="product").first()
    partner_user = UserFactory(username="p1", is_staff=False, partner=partners[1], roles=[Role.PARTNER_USER])
    finance = UserFactory(username="fin", branch=head_office_branch, roles=[Role.FINANCE])
    dispute = settlement_dispute_raise(line=disputed, by=partner_user, comment="Missing events.")
    settlement_dispute_resolve(dispute=dispute, by=finance, amount=D("37.45"), comment="Accepted.")
    book(*_events(rng, partners, products, prefix="L", count=25, month=9))
    book(*(reversal(f"R{i}", f"S{i}", at="2026-09-29T09:00:00+08:00") for i in range(0, 40, 7)))
    book(*_events(rng, partners, products, prefix="O", count=150, month=10))
    book(*(reversal(f"RO{i}", f"S{i}", at="2026-10-12T09:00:00+08:00") for i in range(4, 40, 9)))
    book(row(inactive, "IN-O", revenue="400.00"))

    run = run_settlement("2026-10", kind=RunKind.ACCRUAL)
    assert run.state == RunState.COMPLETED, run.error
    accrued = _snapshot()
    kinds = {line[1] for _settlement, lines in accrued for line in lines}
    assert kinds == {"product", "adjustment", "carry_forward", "dispute_resolution"}
    assert {s[0][0] for s in accrued} == {p.pk for p in [*partners, small]}
    previewed = _dry_run_snapshot(Period(2026, 10))
    assert previewed == _comparable(accrued)

    closed = run_settlement("2026-10")
    assert closed.state == RunState.COMPLETED, closed.error
    # The close settles the same window: the same rows, now closed.
    after_close = _snapshot()
    assert {fields[1] for fields, _lines in after_close} == {SettlementState.CLOSED}
    assert _comparable(after_close) == _comparable(accrued)
    # A dry run of the closed month recomputes that close's window exactly.
    assert _dry_run_snapshot(Period(2026, 10)) == _comparable(after_close)
