"""Agreements: versions that never overlap, sound tier brackets, frozen versions, defaults and overrides."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from onboarding.models import PartnerType
from revenue.ledger.choices import RevenueKind, RuleKind, TierBasis
from revenue.ledger.errors import AgreementOverlap, AgreementVersionLocked, NotPermitted
from revenue.ledger.models import Agreement, AgreementTier, AgreementVersion
from revenue.ledger.selectors import agreement_versions_for_partners, share_rule_from_version
from revenue.ledger.services import (
    agreement_create,
    agreement_version_create,
    agreement_version_delete,
    agreement_version_supersede,
    agreement_version_update,
    agreement_versions_lock,
    product_create,
)
from tests.revenue.factories import beijing

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
D = Decimal
JAN, JUL, OCT = dt.date(2026, 1, 1), dt.date(2026, 7, 1), dt.date(2026, 10, 1)
SLABS = [("0", "100000", "0.10"), ("100000", None, "0.20")]


@pytest.fixture
def agreement(pay, head_office):
    return agreement_create(product=pay, partner_type=PartnerType.SOFTWARE_DATA, by=head_office)


def pct(agreement, by, valid_from=JAN, valid_to=None, rate="0.30", **kw):
    return agreement_version_create(
        agreement=agreement,
        valid_from=valid_from,
        valid_to=valid_to,
        rule_kind=RuleKind.PERCENTAGE,
        rate=D(rate),
        by=by,
        **kw,
    )


def test_versions_are_numbered_and_may_follow_each_other(agreement, head_office):
    first = pct(agreement, head_office, JAN, JUL)
    second = pct(agreement, head_office, JUL, None, rate="0.35")
    assert (first.number, second.number) == (1, 2)
    assert first.created_by == head_office


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (dt.date(2026, 6, 30), None),
        (dt.date(2025, 12, 1), dt.date(2026, 1, 2)),
        (dt.date(2026, 3, 1), dt.date(2026, 4, 1)),
    ],
)
def test_overlapping_versions_are_refused(agreement, head_office, start, end):
    pct(agreement, head_office, JAN, JUL)
    with pytest.raises(AgreementOverlap):
        pct(agreement, head_office, start, end)
    assert agreement.versions.count() == 1


def test_an_open_ended_version_blocks_any_later_start(agreement, head_office):
    pct(agreement, head_office, JAN)
    with pytest.raises(AgreementOverlap):
        pct(agreement, head_office, dt.date(2030, 1, 1))


def test_a_change_of_terms_is_a_new_version(agreement, head_office):
    first = pct(agreement, head_office, JAN)
    second = agreement_version_supersede(
        agreement=agreement, valid_from=OCT, rule_kind=RuleKind.PERCENTAGE, rate=D("0.40"), by=head_office
    )
    first.refresh_from_db()
    assert (first.valid_to, second.valid_from, second.valid_to, second.number) == (OCT, OCT, None, 2)


def test_tier_brackets_must_be_contiguous_from_zero(agreement, head_office):
    def tiered(tiers):
        return agreement_version_create(
            agreement=agreement,
            valid_from=JAN,
            rule_kind=RuleKind.TIERED_PROGRESSIVE,
            tier_basis=TierBasis.PRODUCT_VOLUME,
            tiers=tiers,
            by=head_office,
        )

    with pytest.raises(ValidationError) as gap:
        tiered([("0", "100", "0.1"), ("150", None, "0.2")])
    assert "Gap" in str(gap.value.message_dict["tiers"])
    with pytest.raises(ValidationError) as overlap:
        tiered([("0", "100", "0.1"), ("50", None, "0.2")])
    assert "overlap" in str(overlap.value.message_dict["tiers"])
    with pytest.raises(ValidationError):
        tiered([("10", None, "0.1")])
    assert not AgreementVersion.objects.exists()

    version = tiered(SLABS)
    assert list(version.tiers.values_list("lower_bound", "upper_bound", "rate")) == [
        (D("0"), D("100000"), D("0.10")),
        (D("100000"), None, D("0.20")),
    ]
    version.full_clean()  # the model's own check of its saved slabs


def test_the_model_check_finds_broken_saved_brackets(agreement, head_office):
    version = agreement_version_create(
        agreement=agreement,
        valid_from=JAN,
        rule_kind=RuleKind.TIERED_RETROACTIVE,
        tier_basis=TierBasis.TOTAL_VOLUME,
        tiers=SLABS,
        by=head_office,
    )
    AgreementTier.objects.filter(version=version, lower_bound=D("100000")).update(lower_bound=D("200000"))
    with pytest.raises(ValidationError, match="Gap"):
        version.full_clean()


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"rule_kind": RuleKind.PERCENTAGE}, "__all__"),  # no rate
        ({"rule_kind": RuleKind.PERCENTAGE, "rate": D("1.5")}, "__all__"),
        ({"rule_kind": RuleKind.FIXED_PER_TRANSACTION, "rate": D("0.1")}, "__all__"),
        ({"rule_kind": RuleKind.PERCENTAGE, "rate": D("0.1"), "tiers": SLABS}, "tiers"),
        ({"rule_kind": RuleKind.PERCENTAGE, "rate": D("0.1"), "floor": D("10"), "cap": D("5")}, "__all__"),
        ({"rule_kind": RuleKind.PERCENTAGE, "rate": D("0.1"), "valid_to": dt.date(2025, 1, 1)}, "__all__"),
    ],
)
def test_rule_fields_must_fit_the_rule(agreement, head_office, terms, field):
    with pytest.raises(ValidationError) as caught:
        agreement_version_create(agreement=agreement, valid_from=JAN, by=head_office, **terms)
    assert field in caught.value.message_dict


def test_a_version_used_in_a_settlement_is_frozen(agreement, head_office):
    version = pct(agreement, head_office, JAN)
    assert agreement_versions_lock(versions=[version], at=beijing(2026, 11, 1, 2)) == 1
    assert agreement_versions_lock(versions=[version]) == 0  # the first lock's time stays
    version.refresh_from_db()
    assert version.locked_at == beijing(2026, 11, 1, 2)

    with pytest.raises(AgreementVersionLocked):
        agreement_version_update(version=version, rate=D("0.50"), by=head_office)
    with pytest.raises(AgreementVersionLocked):
        agreement_version_update(
            version=version, valid_to=dt.date(2026, 10, 15), by=head_office
        )  # cuts a settled month
    with pytest.raises(AgreementVersionLocked):
        agreement_version_delete(version=version, by=head_office)
    version.refresh_from_db()
    assert (version.rate, version.valid_to) == (D("0.300000"), None)

    # What is left: close it from the lock on, and carry on with a new version.
    newer = agreement_version_supersede(
        agreement=agreement,
        valid_from=dt.date(2026, 12, 1),
        rule_kind=RuleKind.PERCENTAGE,
        rate=D("0.5"),
        by=head_office,
    )
    version.refresh_from_db()
    assert version.valid_to == dt.date(2026, 12, 1) and newer.number == 2


def test_an_unused_version_can_be_corrected_or_removed(agreement, head_office):
    version = pct(agreement, head_office, JAN)
    agreement_version_update(version=version, rate=D("0.25"), valid_to=JUL, by=head_office)
    version.refresh_from_db()
    assert (version.rate, version.valid_to) == (D("0.25"), JUL)
    agreement_version_delete(version=version, by=head_office)
    assert not agreement.versions.exists()


def test_only_head_office_sets_agreements(pay, rm_a, finance, head_office):
    with pytest.raises(NotPermitted):
        product_create(code="NEW", name="新产品", revenue_kind=RevenueKind.FEE, by=rm_a)
    with pytest.raises(NotPermitted):
        agreement_create(product=pay, partner_type=PartnerType.HARDWARE, by=finance)
    agreement = agreement_create(product=pay, partner_type=PartnerType.HARDWARE, by=head_office)
    with pytest.raises(NotPermitted):
        pct(agreement, rm_a)
    version = pct(agreement, head_office)
    with pytest.raises(NotPermitted):
        agreement_version_update(version=version, rate=D("0.9"), by=rm_a)


def test_one_default_per_type_and_one_own_agreement_per_partner(pay, partner_x, head_office):
    agreement_create(product=pay, partner_type=PartnerType.HARDWARE, by=head_office)
    with pytest.raises(ValidationError):
        agreement_create(product=pay, partner_type=PartnerType.HARDWARE, by=head_office)
    agreement_create(product=pay, partner=partner_x, by=head_office)
    with pytest.raises(ValidationError):
        agreement_create(product=pay, partner=partner_x, by=head_office)
    with pytest.raises(ValidationError):
        agreement_create(product=pay, by=head_office)  # neither a type nor a partner


def test_a_partners_own_agreement_overrides_its_types_default(pay, loan, partner_x, partner_y, head_office):
    default = agreement_create(product=pay, partner_type=partner_x.partner_type, by=head_office)
    old = pct(default, head_office, JAN, OCT, rate="0.20")
    new = pct(default, head_office, OCT, None, rate="0.25")
    own = agreement_create(product=pay, partner=partner_x, by=head_office)
    own_version = pct(own, head_office, JUL, None, rate="0.40")
    loan_default = agreement_create(product=loan, partner_type=PartnerType.HARDWARE, by=head_office)
    pct(loan_default, head_office, JAN)
    partners = [(partner_x.pk, partner_x.partner_type), (partner_y.pk, partner_y.partner_type)]
    assert partner_x.partner_type == partner_y.partner_type == PartnerType.SOFTWARE_DATA

    in_june = agreement_versions_for_partners(partners=partners, on=dt.date(2026, 6, 30))
    assert in_june == {(partner_x.pk, pay.pk): old, (partner_y.pk, pay.pk): old}
    in_october = agreement_versions_for_partners(partners=partners, on=OCT)
    assert in_october == {(partner_x.pk, pay.pk): own_version, (partner_y.pk, pay.pk): new}
    # Software vendors have no loan agreement: no key, no share.
    assert (partner_x.pk, loan.pk) not in in_october
    assert share_rule_from_version(in_october[(partner_y.pk, pay.pk)]).rate == D("0.25")


def test_share_rules_carry_the_tiers(agreement, head_office):
    version = agreement_version_create(
        agreement=agreement,
        valid_from=JAN,
        rule_kind=RuleKind.TIERED_RETROACTIVE,
        tier_basis=TierBasis.PRODUCT_REVENUE,
        tiers=SLABS,
        cap=D("500.00"),
        by=head_office,
    )
    rule = share_rule_from_version(version)
    assert (rule.kind, rule.tier_basis, rule.cap, rule.version_id) == (
        RuleKind.TIERED_RETROACTIVE,
        TierBasis.PRODUCT_REVENUE,
        D("500.00"),
        version.pk,
    )
    assert [(t.lower, t.upper, t.rate) for t in rule.tiers] == [
        (D(0), D(100000), D("0.1")),
        (D(100000), None, D("0.2")),
    ]


@pytest.mark.postgres
def test_the_database_refuses_overlapping_versions(agreement, head_office):
    """On PostgreSQL an exclusion constraint; on SQLite only the locked service check stands guard."""
    pct(agreement, head_office, JAN, JUL)
    clash = AgreementVersion(
        agreement=agreement, number=9, valid_from=dt.date(2026, 3, 1), rule_kind="percentage", rate=1
    )
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError, match="ledger_version_no_overlap"), transaction.atomic():
            clash.save()
    else:
        with pytest.raises(AgreementOverlap):
            pct(agreement, head_office, dt.date(2026, 3, 1))


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="concurrent writers need a server database")
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_of_one_agreement_cannot_both_win(head_office):
    from tests.revenue.factories import ProductFactory

    product = ProductFactory(code="RACE")
    agreement = Agreement.objects.create(product=product, partner_type=PartnerType.HARDWARE)
    barrier = threading.Barrier(2)
    outcomes = []

    def writer(start):
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                version = pct(agreement, head_office, start)
            outcomes.append(("ok", version.number))
        except AgreementOverlap:
            outcomes.append(("overlap", None))
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(d,)) for d in (JAN, JUL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(o for o, _ in outcomes) == ["ok", "overlap"]
    assert AgreementVersion.objects.filter(agreement=agreement).count() == 1
    assert timezone.now()  # the database stayed usable
