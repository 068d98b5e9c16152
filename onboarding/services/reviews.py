"""Periodic re-review (年审) of admitted partners, on the admission machinery.

* Each active partner has a next re-review date from its risk rating
  (``schedule.next_review_date``); evidence items may carry an expiry date.
* The nightly job (:func:`reviews_nightly`, the ``onboarding.reviews_nightly``
  beat task) opens a re-review REREVIEW_LEAD_DAYS before the earlier of the two,
  for the partner's branch, and tells the RM and the partner. At most one
  re-review runs per partner (a partial unique constraint), so running the job
  twice opens one.
* While it runs the partner stays active; its evidence is refreshed
  (``evidence_item_record``) and decided item by item by a reviewer
  (``evidence_item_decide``), as on admission (``policies.REVIEW_ACTIONS``).
* The branch reviewer approves (maker-checker: none of the case's makers);
  a high-risk or PE/VC partner then needs head office's approval from
  someone else. Approval sets the next date, and reinstates a partner the job
  had suspended.
* A re-review overdue by more than REREVIEW_GRACE_DAYS suspends the partner,
  with the system as the actor in its state log, and tells the partner and RM.

Every function takes ``today`` (a China date), so tests run on fixed dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Min, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm_log.models import StateLog

from onboarding.errors import EvidenceIncomplete, InvalidState, MakerChecker, NotPermitted
from onboarding.models import (
    AdmissionState,
    EvidenceDecision,
    EvidenceItem,
    EvidenceRequirement,
    Partner,
    PartnerReview,
    ReviewState,
    ReviewTrigger,
)
from onboarding.policies import HEAD_OFFICE_PERMISSION, user_in_scope
from onboarding.selectors import evidence_not_accepted, partner_makers
from onboarding.services.notices import notice_send, portal_url
from onboarding.services.schedule import next_review_date, partner_schedule_next_review
from organisation.models import User
from workspace.models import NotificationKind
from workspace.services import notify


def _log(*, partner: Partner, by: User | None, transition: str, description: str) -> None:
    StateLog.objects.create(
        content_object=partner,
        by=by,
        transition=transition,
        source_state=partner.state,
        state=partner.state,
        description=description,
    )


def _partner_addresses(partner: Partner) -> list[str]:
    users = partner.users.filter(is_active=True).order_by("id").values_list("email", flat=True)
    return [partner.contact_email, *users]


def _notify(review: PartnerReview, template: str, kind: str) -> None:
    """The partner by e-mail; the RM (and, for a new re-review, the branch's reviewers) in the inbox and by e-mail."""
    partner = review.partner
    context = {
        "company": partner.legal_name,
        "due_on": review.due_on.isoformat(),
        "trigger": review.trigger,
        "link": portal_url(reverse("portal:review")),
    }
    notice_send(to=_partner_addresses(partner), template=template, context=context)
    notify(kind=kind, obj=review)


# ---- the nightly job ------------------------------------------------------------------------


def reviews_schedule_missing(*, today: date) -> int:
    """Active partners without a next re-review date get one, from the start of their current active period."""
    count = 0
    for partner in Partner.objects.filter(state=AdmissionState.ACTIVE, next_review_on__isnull=True).annotate(
        since=Min("active_periods__started_at", filter=Q(active_periods__ended_at__isnull=True))
    ):
        start = timezone.localdate(partner.since) if partner.since else today
        partner_schedule_next_review(partner=partner, today=start)
        count += 1
    return count


def reviews_open_due(*, today: date) -> list[PartnerReview]:
    """Open a re-review for each active partner whose re-review date or an evidence expiry is within the lead days.

    The due date is the earlier of the two. Partners with a running re-review are skipped; a concurrent
    run that opened the same partner's first is refused by the unique constraint and skipped too.
    """
    horizon = today + timedelta(days=settings.REREVIEW_LEAD_DAYS)
    expiring = (
        EvidenceItem.objects.filter(expires_on__isnull=False, expires_on__lte=horizon)
        .values("partner_id")
        .annotate(first=Min("expires_on"))
    )
    first_expiry = {row["partner_id"]: row["first"] for row in expiring}
    candidates = (
        Partner.objects.filter(state=AdmissionState.ACTIVE)
        .filter(Q(next_review_on__lte=horizon) | Q(pk__in=list(first_expiry)))
        .exclude(reviews__state__in=[ReviewState.OPEN, ReviewState.PENDING_HEAD_OFFICE])
        .select_related("relationship_manager")
        .order_by("pk")
    )
    opened = []
    for partner in candidates:
        dates = []
        if partner.next_review_on and partner.next_review_on <= horizon:
            dates.append((partner.next_review_on, ReviewTrigger.SCHEDULE))
        if partner.pk in first_expiry:
            dates.append((first_expiry[partner.pk], ReviewTrigger.EVIDENCE_EXPIRY))
        due_on, trigger = min(dates)
        try:
            with transaction.atomic():
                review = PartnerReview.objects.create(
                    partner=partner, branch_id=partner.branch_id, trigger=trigger, due_on=due_on, opened_on=today
                )
                # Every item is decided again: what was accepted at the last review is looked at anew.
                partner.evidence_items.update(
                    decision=EvidenceDecision.PENDING, decision_reason="", decided_by=None, decided_at=None
                )
                _log(
                    partner=partner,
                    by=None,
                    transition="open_review",
                    description=gettext("Re-review opened by the system (%(trigger)s), due %(due)s.")
                    % {"trigger": review.get_trigger_display(), "due": due_on.isoformat()},
                )
                _notify(review, "review_opened", NotificationKind.REVIEW_OPENED)
        except IntegrityError:
            continue  # another run opened it first
        opened.append(review)
    return opened


def review_evidence_record(
    *,
    partner: Partner,
    requirement: EvidenceRequirement,
    reference: str,
    by: User,
    document: File | None = None,
    expires_on: date | None = None,
) -> EvidenceItem:
    """One of the partner's own users refreshes an evidence item of its open re-review in the portal.

    The admission service's rules (a document typed by its content, within the size limit, stored privately);
    the item goes back to pending for the branch's reviewer. Refused when no re-review is open.
    """
    from onboarding.services.evidence import evidence_item_record, evidence_upload_complete

    evidence_upload_complete(partner=partner, requirement=requirement, reference=reference, document=document)
    return evidence_item_record(
        partner=partner, requirement=requirement, reference=reference, document=document, expires_on=expires_on, by=by
    )


def reviews_suspend_overdue(*, today: date) -> list[PartnerReview]:
    """Suspend each active partner whose running re-review is overdue by more than REREVIEW_GRACE_DAYS.

    The system is the actor in the partner's state log; the partner and its RM are told. A partner
    already suspended (by the job or by staff) is left alone, so running twice suspends once.
    """
    from onboarding.services.admission import partner_system_suspend

    cutoff = today - timedelta(days=settings.REREVIEW_GRACE_DAYS)
    overdue = PartnerReview.objects.filter(
        state__in=[ReviewState.OPEN, ReviewState.PENDING_HEAD_OFFICE],
        due_on__lt=cutoff,
        suspended_at__isnull=True,
        partner__state=AdmissionState.ACTIVE,
    ).select_related("partner", "partner__relationship_manager")
    suspended = []
    for review in overdue.order_by("pk"):
        reason = gettext("Suspended by the system: the re-review due %(due)s is more than %(days)d days overdue.") % {
            "due": review.due_on.isoformat(),
            "days": settings.REREVIEW_GRACE_DAYS,
        }
        with transaction.atomic():
            partner_system_suspend(partner=review.partner, reason=reason)
            # Compare-and-swap: of two jobs running at once, one records the suspension.
            if not PartnerReview.objects.filter(pk=review.pk, suspended_at__isnull=True).update(
                suspended_at=timezone.now()
            ):
                continue
            _notify(review, "review_overdue_suspended", NotificationKind.REVIEW_OVERDUE_SUSPENDED)
        suspended.append(review)
    return suspended


@dataclass(frozen=True)
class NightlyReport:
    scheduled: int
    opened: int
    suspended: int


def reviews_nightly(*, today: date) -> dict:
    """The nightly job: date the unscheduled, open what falls due, suspend the overdue. Idempotent."""
    report = NightlyReport(
        scheduled=reviews_schedule_missing(today=today),
        opened=len(reviews_open_due(today=today)),
        suspended=len(reviews_suspend_overdue(today=today)),
    )
    return report.__dict__


# ---- the reviewers' decisions ----------------------------------------------------------------


def _lock(review: PartnerReview) -> tuple[PartnerReview, Partner]:
    # Partner first, then the review: the order every admission service locks in.
    partner = Partner.objects.select_for_update().get(pk=review.partner_id)
    locked = PartnerReview.objects.select_for_update().get(pk=review.pk)
    if locked.state != review.state:
        raise InvalidState(_("This re-review was changed by someone else. Reload it and try again."))
    return locked, partner


def _authorise_decision(*, review: PartnerReview, partner: Partner, by: User, permission: str) -> None:
    if not (by.is_active and user_in_scope(by, partner)):
        raise NotPermitted(_("This partner belongs to another branch."))
    if not by.has_perm(permission):
        raise NotPermitted(_("You do not have the permission to approve this re-review."))
    if by.pk in partner_makers(partner=partner):
        raise MakerChecker(
            _("You prepared this partner's case or recorded its evidence, so someone else must decide (maker-checker).")
        )


def _require_current_evidence(*, partner: Partner, today: date) -> None:
    open_items = evidence_not_accepted(partner=partner)
    if open_items:
        raise EvidenceIncomplete(
            _("Evidence not yet accepted: %(items)s.") % {"items": "、".join(str(r) for r in open_items)},
            extra={"items": [r.code for r in open_items]},
        )
    # A licence expiring within the lead days would open the next re-review at once: it must be renewed first.
    horizon = today + timedelta(days=settings.REREVIEW_LEAD_DAYS)
    expiring = partner.evidence_items.filter(expires_on__isnull=False, expires_on__lte=horizon).select_related(
        "requirement"
    )
    if expiring:
        raise EvidenceIncomplete(
            _("Evidence expires within %(days)d days; record the renewed document first: %(items)s.")
            % {"days": settings.REREVIEW_LEAD_DAYS, "items": "、".join(str(i.requirement) for i in expiring)},
            extra={"items": [i.requirement.code for i in expiring]},
        )


def _pass(*, review: PartnerReview, partner: Partner, by: User, today: date, comment: str) -> None:
    from onboarding.services.admission import partner_system_reinstate

    review.state = ReviewState.APPROVED
    review.approved_by = by
    review.approved_on = today
    review.save(update_fields=["state", "approved_by", "approved_on"])
    due = partner_schedule_next_review(partner=partner, today=today)
    _log(
        partner=partner,
        by=by,
        transition="approve_review",
        description=" ".join(
            filter(None, [gettext("Re-review approved; next due %(due)s.") % {"due": due.isoformat()}, comment])
        ),
    )
    if partner.state == AdmissionState.SUSPENDED and review.suspended_at is not None:
        partner_system_reinstate(partner=partner, reason=gettext("Reinstated: the overdue re-review was approved."))


@transaction.atomic
def review_approve(*, review: PartnerReview, by: User, today: date, comment: str = "") -> PartnerReview:
    """The branch's decision on an open re-review: approved, or on to head office for high-risk and PE/VC partners.

    Every required evidence item accepted and none expiring within the lead days; the approver in the
    partner's scope, with the approval permission, and none of the case's makers.
    """
    review, partner = _lock(review)
    if review.state != ReviewState.OPEN:
        raise InvalidState(_("This re-review is not open."))
    _authorise_decision(review=review, partner=partner, by=by, permission="onboarding.approve_partner")
    _require_current_evidence(partner=partner, today=today)
    if partner.needs_head_office:
        review.state = ReviewState.PENDING_HEAD_OFFICE
        review.branch_approved_by = by
        review.save(update_fields=["state", "branch_approved_by"])
        _log(
            partner=partner,
            by=by,
            transition="refer_review_to_head_office",
            description=" ".join(
                filter(None, [gettext("Re-review approved by the branch; awaiting head office."), comment])
            ),
        )
    else:
        _pass(review=review, partner=partner, by=by, today=today, comment=comment)
    return review


@transaction.atomic
def review_approve_head_office(*, review: PartnerReview, by: User, today: date, comment: str = "") -> PartnerReview:
    """Head office's approval of a high-risk or PE/VC partner's re-review, by someone other than the branch approver."""
    review, partner = _lock(review)
    if review.state != ReviewState.PENDING_HEAD_OFFICE:
        raise InvalidState(_("This re-review is not awaiting head office."))
    _authorise_decision(review=review, partner=partner, by=by, permission=HEAD_OFFICE_PERMISSION)
    if by.pk == review.branch_approved_by_id:
        raise MakerChecker(_("You gave the branch approval; the head-office approval must come from someone else."))
    _require_current_evidence(partner=partner, today=today)
    _pass(review=review, partner=partner, by=by, today=today, comment=comment)
    return review


def review_due_status(review: PartnerReview, *, today: date) -> str:
    """'approved', 'overdue' (past its due date), or 'due' (open, not yet past it)."""
    if review.state == ReviewState.APPROVED:
        return "approved"
    return "overdue" if review.due_on < today else "due"


__all__ = [
    "next_review_date",
    "review_approve",
    "review_approve_head_office",
    "review_due_status",
    "reviews_nightly",
    "reviews_open_due",
    "reviews_schedule_missing",
    "reviews_suspend_overdue",
]
