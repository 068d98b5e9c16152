"""The demo product catalogue and default revenue-share agreements per partner type (idempotent).

One of each rule kind appears among the defaults: percentages, a fixed
amount per account opened, progressive and retroactive tiers with explicit
bases, a floor and a cap. Running it again changes nothing that exists.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from onboarding.models import PartnerType
from revenue.ledger.choices import RevenueKind, RuleKind, TierBasis
from revenue.ledger.models import Agreement, Product, SourceSystem
from revenue.ledger.services.agreements import agreement_create, agreement_version_create, product_create
from revenue.ledger.services.ingestion import source_system_register

DEMO_FROM = dt.date(2026, 1, 1)
D = Decimal

DEMO_PRODUCTS = (
    ("ACCOUNT", "对公账户开立", RevenueKind.FEE, "Corporate account opening and account services."),
    ("PAY_SETTLE", "支付结算", RevenueKind.FEE, "Payments, collection and compliant settlement for merchants."),
    ("SCF_LOAN", "供应链贷款", RevenueKind.INTEREST_MARGIN, "Supply-chain loans to upstream and downstream SMEs."),
    ("EQUIP_LOAN", "设备贷款", RevenueKind.INTEREST_MARGIN, "Loans against connected equipment's operating data."),
    ("WEALTH", "理财代销", RevenueKind.COMMISSION, "Wealth products distributed to SMEs and their owners."),
)


def _pct(rate, **kw):
    return {"rule_kind": RuleKind.PERCENTAGE, "rate": D(rate), **kw}


def _fixed(amount, **kw):
    return {"rule_kind": RuleKind.FIXED_PER_TRANSACTION, "fixed_amount": D(amount), **kw}


def _tiered(kind, basis, tiers, **kw):
    return {"rule_kind": kind, "tier_basis": basis, "tiers": tiers, **kw}


# Per partner type, the products it distributes and the default terms for each.
DEMO_DEFAULTS = {
    PartnerType.INTERNET_PLATFORM: {
        "PAY_SETTLE": _tiered(
            RuleKind.TIERED_PROGRESSIVE,
            TierBasis.PRODUCT_VOLUME,
            [("0", "10000000", "0.20"), ("10000000", "100000000", "0.25"), ("100000000", None, "0.30")],
        ),
        "ACCOUNT": _fixed("20.00"),
        "WEALTH": _pct("0.25"),
    },
    PartnerType.SOFTWARE_DATA: {
        "PAY_SETTLE": _pct("0.25"),
        "ACCOUNT": _fixed("30.00"),
        "SCF_LOAN": _pct("0.15", cap=D("200000.00")),
    },
    PartnerType.HARDWARE: {
        "EQUIP_LOAN": _tiered(
            RuleKind.TIERED_RETROACTIVE,
            TierBasis.TOTAL_REVENUE,
            [("0", "50000", "0.10"), ("50000", None, "0.15")],
            floor=D("500.00"),
        ),
        "PAY_SETTLE": _pct("0.20"),
    },
    PartnerType.SUPPLY_CHAIN: {
        "SCF_LOAN": _pct("0.20", cap=D("300000.00")),
        "PAY_SETTLE": _pct("0.25"),
        "ACCOUNT": _fixed("25.00"),
    },
    PartnerType.PE_VC: {
        "WEALTH": _pct("0.30"),
        "ACCOUNT": _fixed("50.00"),
        "SCF_LOAN": _tiered(
            RuleKind.TIERED_RETROACTIVE, TierBasis.PRODUCT_REVENUE, [("0", "100000", "0.10"), ("100000", None, "0.12")]
        ),
    },
}


# The demo's transactions come from its generator (manage.py generate_transactions --source demo).
DEMO_SOURCES = [("demo", "演示交易生成器")]


@transaction.atomic
def revenue_demo_setup() -> dict[str, int]:
    """Create what is missing of the demo catalogue and defaults. Returns how many of each were created."""
    created = {"products": 0, "agreements": 0, "source systems": 0}
    for code, name in DEMO_SOURCES:
        if not SourceSystem.objects.filter(code=code).exists():
            source_system_register(code=code, name=name, by=None)
            created["source systems"] += 1
    products = {p.code: p for p in Product.objects.filter(code__in=[c for c, *_ in DEMO_PRODUCTS])}
    for code, name, kind, description in DEMO_PRODUCTS:
        if code not in products:
            products[code] = product_create(code=code, name=name, revenue_kind=kind, description=description, by=None)
            created["products"] += 1
    existing = set(Agreement.objects.filter(partner__isnull=True).values_list("partner_type", "product__code"))
    for partner_type, terms_by_product in DEMO_DEFAULTS.items():
        for code, terms in terms_by_product.items():
            if (partner_type, code) in existing:
                continue
            agreement = agreement_create(
                product=products[code], partner_type=partner_type, reference=f"DEMO-{code}", by=None
            )
            agreement_version_create(agreement=agreement, valid_from=DEMO_FROM, by=None, **terms)
            created["agreements"] += 1
    return created


def demo_products_by_partner_type() -> dict[str, tuple[str, ...]]:
    """Which products each partner type has a default agreement for (what the generator sells through it)."""
    out: dict[str, list[str]] = {}
    for partner_type, code in Agreement.objects.filter(partner__isnull=True).values_list(
        "partner_type", "product__code"
    ):
        out.setdefault(partner_type, []).append(code)
    return {k: tuple(sorted(v)) for k, v in out.items()}
