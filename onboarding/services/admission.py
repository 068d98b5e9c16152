"""The admission workflow: one service per step of the state machine on ``Partner.state``.

Every service, in one transaction:
1. locks the case row (``select_for_update``) and refuses with ``ConcurrentChange``
   if its state or assigned reviewer is no longer the one the caller read — two
   people acting on the same case at once (two hand-overs included): the second
   waits for the first, then is told to reload;
2. checks scope, the transition's named permission, the assignee rule and
   maker-checker (``onboarding.policies.authorise``) and the evidence;
3. applies the django-fsm-2 transition, saves (``ConcurrentTransitionMixin``
   refuses a stale save as a second line of defence) and records who, when,
   from, to and the comment in the django-fsm-log ``StateLog``;
4. keeps ``PartnerActivePeriod`` in step: opened on activate/reinstate,
   closed on suspend/terminate.
The caller's instance is refreshed and returned.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from onboarding.errors import ConcurrentChange, EvidenceIncomplete, InvalidState, NotPermitted
from onboarding.models import Partner, PartnerActivePeriod
from onboarding.policies import TRANSITION_METHODS, Action, authorise, user_in_scope
from onboarding.selectors import (
    evidence_missing,
    evidence_needing_revision,
    evidence_not_accepted,
    partner_makers,
)
from onboarding.services.applications import (
    application_admit_applicant,
    application_notify_needs_info,
    application_notify_rejected,
)
from onboarding.services.schedule import partner_schedule_next_review
from organisation.models import User
from portal.services import partner_access_revoke
from workspace.models import NotificationKind
from workspace.services import notify

# Whoever acts next is told of these steps (in the inbox and by e-mail, see ``workspace.recipients``).
NOTIFIED_TRANSITIONS = {
    "submit": NotificationKind.CASE_SUBMITTED,
    "assign_reviewer": NotificationKind.CASE_ASSIGNED,
    "request_info": NotificationKind.CASE_RETURNED,
    "resubmit": NotificationKind.CASE_RESUBMITTED,
    "approve": NotificationKind.CASE_APPROVED,
    "refer_to_head_office": NotificationKind.CASE_AWAITS_HEAD_OFFICE,
    "approve_head_office": NotificationKind.CASE_APPROVED,
    "reject": NotificationKind.CASE_REJECTED,
}


def _names(items) -> str:
    return "、".join(str(i) for i in items)


def _require_recorded_evidence(case: Partner) -> None:
    missing = evidence_missing(partner=case)
    if missing:
        raise EvidenceIncomplete(
            _("Required evidence is missing: %(items)s.") % {"items": _names(missing)},
            extra={"items": [r.code for r in missing]},
        )


def _require_accepted_evidence(case: Partner) -> None:
    open_items = evidence_not_accepted(partner=case)
    if open_items:
        raise EvidenceIncomplete(
            _("Evidence not yet accepted: %(items)s.") % {"items": _names(open_items)},
            extra={"items": [r.code for r in open_items]},
        )


def _lock(partner: Partner) -> Partner:
    """The case row, locked until commit, provided nobody changed its state since the caller read it."""
    case = Partner.objects.select_for_update().get(pk=partner.pk)
    if case.state != partner.state:
        raise ConcurrentChange(
            _("This case was changed by someone else (it is now %(state)s). Reload it and try again.")
            % {"state": case.get_state_display()}
        )
    # A hand-over keeps the state (under review → under review): the assignee tells two apart.
    if case.assigned_reviewer_id != partner.assigned_reviewer_id:
        raise ConcurrentChange(
            _("This case was handed to another reviewer (%(reviewer)s) meanwhile. Reload it and try again.")
            % {"reviewer": case.assigned_reviewer or "—"}
        )
    return case


def _transition(
    *,
    partner: Partner,
    by: User,
    action: Action,
    comment: str = "",
    check: Callable[[Partner], str | None] | None = None,
    describe: Callable[[], str] | None = None,
    after: Callable[[Partner], None] | None = None,
    **method_kwargs,
) -> Partner:
    """Run one admission step as described in the module docstring.

    ``check`` raises if a business precondition fails and may return the
    state-machine method to call (when the action has more than one);
    ``describe`` builds the log's description when it is more than the comment.
    """
    with transaction.atomic():
        case = _lock(partner)
        authorise(action=action, partner=case, user=by)
        method_name = (check(case) if check else None) or TRANSITION_METHODS[action][0]
        description = describe() if describe else comment.strip()
        try:
            getattr(case, method_name)(by=by, description=description or None, **method_kwargs)
            case.save()
        except TransitionNotAllowed as exc:
            raise InvalidState(_("“%(action)s” is not possible for this case now.") % {"action": action.label}) from exc
        except ConcurrentTransition as exc:
            raise ConcurrentChange(_("This case was changed by someone else. Reload it and try again.")) from exc
        if after:
            after(case)
        if method_name in NOTIFIED_TRANSITIONS:
            notify(kind=NOTIFIED_TRANSITIONS[method_name], obj=case, by=by, comment=description)
    partner.refresh_from_db()
    return partner


def _open_active_period(case: Partner) -> None:
    PartnerActivePeriod.objects.create(partner=case, started_at=timezone.now())


def _close_active_period(case: Partner) -> None:
    PartnerActivePeriod.objects.filter(partner=case, ended_at__isnull=True).update(ended_at=timezone.now())


# ---- The steps --------------------------------------------------------------------------


def partner_submit(*, partner: Partner, by: User, comment: str = "") -> Partner:
    """draft → submitted; every required evidence item must be recorded (the error names the missing ones)."""

    def check(case: Partner) -> None:
        _require_recorded_evidence(case)

    return _transition(partner=partner, by=by, action=Action.SUBMIT, comment=comment, check=check)


def partner_assign_reviewer(*, partner: Partner, reviewer: User, by: User, comment: str = "") -> Partner:
    """submitted/resubmitted → under review with ``reviewer`` assigned; under review: hand the case over.

    The reviewer must be able to review cases of the partner's branch and
    must not be one of its makers.
    """

    def check(case: Partner) -> None:
        can_review = reviewer.is_active and reviewer.has_perm("onboarding.review_partner")
        if not (can_review and user_in_scope(reviewer, case)):
            raise NotPermitted(
                _("%(user)s cannot review cases of %(branch)s.") % {"user": reviewer, "branch": case.branch}
            )
        if reviewer.pk in partner_makers(partner=case):
            raise NotPermitted(
                _("%(user)s prepared or submitted this case and cannot review it (maker-checker).") % {"user": reviewer}
            )

    return _transition(
        partner=partner, by=by, action=Action.ASSIGN_REVIEWER, comment=comment, check=check, reviewer=reviewer
    )


def partner_start_review(*, partner: Partner, by: User, comment: str = "") -> Partner:
    """A reviewer takes a submitted or resubmitted case: under review, assigned to them."""
    return partner_assign_reviewer(partner=partner, reviewer=by, by=by, comment=comment)


def partner_request_info(*, partner: Partner, by: User, comment: str = "") -> Partner:
    """under review → needs info. The log names every item to fix (marked for revision, or missing).

    There must be something to fix: an item marked for revision, a missing
    item, or at least a comment saying what is wanted.
    """
    to_fix: list[str] = []

    def check(case: Partner) -> None:
        to_fix.extend(f"{i.requirement}: {i.decision_reason}" for i in evidence_needing_revision(partner=case))
        to_fix.extend(f"{r}: {_('missing')}" for r in evidence_missing(partner=case))
        if not to_fix and not comment.strip():
            raise InvalidState(
                _("Mark the evidence items to revise, or say in the comment what information is needed.")
            )

    def describe() -> str:
        return "\n".join(filter(None, [comment.strip(), *(f"- {line}" for line in to_fix)]))

    def after(case: Partner) -> None:
        application_notify_needs_info(partner=case, request="\n".join([comment.strip(), *to_fix]).strip())

    return _transition(partner=partner, by=by, action=Action.REQUEST_INFO, check=check, describe=describe, after=after)


def partner_resubmit(*, partner: Partner, by: User, comment: str = "") -> Partner:
    """needs info → resubmitted, once nothing required is missing and no item still awaits revision."""

    def check(case: Partner) -> None:
        _require_recorded_evidence(case)
        pending = evidence_needing_revision(partner=case)
        if pending:
            raise EvidenceIncomplete(
                _("These items still need revising: %(items)s.") % {"items": _names(i.requirement for i in pending)},
                extra={"items": [i.requirement.code for i in pending]},
            )

    return _transition(partner=partner, by=by, action=Action.RESUBMIT, comment=comment, check=check)


def partner_approve(*, partner: Partner, by: User, comment: str = "") -> Partner:
    """The branch approval: under review → approved, or → awaiting head office for high-risk and PE/VC cases.

    Every required evidence item must be accepted; the approver must not be
    a maker of the case and must be its assigned reviewer or head office.
    """

    def check(case: Partner) -> str:
        _require_accepted_evidence(case)
        return "refer_to_head_office" if case.needs_head_office else "approve"

    return _transition(partner=partner, by=by, action=Action.APPROVE, comment=comment, check=check)


def partner_approve_head_office(*, partner: Partner, by: User, comment: str = "") -> Partner:
    """awaiting head office → approved: the second approval, by someone who neither made nor branch-approved it."""

    def check(case: Partner) -> None:
        _require_accepted_evidence(case)

    return _transition(partner=partner, by=by, action=Action.APPROVE_HEAD_OFFICE, comment=comment, check=check)


def partner_reject(*, partner: Partner, by: User, comment: str, shared_reason: str = "") -> Partner:
    """Any open state → rejected (final). A reason is required.

    The reason stays in the bank's log; an applicant (a self-application) is
    told of the rejection with ``shared_reason`` only, what the reviewer chose to tell.
    """
    if not comment.strip():
        raise InvalidState(_("Give the reason for rejecting the case."))

    def after(case: Partner) -> None:
        application_notify_rejected(partner=case, shared_reason=shared_reason)

    return _transition(partner=partner, by=by, action=Action.REJECT, comment=comment, after=after)


def partner_contract(*, partner: Partner, by: User, comment: str = "") -> Partner:
    """approved → contracted: the cooperation agreement is signed."""
    return _transition(partner=partner, by=by, action=Action.CONTRACT, comment=comment)


def partner_activate(*, partner: Partner, by: User, comment: str = "", today: date | None = None) -> Partner:
    """contracted → active; opens an active period (the partner earns a share from now on).

    Sets the first re-review date from the risk rating, and makes a self-application's
    applicant the partner's first portal user.
    """

    def after(case: Partner) -> None:
        _open_active_period(case)
        partner_schedule_next_review(partner=case, today=today or timezone.localdate())
        application_admit_applicant(partner=case)

    return _transition(partner=partner, by=by, action=Action.ACTIVATE, comment=comment, after=after)


def partner_suspend(*, partner: Partner, by: User, comment: str) -> Partner:
    """active → suspended; closes the open active period. A reason is required."""
    if not comment.strip():
        raise InvalidState(_("Give the reason for suspending the partner."))
    return _transition(partner=partner, by=by, action=Action.SUSPEND, comment=comment, after=_close_active_period)


def partner_reinstate(*, partner: Partner, by: User, comment: str = "") -> Partner:
    """suspended → active; opens a new active period."""
    return _transition(partner=partner, by=by, action=Action.REINSTATE, comment=comment, after=_open_active_period)


def partner_terminate(*, partner: Partner, by: User, comment: str) -> Partner:
    """active/suspended → terminated (final); closes the open active period and revokes the partner's access.

    A reason is required.
    """
    if not comment.strip():
        raise InvalidState(_("Give the reason for terminating the partner."))

    def after(case: Partner) -> None:
        _close_active_period(case)
        partner_access_revoke(partner=case, by=by)  # its users' API tokens and its webhooks end with it

    return _transition(partner=partner, by=by, action=Action.TERMINATE, comment=comment, after=after)


# ---- Steps the system takes (the nightly re-review job): no person, so no permission check ----------


def _system_transition(*, partner: Partner, method: str, description: str, after=None) -> Partner:
    """Apply a state-machine step as the system: locked and logged like the others, with no actor in the log."""
    with transaction.atomic():
        case = _lock(partner)
        try:
            getattr(case, method)(by=None, description=description)
            case.save()
        except TransitionNotAllowed as exc:
            raise InvalidState(_("This step is not possible for the case now.")) from exc
        except ConcurrentTransition as exc:
            raise ConcurrentChange(_("This case was changed by someone else. Reload it and try again.")) from exc
        if after:
            after(case)
    partner.refresh_from_db()
    return partner


def partner_system_suspend(*, partner: Partner, reason: str) -> Partner:
    """active → suspended by the system (a re-review overdue past its grace period); closes the active period."""
    return _system_transition(partner=partner, method="suspend", description=reason, after=_close_active_period)


def partner_system_reinstate(*, partner: Partner, reason: str) -> Partner:
    """suspended → active by the system (the re-review it was suspended for has passed); opens an active period."""
    return _system_transition(partner=partner, method="reinstate", description=reason, after=_open_active_period)


# Used by the admin's buttons and by anything dispatching on an action name.
ACTION_SERVICES: dict[str, Callable[..., Partner]] = {
    Action.SUBMIT: partner_submit,
    Action.ASSIGN_REVIEWER: partner_assign_reviewer,
    Action.REQUEST_INFO: partner_request_info,
    Action.RESUBMIT: partner_resubmit,
    Action.APPROVE: partner_approve,
    Action.APPROVE_HEAD_OFFICE: partner_approve_head_office,
    Action.REJECT: partner_reject,
    Action.CONTRACT: partner_contract,
    Action.ACTIVATE: partner_activate,
    Action.SUSPEND: partner_suspend,
    Action.REINSTATE: partner_reinstate,
    Action.TERMINATE: partner_terminate,
}

__all__ = [
    "ACTION_SERVICES",
    "partner_activate",
    "partner_approve",
    "partner_approve_head_office",
    "partner_assign_reviewer",
    "partner_contract",
    "partner_reinstate",
    "partner_reject",
    "partner_request_info",
    "partner_resubmit",
    "partner_start_review",
    "partner_submit",
    "partner_suspend",
    "partner_system_reinstate",
    "partner_system_suspend",
    "partner_terminate",
]
