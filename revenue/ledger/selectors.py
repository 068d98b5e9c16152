"""Reads of the revenue domain: agreements in force, and scoped lists of the ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Prefetch, Q, QuerySet

from core.periods import Period
from organisation.models import User
from organisation.services import user_sees_all_branches
from revenue.calculations import ShareRule, TierBracket
from revenue.ledger.models import AgreementTier, AgreementVersion, Transaction, TransactionAttribution


def agreement_versions_overlapping(
    *, agreement_id: int, valid_from: dt.date, valid_to: dt.date | None, exclude_pk: int | None = None
) -> QuerySet[AgreementVersion]:
    """Versions of the agreement in force on any day of ``[valid_from, valid_to)`` (``None`` = open-ended)."""
    qs = AgreementVersion.objects.filter(agreement_id=agreement_id)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    qs = qs.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=valid_from))
    if valid_to is not None:
        qs = qs.filter(valid_from__lt=valid_to)
    return qs.order_by("valid_from")


def agreement_versions_in_force(*, on: dt.date) -> QuerySet[AgreementVersion]:
    """Every agreement's version in force on a day, with its agreement and tiers loaded."""
    return (
        AgreementVersion.objects.filter(valid_from__lte=on)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=on))
        .select_related("agreement")
        .prefetch_related(Prefetch("tiers", queryset=AgreementTier.objects.order_by("lower_bound")))
    )


def agreement_versions_by_owner(
    *, on: dt.date
) -> tuple[dict[tuple[str, int], AgreementVersion], dict[tuple[int, int], AgreementVersion]]:
    """The versions in force on a day, split into partner types' defaults and partners' own.

    ``({(partner type, product): version}, {(partner id, product): version})``; two queries.
    """
    own: dict[tuple[int, int], AgreementVersion] = {}
    defaults: dict[tuple[str, int], AgreementVersion] = {}
    for version in agreement_versions_in_force(on=on):
        agreement = version.agreement
        if agreement.partner_id is None:
            defaults[(agreement.partner_type, agreement.product_id)] = version
        else:
            own[(agreement.partner_id, agreement.product_id)] = version
    return defaults, own


def agreement_versions_for_partners(
    *, partners: Iterable[tuple[int, str]], on: dt.date
) -> dict[tuple[int, int], AgreementVersion]:
    """The version that governs each partner's share of each product on a day.

    ``partners`` are ``(partner id, partner type)`` pairs. A partner's own
    agreement for a product overrides its type's default; a product without
    either earns that partner nothing (no key in the result). Three queries
    whatever the number of partners.
    """
    partners = list(partners)
    wanted = {pid for pid, _ in partners}
    defaults, own = agreement_versions_by_owner(on=on)
    result: dict[tuple[int, int], AgreementVersion] = {}
    for partner_id, partner_type in partners:
        for (ptype, product_id), version in defaults.items():
            if ptype == partner_type:
                result[(partner_id, product_id)] = version
    result.update({key: version for key, version in own.items() if key[0] in wanted})
    return result


def share_rule_from_version(version: AgreementVersion) -> ShareRule:
    """The pure computation's view of a version (uses prefetched tiers when present)."""
    return ShareRule(
        kind=version.rule_kind,
        rate=version.rate,
        fixed_amount=version.fixed_amount,
        tier_basis=version.tier_basis or None,
        tiers=tuple(TierBracket(t.lower_bound, t.upper_bound, t.rate) for t in version.tiers.all()),
        floor=version.floor,
        cap=version.cap,
        version_id=version.pk,
    )


def agreement_version_list(*, user: User) -> QuerySet[AgreementVersion]:
    """Agreement versions a member of staff may see: the partner types' defaults, and partners' own agreements
    for the partners the user sees (every branch's for head office and finance, their branch's otherwise)."""
    from onboarding.selectors import partner_list

    qs = AgreementVersion.objects.select_related("agreement__product", "agreement__partner")
    if user_sees_all_branches(user):
        return qs
    return qs.filter(Q(agreement__partner__isnull=True) | Q(agreement__partner__in=partner_list(user=user)))


def transaction_list(*, user: User) -> QuerySet[Transaction]:
    """Transactions a member of staff may see: every branch's for head office and finance, their own otherwise."""
    qs = Transaction.objects.all()
    if user_sees_all_branches(user):
        return qs
    if user.is_active and user.branch_id:
        return qs.filter(branch_id=user.branch_id)
    return qs.none()


def partner_attribution_list(
    *, partner_id: int, period: Period | None = None, kind: str | None = None
) -> QuerySet[TransactionAttribution]:
    """A partner's own attributions (its part of each transaction), newest first, with the transaction loaded."""
    qs = TransactionAttribution.objects.filter(partner_id=partner_id)
    if period is not None:
        qs = qs.filter(occurred_at__gte=period.start, occurred_at__lt=period.end)
    if kind == "reversal":
        qs = qs.filter(is_reversal=True)
    elif kind == "normal":
        qs = qs.filter(is_reversal=False)
    return qs.select_related("transaction", "transaction__product", "transaction__reverses").order_by(
        "-occurred_at", "-transaction_id"
    )
