"""Factories and helpers for the revenue tests: products, agreements, active partners and transaction rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from core.periods import CHINA_TZ
from onboarding.models import AdmissionState, Partner, PartnerActivePeriod, PartnerType
from revenue.ledger.choices import RevenueKind, RuleKind
from revenue.ledger.models import Agreement, AgreementTier, AgreementVersion, Product, SourceSystem
from tests.factories import PartnerFactory


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"PROD_{n}")
    name = factory.Sequence(lambda n: f"产品{n}")
    revenue_kind = RevenueKind.FEE


class SourceSystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SourceSystem
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"source{n}")
    name = factory.LazyAttribute(lambda o: f"源系统 {o.code}")


def registered(source: str) -> str:
    """The code of a registered source system (registered now if it was not)."""
    return SourceSystemFactory(code=source).code


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agreement

    product = factory.SubFactory(ProductFactory)
    partner_type = PartnerType.SOFTWARE_DATA


class AgreementVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgreementVersion

    agreement = factory.SubFactory(AgreementFactory)
    number = factory.Sequence(lambda n: n + 1)
    valid_from = dt.date(2026, 1, 1)
    rule_kind = RuleKind.PERCENTAGE
    rate = Decimal("0.300000")


def make_tiers(version: AgreementVersion, brackets) -> None:
    AgreementTier.objects.bulk_create(
        AgreementTier(version=version, lower_bound=Decimal(lo), upper_bound=None if hi is None else Decimal(hi), rate=r)
        for lo, hi, r in brackets
    )


def beijing(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CHINA_TZ)


def make_active(partner: Partner, *, since: dt.datetime | None = None, until: dt.datetime | None = None) -> Partner:
    """Put a partner in the active state with an active period, without going through admission."""
    Partner.objects.filter(pk=partner.pk).update(state=AdmissionState.ACTIVE)
    PartnerActivePeriod.objects.create(partner=partner, started_at=since or beijing(2026, 1, 1), ended_at=until)
    partner.refresh_from_db()
    return partner


def active_partner(**kwargs) -> Partner:
    since = kwargs.pop("since", None)
    return make_active(PartnerFactory(**kwargs), since=since)


def txn_row(partner: Partner | str, external_id: str, **fields) -> dict:
    """A transaction row as a source system would send it (text values)."""
    code = partner if isinstance(partner, str) else partner.credit_code
    row = {
        "external_id": external_id,
        "partner": code,
        "sme_id": "SME001",
        "sme_name": "深圳市宏达贸易有限公司",
        "product": "PAY_SETTLE",
        "amount": "1000.00",
        "bank_revenue": "6.00",
        "occurred_at": "2026-10-08T10:00:00+08:00",
    }
    row.update(fields)
    return row


def reversal_row(external_id: str, reverses: str, **fields) -> dict:
    row = {"external_id": external_id, "kind": "reversal", "reverses": reverses, "occurred_at": "2026-10-20T09:00:00"}
    row.update(fields)
    return row
