"""The product catalogue and revenue-share agreements: creating, versioning and locking them.

Invariants kept here (and by the database where it can):

* two versions of one agreement never overlap — checked under a lock on the
  agreement (see :func:`_lock_agreement`), and on PostgreSQL by an exclusion
  constraint as well;
* tier brackets run contiguously from zero, the last one open-ended;
* a version used by a settlement (``locked_at`` set) is frozen: the only change
  left is to close it (an open end set to a date not before the lock), so that
  a new version can follow. Every other change is a new version.

``by`` is the acting user, whose permissions are checked; ``None`` is the
system itself (demo set-up, settlement runs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.periods import CHINA_TZ
from organisation.models import User
from revenue.calculations import TierBracket, tier_brackets_problems
from revenue.ledger.choices import TIERED_KINDS
from revenue.ledger.errors import AgreementOverlap, AgreementVersionLocked, NotPermitted
from revenue.ledger.models import Agreement, AgreementTier, AgreementVersion, Product
from revenue.ledger.selectors import agreement_versions_overlapping

VERSION_TERMS = ("valid_from", "valid_to", "rule_kind", "rate", "fixed_amount", "tier_basis", "floor", "cap", "note")


def _require(by: User | None, perm: str, message) -> None:
    if by is not None and not by.has_perm(perm):
        raise NotPermitted(message)


def _lock_agreement(agreement: Agreement) -> None:
    """Serialise the version writes of one agreement.

    The first statement of every version write bumps the agreement's revision.
    On PostgreSQL that row lock makes a second writer of the same agreement
    wait until the first commits, so its overlap check sees the first's
    version; on SQLite the update takes the database write lock, with the same
    effect for every writer. Without it two concurrent writers could each find
    no overlap and both insert (the exclusion constraint would still stop one
    of them on PostgreSQL, but not on SQLite).
    """
    Agreement.objects.filter(pk=agreement.pk).update(revision=F("revision") + 1)


def _brackets(tiers: Iterable[Any]) -> list[TierBracket]:
    out = []
    for tier in tiers:
        if isinstance(tier, TierBracket):
            out.append(tier)
        elif isinstance(tier, dict):
            out.append(TierBracket(Decimal(tier["lower"]), _dec(tier.get("upper")), Decimal(tier["rate"])))
        else:
            lower, upper, rate = tier
            out.append(TierBracket(Decimal(lower), _dec(upper), Decimal(rate)))
    return out


def _dec(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(value)


def _validate_version(version: AgreementVersion, brackets: Sequence[TierBracket]) -> None:
    errors: dict[str, list] = {}
    try:
        version.full_clean(exclude=["agreement", "number"], validate_constraints=True)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if version.rule_kind in TIERED_KINDS:
        problems = tier_brackets_problems(brackets)
        if problems:
            errors.setdefault("tiers", []).extend(problems)
    elif brackets:
        errors.setdefault("tiers", []).append(_("Only a tiered rule has slabs."))
    if errors:
        raise ValidationError(errors)


def _check_no_overlap(version: AgreementVersion) -> None:
    clash = agreement_versions_overlapping(
        agreement_id=version.agreement_id,
        valid_from=version.valid_from,
        valid_to=version.valid_to,
        exclude_pk=version.pk,
    ).first()
    if clash is not None:
        raise AgreementOverlap(
            _("Version %(number)s of this agreement is already in force from %(start)s to %(end)s.")
            % {"number": clash.number, "start": clash.valid_from, "end": clash.valid_to or "…"}
        )


def _save(version: AgreementVersion, brackets: Sequence[TierBracket], *, replace_tiers: bool) -> None:
    try:
        with transaction.atomic():
            version.save()
    except IntegrityError as exc:
        if "ledger_version_no_overlap" in str(exc):
            raise AgreementOverlap(_("Another version of this agreement is in force on some of these days.")) from exc
        raise
    if replace_tiers:
        version.tiers.all().delete()
        tiers = [
            AgreementTier(version=version, lower_bound=b.lower, upper_bound=b.upper, rate=b.rate) for b in brackets
        ]
        for tier in tiers:
            tier.full_clean(exclude=["version"])
        AgreementTier.objects.bulk_create(tiers)


@transaction.atomic
def product_create(
    *, code: str, name: str, revenue_kind: str, description: str = "", is_active: bool = True, by: User | None
) -> Product:
    _require(by, "ledger.add_product", _("Only head office maintains the product catalogue."))
    product = Product(code=code.strip(), name=name.strip(), revenue_kind=revenue_kind, description=description)
    product.is_active = is_active
    product.full_clean()
    product.save()
    return product


@transaction.atomic
def product_update(*, product: Product, by: User | None, **changes: Any) -> Product:
    _require(by, "ledger.change_product", _("Only head office maintains the product catalogue."))
    for field, value in changes.items():
        if field not in ("name", "revenue_kind", "description", "is_active"):
            raise ValidationError({field: _("This field cannot be changed.")})
        setattr(product, field, value)
    product.full_clean()
    product.save()
    return product


@transaction.atomic
def agreement_create(
    *,
    product: Product,
    partner_type: str = "",
    partner=None,
    reference: str = "",
    by: User | None,
) -> Agreement:
    """A partner type's default agreement for a product, or (with ``partner``) a partner's own."""
    _require(by, "ledger.add_agreement", _("Only head office sets revenue-share agreements."))
    agreement = Agreement(
        product=product, partner_type=partner_type if partner is None else "", partner=partner, reference=reference
    )
    agreement.created_by = by
    agreement.full_clean()
    agreement.save()
    return agreement


@transaction.atomic
def agreement_update(*, agreement: Agreement, reference: str, by: User | None) -> Agreement:
    """Correct an agreement's contract reference (its scope and product never change)."""
    _require(by, "ledger.change_agreement", _("Only head office sets revenue-share agreements."))
    agreement.reference = reference
    agreement.full_clean()
    agreement.save(update_fields=["reference"])
    return agreement


@transaction.atomic
def agreement_version_create(
    *,
    agreement: Agreement,
    valid_from: dt.date,
    rule_kind: str,
    valid_to: dt.date | None = None,
    rate: Decimal | None = None,
    fixed_amount: Decimal | None = None,
    tier_basis: str = "",
    tiers: Iterable[Any] = (),
    floor: Decimal | None = None,
    cap: Decimal | None = None,
    note: str = "",
    by: User | None,
) -> AgreementVersion:
    """Add a version of an agreement; it must not overlap any other version of the same agreement.

    ``tiers`` are :class:`~revenue.calculations.TierBracket` values, dicts
    with ``lower``/``upper``/``rate`` or ``(lower, upper, rate)`` tuples.
    """
    _require(by, "ledger.add_agreementversion", _("Only head office sets revenue-share agreements."))
    _lock_agreement(agreement)
    brackets = _brackets(tiers)
    number = (AgreementVersion.objects.filter(agreement=agreement).aggregate(n=Max("number"))["n"] or 0) + 1
    version = AgreementVersion(
        agreement=agreement,
        number=number,
        valid_from=valid_from,
        valid_to=valid_to,
        rule_kind=rule_kind,
        rate=rate,
        fixed_amount=fixed_amount,
        tier_basis=tier_basis or "",
        floor=floor,
        cap=cap,
        note=note,
        created_by=by,
    )
    _validate_version(version, brackets)
    _check_no_overlap(version)
    _save(version, brackets, replace_tiers=True)
    return version


def _locked_change_allowed(locked: AgreementVersion, changes: dict[str, Any]) -> bool:
    """A locked version may only be closed: an open end set to a date not before the lock."""
    if set(changes) != {"valid_to"} or locked.valid_to is not None or changes["valid_to"] is None:
        return False
    return changes["valid_to"] >= locked.locked_at.astimezone(CHINA_TZ).date()


@transaction.atomic
def agreement_version_update(
    *, version: AgreementVersion, by: User | None, tiers: Iterable[Any] | None = None, **changes: Any
) -> AgreementVersion:
    """Change the terms of a version not yet used by a settlement (or close a used one).

    ``changes`` are version terms (``valid_from``, ``valid_to``, ``rule_kind``,
    ``rate``, ``fixed_amount``, ``tier_basis``, ``floor``, ``cap``, ``note``);
    ``tiers``, when given, replace the version's slabs.
    """
    _require(by, "ledger.change_agreementversion", _("Only head office sets revenue-share agreements."))
    for field in changes:
        if field not in VERSION_TERMS:
            raise ValidationError({field: _("This field cannot be changed.")})
    _lock_agreement(version.agreement)
    current = AgreementVersion.objects.get(pk=version.pk)
    changes = {k: v for k, v in changes.items() if getattr(current, k) != v}
    if current.is_locked:
        if tiers is not None and _brackets(tiers) != _current_brackets(current):
            raise AgreementVersionLocked(_version_locked_message(current))
        if not changes:
            return current
        if not _locked_change_allowed(current, changes):
            raise AgreementVersionLocked(_version_locked_message(current))
    for field, value in changes.items():
        setattr(current, field, value)
    brackets = _brackets(tiers) if tiers is not None else _current_brackets(current)
    _validate_version(current, brackets)
    _check_no_overlap(current)
    _save(current, brackets, replace_tiers=tiers is not None or current.rule_kind not in TIERED_KINDS)
    return current


def _current_brackets(version: AgreementVersion) -> list[TierBracket]:
    return [TierBracket(t.lower_bound, t.upper_bound, t.rate) for t in version.tiers.order_by("lower_bound")]


def _version_locked_message(version: AgreementVersion):
    return _(
        "Version %(number)s was used in a settlement on %(date)s and can no longer be changed; "
        "close it and add a new version instead."
    ) % {"number": version.number, "date": version.locked_at.astimezone(CHINA_TZ).date()}


@transaction.atomic
def agreement_version_supersede(
    *, agreement: Agreement, valid_from: dt.date, by: User | None, **terms: Any
) -> AgreementVersion:
    """A change of terms from ``valid_from``: close the open-ended version there and add the new one."""
    _require(by, "ledger.add_agreementversion", _("Only head office sets revenue-share agreements."))
    _lock_agreement(agreement)
    current = (
        AgreementVersion.objects.filter(agreement=agreement, valid_to__isnull=True, valid_from__lt=valid_from)
        .order_by("-valid_from")
        .first()
    )
    if current is not None:
        agreement_version_update(version=current, valid_to=valid_from, by=by)
    return agreement_version_create(agreement=agreement, valid_from=valid_from, by=by, **terms)


@transaction.atomic
def agreement_version_delete(*, version: AgreementVersion, by: User | None) -> None:
    """Remove a version that no settlement used (a mistake caught in time)."""
    _require(by, "ledger.delete_agreementversion", _("Only head office sets revenue-share agreements."))
    _lock_agreement(version.agreement)
    current = AgreementVersion.objects.get(pk=version.pk)
    if current.is_locked:
        raise AgreementVersionLocked(_version_locked_message(current))
    current.tiers.all().delete()
    current.delete()


def agreement_versions_lock(*, versions: Iterable[AgreementVersion], at: dt.datetime | None = None) -> int:
    """Mark versions as used by a settlement (for the settlement run). Returns how many were newly locked.

    A compare-and-swap on ``locked_at IS NULL``: the first lock's time stays,
    so a re-run of a settlement does not move it.
    """
    at = at or timezone.now()
    ids = [v.pk for v in versions]
    return AgreementVersion.objects.filter(pk__in=ids, locked_at__isnull=True).update(locked_at=at)
