"""Who may do what to an admission case: branch scope, named permissions, the assignee rule and maker-checker.

Every admission service calls :func:`authorise` before it changes anything,
and the admin asks :func:`allowed_actions` which buttons to show, so the
buttons and the rules cannot drift apart. The order of the checks decides
which message a refused user sees: scope first (someone else's branch),
then state, then the named permission, then the people rules.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import Transition

from onboarding.errors import InvalidState, MakerChecker, NotPermitted
from onboarding.models import (
    EDITABLE_STATES,
    AdmissionState,
    CaseOrigin,
    Partner,
    PartnerApplication,
    PartnerReview,
    ReviewState,
)
from onboarding.selectors import partner_branch_approver, partner_list, partner_makers
from organisation.models import User
from organisation.services import user_sees_all_branches

HEAD_OFFICE_PERMISSION = "onboarding.approve_partner_head_office"
VIEW_PERMISSION = "onboarding.view_partner"


class Action(models.TextChoices):
    SUBMIT = "submit", _("Submit")
    ASSIGN_REVIEWER = "assign_reviewer", _("Assign reviewer")
    REQUEST_INFO = "request_info", _("Request more information")
    RESUBMIT = "resubmit", _("Resubmit")
    APPROVE = "approve", _("Approve")
    APPROVE_HEAD_OFFICE = "approve_head_office", _("Approve (head office)")
    REJECT = "reject", _("Reject")
    CONTRACT = "contract", _("Record signed contract")
    ACTIVATE = "activate", _("Activate")
    SUSPEND = "suspend", _("Suspend")
    REINSTATE = "reinstate", _("Reinstate")
    TERMINATE = "terminate", _("Terminate")
    DECIDE_EVIDENCE = "decide_evidence", _("Decide evidence")
    EDIT = "edit", _("Edit the case")
    CHANGE_TIER = "change_tier", _("Change tier")


# The state-machine methods behind each action; approve picks one of two by the case's risk and type.
TRANSITION_METHODS: dict[str, tuple[str, ...]] = {
    Action.SUBMIT: ("submit",),
    Action.ASSIGN_REVIEWER: ("assign_reviewer",),
    Action.REQUEST_INFO: ("request_info",),
    Action.RESUBMIT: ("resubmit",),
    Action.APPROVE: ("approve", "refer_to_head_office"),
    Action.APPROVE_HEAD_OFFICE: ("approve_head_office",),
    Action.REJECT: ("reject",),
    Action.CONTRACT: ("sign_contract",),
    Action.ACTIVATE: ("activate",),
    Action.SUSPEND: ("suspend",),
    Action.REINSTATE: ("reinstate",),
    Action.TERMINATE: ("terminate",),
}

# Actions that are not state changes: the states they are allowed in and their permission.
ADMITTED_STATES = (
    AdmissionState.APPROVED,
    AdmissionState.CONTRACTED,
    AdmissionState.ACTIVE,
    AdmissionState.SUSPENDED,
)
OTHER_ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    Action.DECIDE_EVIDENCE: ((AdmissionState.UNDER_REVIEW,), "onboarding.review_partner"),
    Action.EDIT: (EDITABLE_STATES, "onboarding.change_partner"),
    Action.CHANGE_TIER: (ADMITTED_STATES, "onboarding.change_partner_tier"),
}

# While a case is under review only its assigned reviewer (or head office) decides it.
DECIDER_ACTIONS = {
    Action.ASSIGN_REVIEWER,
    Action.REQUEST_INFO,
    Action.APPROVE,
    Action.REJECT,
    Action.DECIDE_EVIDENCE,
}
# Maker-checker: none of the case's makers may take these.
CHECKER_ACTIONS = {Action.DECIDE_EVIDENCE, Action.REQUEST_INFO, Action.APPROVE, Action.APPROVE_HEAD_OFFICE}


# What an applicant may do to their own case in the portal: record its evidence, submit and resubmit it.
APPLICANT_ACTIONS = {Action.EDIT, Action.SUBMIT, Action.RESUBMIT}
# While an admitted partner's re-review is open its evidence is refreshed and decided, the partner staying active.
REVIEW_ACTIONS = {Action.EDIT: "onboarding.change_partner", Action.DECIDE_EVIDENCE: "onboarding.review_partner"}


def user_is_applicant(user: User, partner: Partner) -> bool:
    """Whether ``user`` is the confirmed applicant of this self-application case."""
    if partner.origin != CaseOrigin.SELF_APPLICATION or not user.is_authenticated or user.is_staff:
        return False
    return PartnerApplication.objects.filter(
        partner_id=partner.pk, applicant_id=user.pk, email_confirmed_at__isnull=False
    ).exists()


def user_is_partner_user(user: User, partner: Partner) -> bool:
    """Whether ``user`` is one of the partner's own portal users (not bank staff)."""
    return user.is_authenticated and not user.is_staff and user.partner_id == partner.pk


def partner_review_running(*, partner: Partner) -> bool:
    """An admitted partner whose re-review is open (its evidence may be refreshed and decided)."""
    if partner.state not in (AdmissionState.ACTIVE, AdmissionState.SUSPENDED):
        return False
    return PartnerReview.objects.filter(partner_id=partner.pk, state=ReviewState.OPEN).exists()


def user_is_head_office(user: User) -> bool:
    return user.is_active and user.has_perm(HEAD_OFFICE_PERMISSION)


def user_in_scope(user: User, partner: Partner) -> bool:
    """A branch's staff act on their branch's partners; head office on all."""
    return user_sees_all_branches(user) or (user.branch_id is not None and user.branch_id == partner.branch_id)


def authorise_view(*, partner: Partner, user: User) -> None:
    """Raise ``NotPermitted`` unless ``user`` may see the partner (and so read its evidence).

    The same rule as the partner's own admin pages: the view permission, and the
    partner among those ``selectors.partner_list`` gives the user.
    """
    if not (user.is_active and user.has_perm(VIEW_PERMISSION)):
        raise NotPermitted(_("You may not see this partner."))
    if not partner_list(user=user).filter(pk=partner.pk).exists():
        raise NotPermitted(_("This partner belongs to another branch."))


def transitions_for(partner: Partner, action: str) -> list[Transition]:
    """The state-machine transitions ``action`` may take from the partner's current state (conditions aside)."""
    found = []
    for name in TRANSITION_METHODS.get(action, ()):
        transition = getattr(Partner, name)._django_fsm.get_transition(partner.state)
        if transition is not None:
            found.append(transition)
    return found


def authorise(*, action: str, partner: Partner, user: User, makers: set[int] | None = None) -> None:
    """Raise ``NotPermitted``/``MakerChecker``/``InvalidState`` unless ``user`` may take ``action`` now."""
    label = Action(action).label
    applicant = user_is_applicant(user, partner)
    own = not applicant and user_is_partner_user(user, partner)
    if not user.is_active or not (applicant or own or user_in_scope(user, partner)):
        raise NotPermitted(_("This partner belongs to another branch."))
    if applicant and action not in APPLICANT_ACTIONS:
        raise NotPermitted(_("You do not have the permission to “%(action)s”.") % {"action": label})
    # A partner's own users refresh its evidence in the portal while its re-review is open, and nothing else.
    if own and not (action == Action.EDIT and partner_review_running(partner=partner)):
        raise NotPermitted(_("You do not have the permission to “%(action)s”.") % {"action": label})
    reviewing = action in REVIEW_ACTIONS and partner_review_running(partner=partner)

    if reviewing:
        permission = REVIEW_ACTIONS[action]
    elif action in TRANSITION_METHODS:
        transitions = transitions_for(partner, action)
        if not transitions:
            raise InvalidState(
                _("“%(action)s” is not possible while the case is %(state)s.")
                % {"action": label, "state": partner.get_state_display()}
            )
        permission = transitions[0].permission
    else:
        states, permission = OTHER_ACTIONS[action]
        if partner.state not in states:
            raise InvalidState(
                _("“%(action)s” is not possible while the case is %(state)s.")
                % {"action": label, "state": partner.get_state_display()}
            )
    # An applicant, or a partner's own user, acts on their own case in the portal without staff permissions
    # (scope and action checked above).
    if not (applicant or own) and not user.has_perm(permission):
        raise NotPermitted(_("You do not have the permission to “%(action)s”.") % {"action": label})

    head_office = user_is_head_office(user)
    if (
        action in DECIDER_ACTIONS
        and partner.state == AdmissionState.UNDER_REVIEW
        and not head_office
        and user.pk != partner.assigned_reviewer_id
    ):
        raise NotPermitted(
            _("Only the assigned reviewer (%(reviewer)s) or head office can decide this case.")
            % {"reviewer": partner.assigned_reviewer or "-"}
        )
    if action == Action.REJECT and partner.state == AdmissionState.PENDING_HEAD_OFFICE and not head_office:
        raise NotPermitted(_("Only head office can decide a case awaiting head-office approval."))

    if action in CHECKER_ACTIONS:
        if makers is None:
            makers = partner_makers(partner=partner)
        if user.pk in makers:
            raise MakerChecker(
                _("You prepared or submitted this case, so someone else must decide it (maker-checker).")
            )
    if action == Action.APPROVE_HEAD_OFFICE and user.pk == partner_branch_approver(partner=partner):
        raise MakerChecker(_("You gave the branch approval; the head-office approval must come from someone else."))


def allowed_actions(*, partner: Partner, user: User) -> list[Action]:
    """The actions ``user`` may take on the case now (evidence completeness aside: that is reported on use)."""
    makers = partner_makers(partner=partner)
    allowed = []
    for action in Action:
        try:
            authorise(action=action, partner=partner, user=user, makers=makers)
        except (NotPermitted, InvalidState):
            continue
        allowed.append(action)
    return allowed
