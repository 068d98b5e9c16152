"""PostgreSQL computes a chunk's settlements in SQL; Python computes them everywhere else. Both must agree exactly.

* the share of any rule and figures, SQL against :func:`revenue.calculations.share_compute` (hypothesis);
* a generated month (every rule kind, own agreements, co-served events, reversals, an inactive
  partner, late events of a closed period, a carried balance and a dispute resolution), settled by
  both: the same settlements and lines, field for field.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from onboarding.models import PartnerType
from organisation.roles import Role
from revenue.calculations import LineFigures, ShareRule, TierBracket, share_compute
from revenue.choices import RuleKind, TierBasis
from revenue.selectors import share_rule_from_version
from revenue.settlement.choices import RunKind, RunState, SettlementState
from revenue.settlement.compute import RATE_PLACES
from revenue.settlement.models import Settlement, SettlementLine
from revenue.settlement.services import settlement_dispute_raise, settlement_dispute_resolve
from revenue.settlement.services.runs import LINE_COLUMNS, SETTLEMENT_COLUMNS
from revenue.settlement.set_based import share_sql
from tests.factories import PartnerFactory, UserFactory
from tests.revenue.factories import AgreementVersionFactory, ProductFactory, make_active, make_tiers
from tests.revenue.settlement.conftest import D, agreement, book, reversal, row
from tests.revenue.test_calculations import any_rule, fen

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="the set-based computation is PostgreSQL's",
    ),
]


# ---- one share -----------------------------------------------------------------------------------


def _version(rule):
    if rule is None:
        return None
    version = AgreementVersionFactory(
        rule_kind=rule.kind,
        rate=rule.rate,
        fixed_amount=rule.fixed_amount,
        tier_basis=rule.tier_basis or "",
        floor=rule.floor,
        cap=rule.cap,
    )
    make_tiers(version, [(t.lower, t.upper, t.rate) for t in rule.tiers])
    return version


def _sql_shares(cases) -> list[tuple[Decimal, Decimal | None]]:
    ctes, out = share_sql("src")
    rows = [
        {
            "n": n,
            "version_id": version.pk if version else None,
            "revenue": str(figures.bank_revenue),
            "volume": str(figures.volume),
            "count": str(figures.count),
            "total_revenue": str(totals.bank_revenue),
            "total_volume": str(totals.volume),
        }
        for n, (version, figures, totals) in enumerate(cases)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH src AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) AS s(n int, version_id bigint,
                    revenue numeric, volume numeric, count numeric, total_revenue numeric, total_volume numeric)),
                {ctes}
                SELECT share, effective_rate FROM {out} ORDER BY n""",
            [json.dumps(rows)],
        )
        return cursor.fetchall()


def _python_share(version, figures, totals) -> tuple[Decimal, Decimal | None]:
    rule = share_rule_from_version(version) if version else None
    line = share_compute(rule=rule, figures=figures, totals=totals)
    rate = None if line.effective_rate is None else line.effective_rate.quantize(RATE_PLACES, rounding="ROUND_HALF_UP")
    return line.share, rate


counts = st.integers(-(10**9), 10**12).map(lambda micro: Decimal(micro) / 10**6)


@st.composite
def cases(draw):
    rule = draw(st.none() | any_rule())
    revenue, volume, count = draw(fen), draw(fen), draw(counts)
    other_revenue, other_volume = draw(fen), draw(fen)
    figures = LineFigures(revenue, volume, count)
    totals = LineFigures(revenue + other_revenue, volume + other_volume, count)
    return rule, figures, totals


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=st.lists(cases(), min_size=1, max_size=6))
def test_sql_shares_equal_the_pure_function(db, drawn):
    with_versions = [(_version(rule), figures, totals) for rule, figures, totals in drawn]
    assert _sql_shares(with_versions) == [_python_share(*case) for case in with_versions]


def test_sql_rounds_half_away_from_zero_like_python(db):
    half = _version(ShareRule(kind=RuleKind.PERCENTAGE, rate=D("0.500000")))
    slabs = (TierBracket(D("0"), D("3"), D("0.100000")), TierBracket(D("3"), None, D("0.200000")))
    progressive = _version(
        ShareRule(kind=RuleKind.TIERED_PROGRESSIVE, tier_basis=TierBasis.PRODUCT_VOLUME, tiers=slabs)
    )
    cases = [
        (half, LineFigures(D("0.05")), LineFigures(D("0.05"))),  # 0.025: half-even would give 0.02
        (half, LineFigures(D("-0.05")), LineFigures(D("-0.05"))),
        (progressive, LineFigures(D("100.00"), D("7.00")), LineFigures(D("100.00"), D("7.00"))),
    ]
    shares = _sql_shares(cases)
    assert [share for share, _rate in shares] == [D("0.03"), D("-0.03"), D("15.71")]  # 100 × 1.1 / 7 = 15.714…
    assert shares == [_python_share(*case) for case in cases]


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
    # The columns a chunk writes, less the ids and the time of writing, which differ between the two runs.
    settlement_fields = tuple(c for c in SETTLEMENT_COLUMNS if c not in ("id", "period_id", "run_id", "computed_at"))
    line_fields = tuple(c for c in LINE_COLUMNS if c != "settlement_id")
    out = []
    for settlement in Settlement.objects.filter(period__start=dt.date(2026, 10, 1)).order_by("partner_id"):
        lines = SettlementLine.objects.filter(settlement=settlement).order_by("position").values_list(*line_fields)
        out.append((tuple(getattr(settlement, f) for f in settlement_fields), list(lines)))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_month_settled_by_sql_and_by_python_is_identical(seed, settings, run_settlement, head_office_branch):
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

    settings.SETTLEMENT_COMPUTE_IN_DATABASE = False
    assert run_settlement("2026-10", kind=RunKind.ACCRUAL).state == RunState.COMPLETED
    by_python = _snapshot()
    settings.SETTLEMENT_COMPUTE_IN_DATABASE = True
    run = run_settlement("2026-10", kind=RunKind.ACCRUAL)
    assert run.state == RunState.COMPLETED, run.error
    by_sql = _snapshot()

    kinds = {line[1] for _settlement, lines in by_sql for line in lines}
    assert kinds == {"product", "adjustment", "carry_forward", "dispute_resolution"}
    assert {s[0][0] for s in by_sql} == {p.pk for p in [*partners, small]}
    assert by_sql == by_python
    closed = run_settlement("2026-10")
    assert closed.state == RunState.COMPLETED, closed.error
    # The close settles the same window: the same rows, now closed.
    after_close = _snapshot()
    assert {fields[1] for fields, _lines in after_close} == {SettlementState.CLOSED}
    assert [(fields[:1] + fields[2:], lines) for fields, lines in after_close] == [
        (fields[:1] + fields[2:], lines) for fields, lines in by_sql
    ]
