"""Reads of the admission domain: scoped partner lists, evidence gaps, the makers of a case, the audit log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, F, Q, QuerySet
from django_fsm_log.models import StateLog

from onboarding.models import EvidenceDecision, EvidenceItem, EvidenceRequirement, Partner, PartnerReview, ReviewState
from organisation.models import Branch, User
from organisation.roles import Role
from organisation.services import user_sees_all_branches

# Transitions whose actor is a maker of the case (with whoever created it and recorded its evidence).
MAKER_TRANSITIONS = ("create", "submit", "resubmit")


def partner_list(*, user: User) -> QuerySet[Partner]:
    """Partners the user may see: every branch's for head office, their own branch's otherwise."""
    qs = Partner.objects.all()
    if user_sees_all_branches(user):
        return qs
    if user.is_active and user.branch_id:
        return qs.filter(branch_id=user.branch_id)
    return qs.none()


def branch_list(*, user: User) -> QuerySet[Branch]:
    """Branches the user may put a partner in."""
    if user_sees_all_branches(user):
        return Branch.objects.all()
    return Branch.objects.filter(pk=user.branch_id) if user.branch_id else Branch.objects.none()


def relationship_manager_list(*, user: User, branch: Branch | None = None) -> QuerySet[User]:
    """Active RMs the user may make responsible for a partner (optionally of one branch)."""
    qs = User.objects.filter(is_active=True, groups__name=Role.BRANCH_RM.value, branch__isnull=False)
    if not user_sees_all_branches(user):
        qs = qs.filter(branch_id=user.branch_id)
    if branch is not None:
        qs = qs.filter(branch=branch)
    return qs.distinct().order_by("branch__code", "username")


def reviewer_list(*, partner: Partner) -> QuerySet[User]:
    """Active users who may review the case: reviewers of its branch and head-office reviewers."""
    qs = User.objects.filter(is_active=True, branch__isnull=False).filter(
        groups__permissions__codename="review_partner", groups__permissions__content_type__app_label="onboarding"
    )
    qs = qs.filter(branch_id=partner.branch_id) | qs.filter(branch__is_head_office=True)
    return qs.distinct().order_by("username")


def evidence_requirements(*, partner_type: str) -> QuerySet[EvidenceRequirement]:
    return EvidenceRequirement.objects.filter(partner_type=partner_type)


def evidence_missing(*, partner: Partner) -> list[EvidenceRequirement]:
    """Required evidence of the partner's type that is not recorded (no item, or an empty reference)."""
    recorded = EvidenceItem.objects.filter(partner=partner).exclude(reference="").values("requirement_id")
    return list(
        evidence_requirements(partner_type=partner.partner_type).filter(is_required=True).exclude(pk__in=recorded)
    )


def evidence_needing_revision(*, partner: Partner) -> list[EvidenceItem]:
    return list(partner.evidence_items.filter(decision=EvidenceDecision.NEEDS_REVISION).select_related("requirement"))


def evidence_not_accepted(*, partner: Partner) -> list[EvidenceRequirement]:
    """Required evidence that is not (yet) accepted by a reviewer, missing items included."""
    accepted = EvidenceItem.objects.filter(partner=partner, decision=EvidenceDecision.ACCEPTED).values("requirement_id")
    return list(
        evidence_requirements(partner_type=partner.partner_type).filter(is_required=True).exclude(pk__in=accepted)
    )


def partner_open_review(*, partner_id: int) -> PartnerReview | None:
    """The partner's re-review that is open for its evidence, if one is."""
    return PartnerReview.objects.filter(partner_id=partner_id, state=ReviewState.OPEN).first()


def evidence_items(*, partner: Partner) -> QuerySet[EvidenceItem]:
    return partner.evidence_items.select_related("requirement", "recorded_by", "decided_by")


def partner_state_log(*, partner: Partner) -> QuerySet[StateLog]:
    """The audit trail of the case, oldest first."""
    ct = ContentType.objects.get_for_model(Partner)
    qs = StateLog.objects.filter(content_type=ct, object_id=partner.pk)
    return qs.select_related("by").order_by("timestamp", "pk")


def partner_makers(*, partner: Partner) -> set[int]:
    """Ids of everyone who prepared or submitted the case; none of them may approve it (maker-checker).

    Makers are whoever created it, its RM, whoever submitted or resubmitted it
    and whoever recorded any of its evidence.
    """
    makers = {partner.created_by_id, partner.relationship_manager_id}
    makers.update(
        partner_state_log(partner=partner).filter(transition__in=MAKER_TRANSITIONS).values_list("by_id", flat=True)
    )
    makers.update(partner.evidence_items.values_list("recorded_by_id", flat=True))
    makers.discard(None)
    return makers


def partner_branch_approver(*, partner: Partner) -> int | None:
    """Id of who gave the branch approval of a case now awaiting head office."""
    entry = partner_state_log(partner=partner).filter(transition="refer_to_head_office").last()
    return entry.by_id if entry else None


def partner_reviews_on_time(*, due_from: date, due_before: date, partner_ids: Iterable[int]) -> dict[int, Decimal]:
    """Per partner, the share of its re-reviews due in ``[due_from, due_before)`` approved by their due date.

    Partners with no re-review due then are absent (no rate). One query.
    """
    from onboarding.models import PartnerReview, ReviewState

    rows = (
        PartnerReview.objects.filter(partner_id__in=list(partner_ids), due_on__gte=due_from, due_on__lt=due_before)
        .values("partner_id")
        .annotate(
            due=Count("pk"),
            on_time=Count("pk", filter=Q(state=ReviewState.APPROVED, approved_on__lte=F("due_on"))),
        )
    )
    return {row["partner_id"]: Decimal(row["on_time"]) / Decimal(row["due"]) for row in rows}
