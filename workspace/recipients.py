"""Who is told of what: the recipient rule of each notification kind, within the object's branch scope.

A case's events go to the people who act next on it — its branch's reviewers,
its assigned reviewer, its RM, head office for the second approval — never to
staff of another branch; money events go to whoever may decide them (finance,
head office), who see every branch.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from organisation.models import User
from workspace.models import NotificationKind

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def users_with_perm(perm: str) -> QuerySet[User]:
    """Active users holding ``perm`` through their groups or directly (superusers included)."""
    return User.objects.with_perm(perm, backend=MODEL_BACKEND).filter(is_active=True, partner__isnull=True)


def _in_branch_scope(users: QuerySet[User], branch_id: int) -> QuerySet[User]:
    """Staff of the branch, and head office (who act on every branch)."""
    return users.filter(Q(branch_id=branch_id) | Q(branch__is_head_office=True))


def _case_reviewers(case) -> list[User]:
    """Reviewers of the case's branch who did not prepare it; head office's reviewers when the branch has none."""
    from onboarding.selectors import partner_makers

    makers = partner_makers(partner=case)
    reviewers = users_with_perm("onboarding.review_partner").exclude(pk__in=makers)
    own = list(reviewers.filter(branch_id=case.branch_id).order_by("pk"))
    return own or list(reviewers.filter(branch__is_head_office=True).order_by("pk"))


def _case_owners(case) -> list[User]:
    """The case's RM and whoever prepared it, when bank staff (a company that applied in the portal is told
    through the portal's own notices, which carry only what the reviewer chose to share)."""
    ids = {case.relationship_manager_id, case.created_by_id} - {None}
    return list(User.objects.filter(pk__in=ids, is_active=True, is_staff=True, partner__isnull=True).order_by("pk"))


def recipients_for(*, kind: str, obj, by: User | None) -> list[User]:
    """The users to tell of ``kind`` on ``obj`` (never the one who acted), each once."""
    if kind == NotificationKind.CASE_SUBMITTED:
        found = _case_reviewers(obj)
    elif kind == NotificationKind.CASE_RESUBMITTED:
        found = [obj.assigned_reviewer] if obj.assigned_reviewer_id else _case_reviewers(obj)
    elif kind == NotificationKind.CASE_ASSIGNED:
        found = [obj.assigned_reviewer] if obj.assigned_reviewer_id else []
    elif kind in (NotificationKind.CASE_RETURNED, NotificationKind.CASE_APPROVED, NotificationKind.CASE_REJECTED):
        found = _case_owners(obj)
    elif kind == NotificationKind.CASE_AWAITS_HEAD_OFFICE:
        head_office = users_with_perm("onboarding.approve_partner_head_office").filter(branch__is_head_office=True)
        found = _case_owners(obj) + list(head_office.order_by("pk"))
    elif kind == NotificationKind.SETTLEMENTS_AWAIT_APPROVAL:
        found = list(users_with_perm("settlement.approve_settlement").order_by("pk"))
    elif kind == NotificationKind.DISPUTE_RAISED:
        partner = obj.settlement.partner
        deciders = _in_branch_scope(users_with_perm("settlement.resolve_settlement_dispute"), partner.branch_id)
        found = list(deciders.order_by("pk")) + _case_owners(partner)
    elif kind == NotificationKind.REVIEW_OPENED:
        # The RM refreshes the evidence; the branch's reviewers decide the re-review.
        found = _case_owners(obj.partner) + _case_reviewers(obj.partner)
    elif kind == NotificationKind.REVIEW_OVERDUE_SUSPENDED:
        found = _case_owners(obj.partner)
    else:
        raise ValueError(f"unknown notification kind {kind!r}")
    seen: set[int] = set()
    unique = []
    for user in found:
        if user is None or not user.is_active or (by is not None and user.pk == by.pk) or user.pk in seen:
            continue
        if not user.is_staff or user.partner_id is not None:  # staff notifications carry internal comments
            continue
        seen.add(user.pk)
        unique.append(user)
    return unique
