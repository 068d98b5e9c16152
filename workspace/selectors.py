"""Reads of the workspace: the dashboard panels of each role and the inbox.

Every panel is one query: its first rows and, by a window count, how many
there are in all (``django_assert_num_queries`` pins it in the tests). What a
panel shows is the queue of work one role acts on next; each row links to
its object's admin page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm_log.models import StateLog

from onboarding.models import (
    REVIEW_RUNNING_STATES,
    AdmissionState,
    EvidenceItem,
    EvidenceRequirement,
    Partner,
    PartnerReview,
)
from onboarding.selectors import partner_list
from organisation.models import User
from organisation.roles import Role
from revenue.settlement.choices import ACTIVE_RUN_STATES, DisputeState, RunState, SettlementState
from revenue.settlement.models import Settlement, SettlementDispute, SettlementRun
from revenue.settlement.selectors import settlement_list, settlement_run_list
from workspace.models import Notification

PANEL_ROWS = 8  # rows shown per panel; the count says how many there are in all


@dataclass
class Row:
    label: str
    url: str
    detail: str = ""
    days_waiting: int | None = None


@dataclass
class Panel:
    key: str
    title: str
    count: int
    rows: list[Row] = field(default_factory=list)
    more_url: str = ""
    empty: str = ""


def _first_rows(qs: QuerySet) -> tuple[list, int]:
    """The first ``PANEL_ROWS`` objects and the total, in one query (a window count over the filtered rows)."""
    objects = list(qs.annotate(panel_total=Window(Count("pk")))[:PANEL_ROWS])
    return objects, (objects[0].panel_total if objects else 0)


def _change_url(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def _days(since: dt.datetime | None, now: dt.datetime) -> int | None:
    return None if since is None else max(0, (now - since).days)


def _money(value) -> str:
    return f"{value:,.2f}"


# ---- admission ----------------------------------------------------------------------------------


def _waiting_since() -> Subquery:
    """When the case last changed state (its latest log entry): how long it has waited for its next step."""
    latest = StateLog.objects.filter(
        content_type__app_label="onboarding", content_type__model="partner", object_id=OuterRef("pk")
    ).order_by("-timestamp", "-pk")
    return Subquery(latest.values("timestamp")[:1])


def _missing_evidence() -> Exists:
    """A required evidence item is not recorded: ``selectors.evidence_missing``, set-based."""
    recorded = EvidenceItem.objects.filter(partner=OuterRef(OuterRef("pk"))).exclude(reference="")
    return Exists(
        EvidenceRequirement.objects.filter(partner_type=OuterRef("partner_type"), is_required=True).exclude(
            pk__in=recorded.values("requirement_id")
        )
    )


def _case_panel(key, title, qs: QuerySet[Partner], *, more_url: str, empty, now) -> Panel:
    qs = qs.annotate(waiting_since=_waiting_since()).select_related("branch", "relationship_manager")
    cases, count = _first_rows(qs.order_by(F("waiting_since").asc(nulls_first=True), "pk"))
    rows = [
        Row(
            label=case.legal_name,
            url=_change_url(case),
            detail=f"{case.get_partner_type_display()} · {case.branch} · {case.relationship_manager}",
            days_waiting=_days(case.waiting_since or case.created_at, now),
        )
        for case in cases
    ]
    return Panel(key=key, title=title, count=count, rows=rows, more_url=more_url, empty=empty)


def _partners_url(**filters) -> str:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return f"{reverse('admin:onboarding_partner_changelist')}?{query}"


def cases_by_state_panel(user: User) -> Panel:
    counts = partner_list(user=user).values("state").annotate(n=Count("pk")).order_by()
    by_state = {row["state"]: row["n"] for row in counts}
    rows = [
        Row(label=str(label), url=_partners_url(state__exact=state), detail=str(by_state[state]))
        for state, label in AdmissionState.choices
        if by_state.get(state)
    ]
    return Panel(
        key="cases_by_state",
        title=_("Cases of my branch by state"),
        count=sum(by_state.values()),
        rows=rows,
        more_url=reverse("admin:onboarding_partner_changelist"),
        empty=_("No cases yet."),
    )


def drafts_missing_evidence_panel(user: User, now) -> Panel:
    qs = partner_list(user=user).filter(_missing_evidence(), state=AdmissionState.DRAFT)
    return _case_panel(
        "drafts_missing_evidence",
        _("Drafts with missing evidence"),
        qs,
        more_url=_partners_url(state__exact=AdmissionState.DRAFT),
        empty=_("Every draft has its required evidence."),
        now=now,
    )


def returned_cases_panel(user: User, now) -> Panel:
    return _case_panel(
        "returned_cases",
        _("Returned for more information"),
        partner_list(user=user).filter(state=AdmissionState.NEEDS_INFO),
        more_url=_partners_url(state__exact=AdmissionState.NEEDS_INFO),
        empty=_("No case is waiting for your answer."),
        now=now,
    )


def assigned_cases_panel(user: User, now) -> Panel:
    return _case_panel(
        "assigned_cases",
        _("Cases assigned to me"),
        partner_list(user=user).filter(state=AdmissionState.UNDER_REVIEW, assigned_reviewer=user),
        more_url=_partners_url(state__exact=AdmissionState.UNDER_REVIEW),
        empty=_("No case is assigned to you."),
        now=now,
    )


def unassigned_cases_panel(user: User, now) -> Panel:
    qs = partner_list(user=user).filter(state__in=(AdmissionState.SUBMITTED, AdmissionState.RESUBMITTED))
    return _case_panel(
        "unassigned_cases",
        _("Submitted cases without a reviewer"),
        qs,
        more_url=_partners_url(state__exact=AdmissionState.SUBMITTED),
        empty=_("No submitted case is waiting for a reviewer."),
        now=now,
    )


def head_office_cases_panel(user: User, now) -> Panel:
    return _case_panel(
        "head_office_cases",
        _("Awaiting head-office approval"),
        partner_list(user=user).filter(state=AdmissionState.PENDING_HEAD_OFFICE),
        more_url=_partners_url(state__exact=AdmissionState.PENDING_HEAD_OFFICE),
        empty=_("No case awaits head-office approval."),
        now=now,
    )


def rereviews_due_panel(user: User, now) -> Panel:
    """Running periodic re-reviews (年审) of the partners the user sees, the nearest due date first."""
    today = timezone.localdate(now)
    qs = (
        PartnerReview.objects.filter(state__in=REVIEW_RUNNING_STATES, partner__in=partner_list(user=user))
        .select_related("partner")
        .order_by("due_on", "pk")
    )
    reviews, count = _first_rows(qs)
    rows = []
    for review in reviews:
        days = (review.due_on - today).days
        when = (
            _("overdue by %(days)s days") % {"days": -days}
            if days < 0
            else _("due %(date)s, in %(days)s days") % {"date": review.due_on, "days": days}
        )
        rows.append(
            Row(
                label=review.partner.legal_name,
                url=_change_url(review),
                detail=f"{review.get_state_display()} · {when}",
            )
        )
    return Panel(
        key="rereviews_due",
        title=_("Re-reviews due"),
        count=count,
        rows=rows,
        more_url=f"{reverse('admin:onboarding_partnerreview_changelist')}?due=due",
        empty=_("No re-review is running."),
    )


# ---- settlement ---------------------------------------------------------------------------------


def _settlement_rows(settlements) -> list[Row]:
    return [
        Row(
            label=f"{s.partner.legal_name} · {s.period}",
            url=_change_url(s),
            detail=f"{s.get_state_display()} · {_('payable')} {_money(s.payable)}",
        )
        for s in settlements
    ]


def _settlements_url(**filters) -> str:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return f"{reverse('admin:settlement_settlement_changelist')}?{query}"


def last_settlements_panel(user: User) -> Panel:
    """The latest settlement of each partner the RM looks after."""
    latest = Settlement.objects.filter(partner=OuterRef("partner")).order_by("-period__start").values("pk")[:1]
    qs = settlement_list(user=user).filter(partner__relationship_manager=user, pk=Subquery(latest))
    settlements, count = _first_rows(qs.order_by("-period__start", "partner__legal_name"))
    return Panel(
        key="last_settlements",
        title=_("My partners' last settlement"),
        count=count,
        rows=_settlement_rows(settlements),
        more_url=reverse("admin:settlement_settlement_changelist"),
        empty=_("None of your partners has a settlement yet."),
    )


def settlements_to_approve_panel(user: User) -> Panel:
    """Closed settlements this user may approve: not closed by them nor by a run they started (maker-checker)."""
    qs = (
        settlement_list(user=user)
        .filter(state=SettlementState.CLOSED)
        .exclude(closed_by=user)
        .exclude(run__triggered_by=user)
    )
    settlements, count = _first_rows(qs.order_by("period__start", "partner__legal_name", "pk"))
    return Panel(
        key="settlements_to_approve",
        title=_("Closed settlements awaiting your approval"),
        count=count,
        rows=_settlement_rows(settlements),
        more_url=_settlements_url(state__exact=SettlementState.CLOSED),
        empty=_("No closed settlement awaits your approval."),
    )


def settlements_to_pay_panel(user: User) -> Panel:
    qs = settlement_list(user=user).filter(state=SettlementState.APPROVED, carried_forward=False, payable__gt=0)
    settlements, count = _first_rows(qs.order_by("approved_at", "pk"))
    return Panel(
        key="settlements_to_pay",
        title=_("Approved, awaiting payment"),
        count=count,
        rows=_settlement_rows(settlements),
        more_url=_settlements_url(state__exact=SettlementState.APPROVED),
        empty=_("No approved settlement awaits payment."),
    )


def open_disputes_panel(user: User, now) -> Panel:
    visible = settlement_list(user=user).values("pk")
    qs = SettlementDispute.objects.filter(state=DisputeState.OPEN, settlement__in=visible).select_related(
        "settlement__partner", "settlement__period", "line__product"
    )
    disputes, count = _first_rows(qs.order_by("raised_at", "pk"))
    rows = [
        Row(
            label=f"{d.settlement.partner.legal_name} · {d.settlement.period}",
            url=_change_url(d),
            detail=(d.line.product.name if d.line.product_id else d.line.get_kind_display()),
            days_waiting=_days(d.raised_at, now),
        )
        for d in disputes
    ]
    return Panel(
        key="open_disputes",
        title=_("Disputes to decide"),
        count=count,
        rows=rows,
        more_url=f"{reverse('admin:settlement_settlementdispute_changelist')}?state__exact={DisputeState.OPEN}",
        empty=_("No open dispute."),
    )


def stalled_runs(qs: QuerySet[SettlementRun], now: dt.datetime) -> QuerySet[SettlementRun]:
    """Failed runs, and active ones silent longer than the longest task may run (``runs.run_is_stalled``, set-based)."""
    silent_since = now - dt.timedelta(seconds=settings.CELERY_LONGEST_TASK_SECONDS)
    qs = qs.annotate(last_progress=Coalesce("heartbeat_at", "started_at", "created_at"))
    return qs.filter(Q(state=RunState.FAILED) | Q(state__in=ACTIVE_RUN_STATES, last_progress__lt=silent_since))


def failed_runs_panel(user: User, now) -> Panel:
    qs = stalled_runs(settlement_run_list(user=user), now)
    runs, count = _first_rows(qs.order_by("-created_at", "-pk"))
    rows = [
        Row(
            label=str(run),
            url=_change_url(run),
            detail=(run.get_state_display() if run.state == RunState.FAILED else str(_("no progress")))
            + (f" · {run.error[:80]}" if run.error else ""),
            days_waiting=_days(run.last_progress, now),
        )
        for run in runs
    ]
    return Panel(
        key="failed_runs",
        title=_("Failed or stalled settlement runs"),
        count=count,
        rows=rows,
        more_url=f"{reverse('admin:settlement_settlementrun_changelist')}?state__exact={RunState.FAILED}",
        empty=_("Every run completed or is progressing."),
    )


# ---- the dashboard ------------------------------------------------------------------------------


@dataclass
class Section:
    role: str
    title: str
    panels: list[Panel]


def dashboard(*, user: User) -> list[Section]:
    """The sections of the user's admin index, one per staff role they hold, in the order the work flows."""
    if not (user.is_active and user.is_staff):
        return []
    roles = set(user.groups.values_list("name", flat=True))
    now = timezone.now()
    sections = []
    if Role.BRANCH_RM in roles:
        sections.append(
            Section(
                Role.BRANCH_RM,
                Role.BRANCH_RM.label,
                [
                    drafts_missing_evidence_panel(user, now),
                    returned_cases_panel(user, now),
                    rereviews_due_panel(user, now),
                    cases_by_state_panel(user),
                    last_settlements_panel(user),
                ],
            )
        )
    if Role.RISK_REVIEWER in roles:
        sections.append(
            Section(
                Role.RISK_REVIEWER,
                Role.RISK_REVIEWER.label,
                [assigned_cases_panel(user, now), unassigned_cases_panel(user, now)],
            )
        )
    if Role.HEAD_OFFICE_ADMIN in roles:
        sections.append(
            Section(
                Role.HEAD_OFFICE_ADMIN,
                Role.HEAD_OFFICE_ADMIN.label,
                [head_office_cases_panel(user, now), failed_runs_panel(user, now), open_disputes_panel(user, now)],
            )
        )
    if Role.FINANCE in roles:
        panels = [settlements_to_approve_panel(user), settlements_to_pay_panel(user)]
        if Role.HEAD_OFFICE_ADMIN not in roles:  # head office's section lists the open disputes already
            panels.append(open_disputes_panel(user, now))
        sections.append(Section(Role.FINANCE, Role.FINANCE.label, panels))
    return sections


def notification_list(*, user: User) -> QuerySet[Notification]:
    """The user's own notifications, newest first (nobody reads another's)."""
    return Notification.objects.filter(recipient=user).select_related("actor")


def unread_count(*, user: User) -> int:
    if not (user.is_authenticated and user.is_active):
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
