"""Creating and editing partners (admission cases) and changing their tier."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm_log.models import StateLog

from onboarding.errors import ConcurrentChange, InvalidState, NotPermitted
from onboarding.models import (
    EDITABLE_STATES,
    EvidenceItem,
    EvidenceRequirement,
    Partner,
    PartnerTier,
    PartnerTierChange,
    RiskRating,
)
from onboarding.policies import Action, authorise
from onboarding.selectors import evidence_requirements
from organisation.models import Branch, User
from organisation.roles import Role
from organisation.services import user_sees_all_branches

_RISK_ORDER = {RiskRating.LOW: 0, RiskRating.MEDIUM: 1, RiskRating.HIGH: 2}

# Fields an RM fills in and may correct while the case is a draft or sent back for information.
EDITABLE_FIELDS = (
    "partner_type",
    "legal_name",
    "credit_code",
    "legal_representative",
    "registered_capital",
    "contact_name",
    "contact_phone",
    "contact_email",
    "settlement_account_name",
    "settlement_bank",
    "settlement_account_no",
    "branch",
    "relationship_manager",
    "risk_rating",
    "vat_rate",
)


def relationship_manager_ids(*, user_ids: Iterable[int]) -> set[int]:
    """Which of these users are active relationship managers (one query)."""
    return set(
        User.objects.filter(pk__in=set(user_ids), is_active=True, groups__name=Role.BRANCH_RM.value).values_list(
            "pk", flat=True
        )
    )


def _check_owners(*, by: User, owners: Sequence[tuple[Branch, User]]) -> None:
    """Each (branch, RM) pair: the branch within the acting user's scope, the RM an active RM of that branch."""
    if not user_sees_all_branches(by):
        for branch, _rm in owners:
            if branch.pk != by.branch_id:
                raise NotPermitted(
                    _("You can only create or move partners in your own branch (%(branch)s).") % {"branch": by.branch}
                )
    rm_ids = relationship_manager_ids(user_ids=(rm.pk for _branch, rm in owners))
    for branch, rm in owners:
        if rm.pk not in rm_ids or rm.branch_id != branch.pk:
            raise ValidationError(
                {
                    "relationship_manager": _("%(user)s is not a relationship manager of %(branch)s.")
                    % {"user": rm, "branch": branch}
                }
            )


def _check_owner(*, by: User, branch: Branch, relationship_manager: User) -> None:
    _check_owners(by=by, owners=[(branch, relationship_manager)])


def _log(*, partner: Partner, by: User, transition: str, source: str | None, comment: str = "") -> StateLog:
    return StateLog.objects.create(
        content_object=partner,
        by=by,
        transition=transition,
        source_state=source,
        state=partner.state,
        description=comment or None,
    )


@transaction.atomic
def partner_create(
    *,
    by: User,
    partner_type: str,
    legal_name: str,
    credit_code: str,
    legal_representative: str,
    branch: Branch | None = None,
    relationship_manager: User | None = None,
    registered_capital: Decimal = Decimal("0.00"),
    contact_name: str = "",
    contact_phone: str = "",
    contact_email: str = "",
    settlement_account_name: str = "",
    settlement_bank: str = "",
    settlement_account_no: str = "",
    risk_rating: str = RiskRating.MEDIUM,
    vat_rate: Decimal = Decimal("0.0600"),
    comment: str = "",
) -> Partner:
    """Open a draft admission case, with an empty evidence item per requirement of its type.

    The branch defaults to the acting user's, the RM to the acting user. The
    credit code is validated (GB 32100-2015 check character) and must be new;
    either failure raises ``ValidationError`` naming the field, nothing written.
    """
    if not by.has_perm("onboarding.add_partner"):
        raise NotPermitted(_("You do not have the permission to create partners."))
    branch = branch or by.branch
    if branch is None:
        raise ValidationError({"branch": _("Choose the branch that owns the partner.")})
    relationship_manager = relationship_manager or by
    _check_owner(by=by, branch=branch, relationship_manager=relationship_manager)

    partner = Partner(
        partner_type=partner_type,
        legal_name=legal_name.strip(),
        credit_code=credit_code.strip().upper(),
        legal_representative=legal_representative.strip(),
        registered_capital=registered_capital,
        contact_name=contact_name,
        contact_phone=contact_phone,
        contact_email=contact_email,
        settlement_account_name=settlement_account_name,
        settlement_bank=settlement_bank,
        settlement_account_no=settlement_account_no,
        branch=branch,
        relationship_manager=relationship_manager,
        risk_rating=risk_rating,
        tier=PartnerTier.STANDARD,
        vat_rate=vat_rate,
        created_by=by,
    )
    return partner_case_open(partner=partner, by=by, comment=comment)


def partner_case_open(*, partner: Partner, by: User, comment: str = "") -> Partner:
    """Save a new draft case (validated: GB 32100 code, new code), one empty evidence item per requirement, and log it.

    The one way a case starts, whoever opens it: an RM (``partner_create``) or an applicant in the portal.
    """
    partner.full_clean(exclude=["state"])  # the protected state is the machine's, not the form's
    partner.save()
    EvidenceItem.objects.bulk_create(
        EvidenceItem(partner=partner, requirement=requirement)
        for requirement in evidence_requirements(partner_type=partner.partner_type)
    )
    _log(partner=partner, by=by, transition="create", source=None, comment=comment)
    return partner


# Rows per query when a batch of codes is looked up (well under SQLite's limit on query parameters).
LOOKUP_CHUNK = 1000


def credit_codes_registered(*, codes: Iterable[str]) -> set[str]:
    """Which of these credit codes a partner already has: one query per thousand codes."""
    wanted = sorted(set(codes))
    found: set[str] = set()
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        found.update(Partner.objects.filter(credit_code__in=chunk).values_list("credit_code", flat=True))
    return found


@transaction.atomic
def partner_create_many(*, by: User, partners: Sequence[Partner], comment: str = "") -> list[Partner]:
    """Open many draft cases at once (a file import), under the rules of ``partner_create``, checked per batch.

    Each partner's own fields are validated by the caller (``full_clean`` without the unique check, as a
    row is read); here, with a constant number of queries: the permission, every owner, and every credit
    code new and not twice in the batch. Then the partners, their evidence items and their audit logs are
    inserted in bulk. All or nothing: any failure raises before a row is written.
    """
    if not by.has_perm("onboarding.add_partner"):
        raise NotPermitted(_("You do not have the permission to create partners."))
    _check_owners(by=by, owners=[(p.branch, p.relationship_manager) for p in partners])
    codes = [p.credit_code for p in partners]
    if len(set(codes)) != len(codes) or credit_codes_registered(codes=codes):
        raise ValidationError({"credit_code": _("A partner with this unified social credit code already exists.")})
    for partner in partners:
        partner.tier = PartnerTier.STANDARD
        partner.created_by = by
    created = Partner.objects.bulk_create(partners)
    requirements: dict[str, list[EvidenceRequirement]] = {}
    for requirement in EvidenceRequirement.objects.filter(partner_type__in={p.partner_type for p in created}):
        requirements.setdefault(requirement.partner_type, []).append(requirement)
    EvidenceItem.objects.bulk_create(
        EvidenceItem(partner=partner, requirement=requirement)
        for partner in created
        for requirement in requirements.get(partner.partner_type, [])
    )
    content_type = ContentType.objects.get_for_model(Partner)
    StateLog.objects.bulk_create(
        StateLog(
            content_type=content_type,
            object_id=partner.pk,
            by=by,
            transition="create",
            source_state=None,
            state=partner.state,
            description=comment or None,
        )
        for partner in created
    )
    return created


@transaction.atomic
def partner_update(*, partner: Partner, by: User, data: dict[str, Any]) -> Partner:
    """Correct a case's details while it is a draft or sent back for information.

    Only the fields in ``EDITABLE_FIELDS`` may be given; the state, tier and
    reviewer change only through their own services. Changing the type is
    refused once evidence has been recorded, since the evidence belongs to
    the old type's requirements.
    """
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"partner_update cannot change {sorted(unknown)}")
    case = Partner.objects.select_for_update().get(pk=partner.pk)
    if case.state != partner.state:
        raise ConcurrentChange(_("This case was changed by someone else. Reload it and try again."))
    authorise(action=Action.EDIT, partner=case, user=by)
    if case.state not in EDITABLE_STATES:  # a re-review lets the evidence be refreshed, not the details
        raise InvalidState(_("The case's details can be corrected only while it is a draft or needs information."))
    # The risk rating decides whether head office must approve the case: a branch may raise it, never lower it.
    lowered = "risk_rating" in data and _RISK_ORDER[data["risk_rating"]] < _RISK_ORDER[case.risk_rating]
    if lowered and not user_sees_all_branches(by):
        raise NotPermitted(
            _("Only head office can lower a case's risk rating: it decides whether head office must approve the case.")
        )

    if "partner_type" in data and data["partner_type"] != case.partner_type:
        if case.evidence_items.exclude(reference="").exists():
            raise InvalidState(
                _("Evidence has been recorded for this case's type; a case of another type needs a new case.")
            )
    for field, value in data.items():
        setattr(case, field, value)
    case.credit_code = case.credit_code.strip().upper()
    _check_owner(by=by, branch=case.branch, relationship_manager=case.relationship_manager)
    case.full_clean(exclude=["state"])
    case.save()
    if "partner_type" in data:
        # Keep one item per requirement of the (possibly new) type; nothing recorded is lost (checked above).
        case.evidence_items.exclude(requirement__partner_type=case.partner_type).delete()
        have = set(case.evidence_items.values_list("requirement_id", flat=True))
        EvidenceItem.objects.bulk_create(
            EvidenceItem(partner=case, requirement=r)
            for r in evidence_requirements(partner_type=case.partner_type)
            if r.pk not in have
        )
    partner.refresh_from_db()
    return partner


@transaction.atomic
def partner_tier_change(*, partner: Partner, tier: str, by: User, reason: str) -> PartnerTierChange:
    """Move an admitted partner to another tier (普通/银牌/金牌), recording who, when, from, to and why."""
    if tier not in PartnerTier.values:
        raise ValidationError({"tier": _("Unknown tier %(tier)s.") % {"tier": tier}})
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the tier changes.")})
    case = Partner.objects.select_for_update().get(pk=partner.pk)
    if case.tier != partner.tier or case.state != partner.state:
        raise ConcurrentChange(_("This partner was changed by someone else. Reload it and try again."))
    authorise(action=Action.CHANGE_TIER, partner=case, user=by)
    if case.tier == tier:
        raise InvalidState(_("The partner is already in tier %(tier)s.") % {"tier": case.get_tier_display()})
    change = PartnerTierChange.objects.create(
        partner=case,
        from_tier=case.tier,
        to_tier=tier,
        changed_by=by,
        changed_at=timezone.now(),
        reason=reason.strip(),
    )
    Partner.objects.filter(pk=case.pk).update(tier=tier, updated_at=timezone.now())
    partner.refresh_from_db()
    return change
