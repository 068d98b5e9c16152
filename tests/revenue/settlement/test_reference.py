"""Generated months: the production close (SQL aggregation, exact integer sums, chunks) gives cent-identical
results to a straightforward Python computation over the rows, and conservation holds.

The reference deliberately takes the other path for every figure: it reads each attribution through the
ORM, sums the Decimal values in Python, resolves the agreement with the ledger's selector and calls the
pure share function per partner. The production path sums integer fen in the database (PostgreSQL numeric
or SQLite integers) and computes per chunk of partners.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.money import ZERO, round_money
from core.periods import Period
from demo.generator import PartnerRef, ProductRef, generate_rows
from demo.revenue import demo_products_by_partner_type, revenue_demo_setup
from onboarding.models import AdmissionState, Partner, PartnerType
from revenue.calculations import LineFigures, partner_shares_compute
from revenue.ledger.models import Product, TransactionAttribution
from revenue.ledger.selectors import agreement_versions_for_partners, share_rule_from_version
from revenue.settlement.choices import LineKind, RunState
from revenue.settlement.models import Settlement, SettlementLine
from revenue.settlement.selectors import settlement_period_conservation
from tests.factories import PartnerFactory
from tests.revenue.factories import active_partner
from tests.revenue.settlement.conftest import D, agreement, book, reversal, row

MINIMUM = D("100.00")


def reference_shares(period: Period) -> dict[int, dict[int, Decimal]]:
    """Per partner and product, the share of everything of the month booked so far, the plain way."""
    figures: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(lambda: [D(0), D(0), D(0)]))
    for a in TransactionAttribution.objects.filter(occurred_at__gte=period.start, occurred_at__lt=period.end):
        if not a.partner_active:
            continue
        f = figures[a.partner_id][a.product_id]
        f[0] += -a.weight if a.is_reversal else a.weight
        f[1] += a.amount
        f[2] += a.bank_revenue
    types = dict(Partner.objects.values_list("pk", "partner_type"))
    last_day = period.next().first_day - dt.timedelta(days=1)
    versions = agreement_versions_for_partners(partners=[(p, types[p]) for p in figures], on=last_day)
    out = {}
    for partner_id, per_product in figures.items():
        rules = {
            product: share_rule_from_version(versions[(partner_id, product)])
            for product in per_product
            if (partner_id, product) in versions
        }
        lines = partner_shares_compute(
            rules=rules,
            figures={p: LineFigures(bank_revenue=f[2], volume=f[1], count=f[0]) for p, f in per_product.items()},
        )
        out[partner_id] = {product: line.share for product, line in lines.items()}
    return out


def reference_totals(
    shares: dict[int, Decimal], vat_rate: Decimal, carried: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    net = sum(shares.values(), ZERO) + carried
    if net != 0 and (net < 0 or net < MINIMUM):
        return net, ZERO, ZERO
    vat = ZERO if net == 0 else round_money(net * vat_rate)
    return net, vat, net + vat if net else ZERO


def settled_shares(period: Period) -> dict[int, dict[int, Decimal]]:
    """What all closes so far settled per partner and product for the month (product lines and adjustments)."""
    out: dict[int, dict[int, Decimal]] = defaultdict(lambda: defaultdict(lambda: D("0.00")))
    lines = SettlementLine.objects.filter(
        kind__in=[LineKind.PRODUCT, LineKind.ADJUSTMENT], settlement__state="closed"
    ).select_related("settlement__period")
    for line in lines:
        month = line.corrects_period or line.settlement.period.start
        if month == period.first_day:
            out[line.settlement.partner_id][line.product_id] += line.share
    return out


def _same_nonzero(settled, expected) -> bool:
    keys = {(p, k) for p, s in settled.items() for k in s} | {(p, k) for p, s in expected.items() for k in s}
    diff = {key: (settled[key[0]][key[1]], expected.get(key[0], {}).get(key[1], ZERO)) for key in keys}
    bad = {key: v for key, v in diff.items() if v[0] != v[1]}
    assert not bad, bad
    return True


# ---- a realistic generated month (seeded) ----------------------------------------------------------


@pytest.fixture
def alliance(db, branch_a):
    revenue_demo_setup()
    partners = [active_partner(partner_type=t, branch=branch_a) for t in PartnerType.values for _ in range(2)]
    dormant = PartnerFactory(partner_type=PartnerType.HARDWARE, branch=branch_a, state=AdmissionState.CONTRACTED)
    sold = demo_products_by_partner_type()
    return (
        [PartnerRef(p.credit_code, p.partner_type, sold.get(p.partner_type, ())) for p in partners],
        [PartnerRef(dormant.credit_code, dormant.partner_type, ())],
    )


@pytest.mark.parametrize("seed", [7, 2026])
def test_a_generated_month_settles_cent_identical_to_the_reference(alliance, seed, run_settlement, settings):
    settings.SETTLEMENT_CHUNK_PARTNERS = 4
    partners, dormant = alliance
    products = [ProductRef(code, kind) for code, kind in Product.objects.values_list("code", "revenue_kind")]
    rows = list(
        generate_rows(
            period=Period(2026, 10),
            count=600,
            partners=partners,
            products=products,
            inactive_partners=dormant,
            seed=seed,
        )
    )
    book(*rows, source="generated")
    assert TransactionAttribution.objects.filter(partner_active=False).exists()
    assert TransactionAttribution.objects.filter(is_reversal=True).exists()

    for month in ("2026-09", "2026-10"):  # the generator's late events make September a month of its own
        run = run_settlement(month)
        assert run.state == RunState.COMPLETED, run.error
        period = Period.parse(month)
        expected = reference_shares(period)
        # Nets left unpaid by the previous month come back (the plain way: read its settlements).
        carried = dict(
            Settlement.objects.filter(period__start=period.previous().first_day, carried_forward=True).values_list(
                "partner_id", "net"
            )
        )
        for settlement in Settlement.objects.filter(period__start=period.first_day).select_related("partner"):
            lines = {line.product_id: line.share for line in settlement.lines.filter(kind=LineKind.PRODUCT)}
            assert lines == expected.get(settlement.partner_id, {}), settlement
            net, vat, payable = reference_totals(
                lines, settlement.partner.vat_rate, carried.get(settlement.partner_id, ZERO)
            )
            assert (settlement.net, settlement.vat, settlement.payable) == (net, vat, payable)
        assert Settlement.objects.filter(period__start=period.first_day).count() == len(set(expected) | set(carried))
        conservation = settlement_period_conservation(period=period)
        assert conservation.holds
        assert run.share_total + run.retained_total == run.bank_revenue_total
        assert (
            run.attributions_count
            == TransactionAttribution.objects.filter(occurred_at__gte=period.start, occurred_at__lt=period.end).count()
        )


# ---- hypothesis: months with late events and reversals across two closes --------------------------

RULES = {
    "percentage": {"rule_kind": "percentage", "rate": D("0.300000")},
    "fixed": {"rule_kind": "fixed_per_transaction", "fixed_amount": D("2.50")},
    "progressive": {
        "rule_kind": "tiered_progressive",
        "tier_basis": "product_volume",
        "tiers": [("0", "5000", "0.1"), ("5000", None, "0.3")],
        "cap": D("400.00"),
    },
    "retroactive": {
        "rule_kind": "tiered_retroactive",
        "tier_basis": "total_revenue",
        "tiers": [("0", "300", "0.15"), ("300", None, "0.25")],
        "floor": D("5.00"),
    },
}

event = st.fixed_dictionaries(
    {
        "partner": st.integers(0, 2),
        "other": st.none() | st.integers(0, 2),
        "product": st.sampled_from(["PAY_SETTLE", "SCF_LOAN"]),
        "revenue": st.integers(0, 60_000),
        "amount": st.integers(0, 900_000),
        "day": st.integers(1, 28),
    }
)


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@pytest.fixture
def trio(pay, loan):
    return [active_partner() for _ in range(3)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rules=st.tuples(st.sampled_from(sorted(RULES)), st.sampled_from(sorted(RULES))),
    before=st.lists(event, min_size=1, max_size=10),
    after=st.lists(event, max_size=8),
    reverse=st.lists(st.tuples(st.integers(0, 9), st.booleans()), max_size=4),
)
def test_generated_months_conserve_and_adjust_exactly(trio, pay, loan, run_settlement, rules, before, after, reverse):
    with transaction.atomic():
        for product, rule in zip((pay, loan), rules, strict=True):
            terms = dict(RULES[rule])
            agreement(product, **terms)

        def rows(events, prefix, month):
            out = []
            for i, e in enumerate(events):
                partner = trio[e["partner"]].credit_code
                if e["other"] is not None and e["other"] != e["partner"]:
                    partner = f"{partner}:0.6;{trio[e['other']].credit_code}:0.4"
                at = f"2026-{month:02d}-{e['day']:02d}T12:00:00+08:00"
                out.append(
                    row(
                        partner,
                        f"{prefix}{i}",
                        product=e["product"],
                        revenue=_yuan(e["revenue"]),
                        amount=_yuan(e["amount"]),
                        at=at,
                    )
                )
            return out

        # September's events, closed; then late September events, October's, and reversals of September
        # events dated in September (late) or in October.
        book(*rows(before, "S", 9))
        assert run_settlement("2026-09").state == RunState.COMPLETED
        late = rows(after, "L", 9) + rows(after, "O", 10)
        reversals = [
            reversal(f"R{i}", f"S{i}", at="2026-09-29T12:00:00+08:00" if in_september else "2026-10-02T12:00:00+08:00")
            for i, in_september in dict(reverse).items()
            if i < len(before)
        ]
        if late:
            book(*late)
        if reversals:
            book(*reversals)
        october = run_settlement("2026-10")
        assert october.state == RunState.COMPLETED, october.error

        for month in (Period(2026, 9), Period(2026, 10)):
            assert settlement_period_conservation(period=month).holds
            # Σ of what every close settled for the month = the month's share computed on all its rows.
            _same_nonzero(settled_shares(month), reference_shares(month))
        assert october.share_total + october.retained_total == october.bank_revenue_total
        transaction.set_rollback(True)
