"""Settlement admin (imported by ``revenue/admin.py``): thin, every write goes through the services.

* Runs: progress, counts and timings while they run; start an accrual or a
  close, resume a failed run, and preview a close (dry run, optionally under a
  proposed agreement version) — head office and finance.
* Settlements: read-only with their lines; approve (maker-checker) and mark
  paid (finance); each ledger line drills down to its transactions, listed
  and exported as CSV. RMs see their branch's partners, head office and
  finance every branch.
* Disputes: resolved into an adjustment of the next open period, or rejected.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core.admin import (
    RECORDS_TEMPLATE,
    ReadOnlyAdminMixin,
    count_column,
    error_text,
    money_column,
    percent_column,
    time_column,
    truncated,
    user_role_names,
)
from core.errors import ApplicationError
from core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from core.periods import Period
from core.spreadsheets import (
    CSV_CONTENT_TYPE,
    XLSX_CONTENT_TYPE,
    ExportParameterError,
    csv_export,
    export_filename,
    export_format,
    export_language,
    xlsx_export,
)
from onboarding.selectors import partner_list
from organisation.roles import Role
from organisation.services import user_sees_all_branches
from revenue.ledger.models import AgreementVersion
from revenue.ledger.selectors import agreement_version_list
from revenue.settlement import services
from revenue.settlement.choices import DisputeState, LineKind, RunKind, RunState, RunTrigger, SettlementState
from revenue.settlement.exports import (
    ATTRIBUTION_EXPORT_COLUMNS,
    SETTLEMENT_EXPORT_COLUMNS,
    attribution_export_rows,
    settlement_export_queryset,
    settlement_export_rows,
)
from revenue.settlement.models import (
    Settlement,
    SettlementDispute,
    SettlementLine,
    SettlementPeriod,
    SettlementRun,
    SettlementRunChunk,
)
from revenue.settlement.selectors import (
    attributions_for_export,
    line_notes_shown,
    settlement_attributions,
    settlement_line_attributions,
    settlement_list,
    settlement_run_list,
)


def _money(value) -> str:
    return "—" if value is None else f"{value:,.2f}"


# ---- periods and runs ------------------------------------------------------------------------


@admin.register(SettlementPeriod)
class SettlementPeriodAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "state", "lower_watermark", "close_watermark", "closed_at_time", "closed_by")
    list_filter = ("state",)
    readonly_fields = list_display[1:]
    closed_at_time = time_column(SettlementPeriod, "closed_at")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if user_sees_all_branches(request.user) else qs.none()


class ChunkInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SettlementRunChunk
    template = RECORDS_TEMPLATE
    fields = ("number", "after_partner_id", "upto_partner_id", "partners", "done", "settlements", "lines")
    fields += ("seconds", "attempts", "error")
    readonly_fields = fields
    extra = 0


class RunStartForm(forms.Form):
    period = forms.RegexField(label=_("period"), regex=r"^\d{4}-\d{2}$", help_text=_("YYYY-MM, e.g. 2026-10"))
    kind = forms.ChoiceField(label=_("kind"), choices=RunKind.choices, initial=RunKind.ACCRUAL)


class DryRunForm(forms.Form):
    period = forms.RegexField(label=_("period"), regex=r"^\d{4}-\d{2}$", help_text=_("YYYY-MM, e.g. 2026-10"))
    partner = forms.ModelChoiceField(label=_("partner"), queryset=None, required=False)
    proposed_version = forms.ModelChoiceField(
        label=_("proposed agreement version"),
        queryset=AgreementVersion.objects.none(),
        required=False,
        help_text=_("Compute the period under this version where its agreement applies (e.g. one not yet in force)."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = partner_list(user=user).order_by("legal_name")
        # Another branch's partner-specific terms are not shown to a branch's staff.
        self.fields["proposed_version"].queryset = agreement_version_list(user=user)


@admin.register(SettlementRun)
class SettlementRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("run_number", "period", "kind", "state", "progress_bar", "partners", "settlements")
    list_display += ("shares", "retained", "started", "took")
    list_filter = ("kind", "state", "period")
    list_select_related = ("period", "triggered_by")
    readonly_fields = (
        "period",
        "kind",
        "state",
        "attempt",
        "trigger",
        "triggered_by",
        "lower_watermark",
        "watermark",
        "progress_bar",
        "chunks_total",
        "chunks_done",
        "partners",
        "settlements",
        "lines",
        "attributions",
        "inactive",
        "bank_revenue",
        "shares",
        "retained",
        "created",
        "started",
        "heartbeat",
        "finished",
        "took",
        "timings_table",
        "error",
        "celery_task_id",
    )
    fields = readonly_fields
    inlines = (ChunkInline,)
    actions = ("resume_runs",)

    def get_queryset(self, request):
        return settlement_run_list(user=request.user)

    partners = count_column(SettlementRun, "partners_count")
    settlements = count_column(SettlementRun, "settlements_count")
    lines = count_column(SettlementRun, "lines_count")
    attributions = count_column(SettlementRun, "attributions_count")
    inactive = count_column(SettlementRun, "inactive_count")
    bank_revenue = money_column(SettlementRun, "bank_revenue_total")
    shares = money_column(SettlementRun, "share_total")
    retained = money_column(SettlementRun, "retained_total")
    created = time_column(SettlementRun, "created_at")
    started = time_column(SettlementRun, "started_at")
    heartbeat = time_column(SettlementRun, "heartbeat_at")
    finished = time_column(SettlementRun, "finished_at")

    @admin.display(description=_("run"), ordering="pk")
    def run_number(self, obj: SettlementRun) -> str:
        return f"#{obj.pk}"

    @admin.display(description=_("phase timings"))
    def timings_table(self, obj: SettlementRun):
        rows = run_timing_rows(obj)
        if not rows:
            return "—"
        return format_html(
            '<table class="run-timings"><thead><tr><th>{}</th><th style="text-align:right">{}</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            _("phase"),
            _("seconds"),
            format_html_join(
                "", '<tr><td>{}</td><td style="text-align:right">{}</td></tr>', ((label, s) for label, s in rows)
            ),
        )

    # ---- the run's page: phases, a progress bar, timings as a table; refreshes while it runs ------

    def get_fields(self, request, obj=None):
        # The page's own progress panel (phases and chunks) replaces the list's progress column.
        return [name for name in super().get_fields(request, obj) if name != "progress_bar"]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        run = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        if run is not None:
            extra_context["run_phases"] = run_phases(run)
            extra_context["run_refresh_seconds"] = RUN_REFRESH_SECONDS if run.is_active else None
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("progress"))
    def progress_bar(self, obj: SettlementRun):
        return format_html(
            '<progress max="100" value="{}" title="{}/{}"></progress> {}%',
            obj.progress,
            obj.chunks_done,
            obj.chunks_total,
            obj.progress,
        )

    @admin.display(description=_("took"))
    def took(self, obj: SettlementRun):
        duration = obj.duration
        return format_html('<span class="num">{}</span>', f"{duration.total_seconds():,.1f} s") if duration else "—"

    def _can_run(self, request) -> bool:
        return request.user.has_perm("settlement.run_settlement")

    def _can_preview(self, request) -> bool:
        return request.user.has_perm("settlement.preview_settlement")

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self._can_run(request):
            actions.pop("resume_runs", None)
        return actions

    @admin.action(description=_("Resume the selected runs (failed or stalled)"))
    def resume_runs(self, request, queryset):
        for run in queryset:
            try:
                services.settlement_run_resume(run=run, by=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"#{run.pk}: {error_text(exc)}", messages.ERROR)
            else:
                self.message_user(request, _("Run #%(id)s resumed.") % {"id": run.pk}, messages.SUCCESS)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_run": self._can_run(request),
            "can_preview": self._can_preview(request),
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        return [
            path("start/", self.admin_site.admin_view(self.start_view), name="settlement_settlementrun_start"),
            path("dry-run/", self.admin_site.admin_view(self.dry_run_view), name="settlement_settlementrun_dry_run"),
            *super().get_urls(),
        ]

    def _context(self, request, title, **extra):
        return {**self.admin_site.each_context(request), "title": title, "opts": self.model._meta, **extra}

    def start_view(self, request):
        if not self._can_run(request):
            raise PermissionDenied
        form = RunStartForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                run = services.settlement_run_start(
                    period=Period.parse(form.cleaned_data["period"]),
                    kind=form.cleaned_data["kind"],
                    by=request.user,
                    trigger=RunTrigger.ADMIN,
                )
            except (ApplicationError, ValueError) as exc:
                self.message_user(request, error_text(exc), messages.ERROR)
            else:
                self.message_user(
                    request, _("Run #%(id)s started: %(run)s.") % {"id": run.pk, "run": run}, messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:settlement_settlementrun_change", args=[run.pk]))
        return TemplateResponse(
            request, "admin/settlement/settlementrun/start.html", self._context(request, _("Start a run"), form=form)
        )

    def dry_run_view(self, request):
        if not self._can_preview(request):
            raise PermissionDenied
        form = DryRunForm(request.GET or None, user=request.user)
        result = None
        if request.GET and form.is_valid():
            try:
                result = services.settlement_dry_run(
                    period=Period.parse(form.cleaned_data["period"]),
                    by=request.user,
                    proposed_version=form.cleaned_data["proposed_version"],
                    partner=form.cleaned_data["partner"],
                )
            except (ApplicationError, ValueError) as exc:
                self.message_user(request, error_text(exc), messages.ERROR)
        rows = []
        if result is not None:
            for draft in result.settlements[:500]:
                actual = result.actual.get(draft.partner_id)
                rows.append(
                    {
                        "partner": result.partner_names.get(draft.partner_id, draft.partner_id),
                        "draft": draft,
                        "actual": actual,
                        "lines": [
                            (line, result.product_names.get(line.product_id, ""), LineKind(line.kind).label)
                            for line in draft.lines
                        ]
                        if result.partner
                        else [],
                    }
                )
        return TemplateResponse(
            request,
            "admin/settlement/settlementrun/dry_run.html",
            self._context(request, _("Dry run of a close"), form=form, result=result, rows=rows),
        )


# The run's page reloads itself this often while the run is pending or running.
RUN_REFRESH_SECONDS = 5

# The phases of a run in order, with the key of their timing (seconds) in ``SettlementRun.timings``.
RUN_PHASES = (
    ("watermark", _("Watermark taken")),
    ("aggregate", _("Window aggregated")),
    ("chunks", _("Partners settled in chunks")),
    ("check", _("Conservation check")),
    ("finish", _("Finished")),
)
RUN_TIMING_LABELS = {
    **dict(RUN_PHASES),
    "chunks_cpu": _("Chunks, summed over the workers"),
    "total": _("Total"),
}


def _seconds(value) -> str:
    return f"{value:,.1f}"


def run_timing_rows(run: SettlementRun) -> list[tuple[str, str]]:
    """The run's recorded timings as (phase, seconds) rows in the phases' order; internal markers left out."""
    timings = run.timings or {}
    order = [key for key, _label in RUN_PHASES] + ["chunks_cpu", "total"]
    return [
        (str(RUN_TIMING_LABELS[key]), _seconds(timings[key]))
        for key in order
        if isinstance(timings.get(key), (int, float))
    ]


def run_phases(run: SettlementRun) -> dict:
    """Each phase done, current or waiting (failed where the run stopped), and the overall progress."""
    timings = run.timings or {}
    completed = run.state == RunState.COMPLETED
    steps, current_found = [], False
    for key, label in RUN_PHASES:
        if key == "chunks":
            done = completed or (run.chunks_total > 0 and run.chunks_done >= run.chunks_total)
        else:
            done = completed or key in timings
        if done:
            status = "done"
        elif not current_found:
            current_found = True
            status = "failed" if run.state == RunState.FAILED else ("current" if run.is_active else "waiting")
        else:
            status = "waiting"
        detail = f"{run.chunks_done}/{run.chunks_total}" if key == "chunks" and run.chunks_total else ""
        steps.append({"key": key, "label": label, "status": status, "detail": detail})
    # The phases done, with the chunk phase counted by its chunks while it runs.
    done_steps = sum(1 for step in steps if step["status"] == "done")
    chunk_share = run.chunks_done / run.chunks_total if run.chunks_total and steps[2]["status"] != "done" else 0
    percent = 100 if completed else int(100 * (done_steps + chunk_share) / len(steps))
    return {"steps": steps, "percent": percent, "state": run.state, "state_label": run.get_state_display()}


# ---- settlements -----------------------------------------------------------------------------


class LineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SettlementLine
    fk_name = "settlement"
    template = RECORDS_TEMPLATE
    # Narrow enough for a 1366-pixel screen: the rule, its version and the description share one cell.
    fields = ("position", "kind", "product", "corrects", "counts", "volume_cell", "bank_revenue_cell")
    fields += ("rule", "previous_share_cell", "share_cell", "transactions")
    readonly_fields = fields
    extra = 0
    ordering = ("position",)

    def has_view_permission(self, request, obj=None):
        return True  # shown to whoever may see the settlement

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("product", "agreement_version__agreement__product", "carried_from__period")
        )

    @admin.display(description=_("notes"))
    def notes(self, line: SettlementLine):
        # Worded as on the statement and the portal (revenue.vocabulary).
        return format_html_join(mark_safe("<br>"), "{}", ((note,) for note in line_notes_shown(line))) or "—"

    volume_cell = money_column(SettlementLine, "volume")
    bank_revenue_cell = money_column(SettlementLine, "bank_revenue")
    previous_share_cell = money_column(SettlementLine, "previous_share")
    share_cell = money_column(SettlementLine, "share")

    @admin.display(description=SettlementLine._meta.get_field("corrects_period").verbose_name)
    def corrects(self, line: SettlementLine) -> str:
        return str(line.corrected_period) if line.corrects_period else "—"

    @admin.display(description=_("transactions (reversals)"))
    def counts(self, line: SettlementLine):
        # Whole counts, as the statement prints them; the co-served weight is among the line's notes.
        if line.reversal_count:
            return format_html(
                '<span class="num">{} ({})</span>', f"{line.transaction_count:,}", f"{line.reversal_count:,}"
            )
        return format_html('<span class="num">{}</span>', f"{line.transaction_count:,}")

    @admin.display(description=_("rule and notes"))
    def rule(self, line: SettlementLine):
        parts = [line.rule_description, str(line.agreement_version or ""), line.description]
        text = " · ".join(part for part in parts if part)
        rule = truncated(text, width="16em") if text else "—"
        notes = line_notes_shown(line)  # the limit, the tier, the co-served weight, a correction (revenue.vocabulary)
        if not notes:
            return rule
        return format_html(
            '{}<br><small class="line-notes">{}</small>',
            rule,
            format_html_join(mark_safe("<br>"), "{}", ((note,) for note in notes)),
        )

    @admin.display(description=_("ledger"))
    def transactions(self, line: SettlementLine):
        if line.kind not in (LineKind.PRODUCT, LineKind.ADJUSTMENT):
            return "—"
        url = reverse("admin:settlement_settlement_line", args=[line.settlement_id, line.pk])
        return format_html(
            '<a href="{}">{}</a> · <a href="{}csv/">CSV</a> · <a href="{}xlsx/">XLSX</a>', url, _("list"), url, url
        )


class MarkPaidForm(forms.Form):
    payment_reference = forms.CharField(label=_("payment reference"), max_length=64)


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("partner_name", "period", "state", "shares", "adjustments", "net_amount", "vat_amount")
    list_display += ("payable_amount", "open_disputes")
    # Branch staff follow their partners' business; finance and head office the money owed.
    branch_list_display = ("partner_name", "period", "state", "transactions", "revenue", "shares")
    branch_list_display += ("payable_amount", "open_disputes")
    list_filter = ("state", "carried_forward", "period")
    search_fields = ("partner__legal_name", "=partner__credit_code", "=payment_reference")
    list_select_related = ("partner", "period")
    inlines = (LineInline,)
    actions = ("approve_settlements", "mark_paid")
    fields = (
        ("partner", "period", "state"),
        ("transactions", "revenue"),
        ("shares", "adjustments", "carried_in_amount"),
        ("net_amount", "vat_percent", "vat_amount", "payable_amount", "carried_forward"),
        ("watermark_from", "watermark_to", "run"),
        ("computed", "closed", "closed_by"),
        ("approved", "approved_by"),
        ("paid", "paid_by", "payment_reference"),
        ("statement_files",),
    )
    readonly_fields = [f for group in fields for f in group]
    transactions = count_column(Settlement, "transaction_count")
    revenue = money_column(Settlement, "bank_revenue")
    shares = money_column(Settlement, "share_total")
    adjustments = money_column(Settlement, "adjustment_total")
    carried_in_amount = money_column(Settlement, "carried_in")
    net_amount = money_column(Settlement, "net")
    vat_percent = percent_column(Settlement, "vat_rate")
    vat_amount = money_column(Settlement, "vat")
    payable_amount = money_column(Settlement, "payable")
    computed = time_column(Settlement, "computed_at")
    closed = time_column(Settlement, "closed_at")
    approved = time_column(Settlement, "approved_at")
    paid = time_column(Settlement, "paid_at")

    @admin.display(description=_("partner"), ordering="partner__legal_name")
    def partner_name(self, obj: Settlement) -> str:
        return truncated(obj.partner, width="15em")

    def get_list_display(self, request):
        if user_role_names(request) & {Role.BRANCH_RM, Role.RISK_REVIEWER} and not user_sees_all_branches(request.user):
            return self.branch_list_display
        return self.list_display

    @admin.display(description=_("statement"))
    def statement_files(self, obj):
        # The statement admin serves (and records) the downloads, within the same branch scope.
        from revenue.statements.admin import statement_admin_links

        return statement_admin_links(obj) or "—"

    def get_queryset(self, request):
        return settlement_list(user=request.user).annotate(
            open_dispute_count=Count("disputes", filter=Q(disputes__state=DisputeState.OPEN))
        )

    def changelist_view(self, request, extra_context=None):
        # The export links name the period filtered on, else the latest period with settlements in scope.
        period = SettlementPeriod.objects.filter(pk=request.GET.get("period__id__exact") or None).first()
        if period is None:
            latest = settlement_list(user=request.user).order_by("-period__start").values("period_id").first()
            period = SettlementPeriod.objects.filter(pk=latest["period_id"]).first() if latest else None
        if period is not None:
            url = reverse("admin:settlement_settlement_export")
            extra_context = {
                **(extra_context or {}),
                "export_period": period,
                "export_csv_url": f"{url}?period={period}&format=csv",
                "export_xlsx_url": f"{url}?period={period}&format=xlsx",
            }
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("open disputes"), ordering="open_dispute_count")
    def open_disputes(self, obj):
        return format_html('<span class="num">{}</span>', obj.open_dispute_count) if obj.open_dispute_count else ""

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("settlement.approve_settlement"):
            actions.pop("approve_settlements", None)
        if not request.user.has_perm("settlement.pay_settlement"):
            actions.pop("mark_paid", None)
        return actions

    @admin.action(description=_("Approve the selected settlements"))
    def approve_settlements(self, request, queryset):
        done = 0
        for settlement in queryset:
            try:
                services.settlement_approve(settlement=settlement, by=request.user)
                done += 1
            except (ApplicationError, ValidationError) as exc:
                self.message_user(request, f"{settlement}: {error_text(exc)}", messages.ERROR)
        if done:
            self.message_user(request, _("%(count)d settlements approved.") % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Mark the selected settlements paid"))
    def mark_paid(self, request, queryset):
        form = MarkPaidForm(request.POST if "payment_reference" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = 0
            for settlement in queryset:
                try:
                    services.settlement_mark_paid(
                        settlement=settlement, by=request.user, payment_reference=form.cleaned_data["payment_reference"]
                    )
                    done += 1
                except (ApplicationError, ValidationError) as exc:
                    self.message_user(request, f"{settlement}: {error_text(exc)}", messages.ERROR)
            if done:
                self.message_user(request, _("%(count)d settlements marked paid.") % {"count": done}, messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Mark settlements paid"),
            "opts": self.model._meta,
            "form": form,
            "settlements": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/settlement/settlement/mark_paid.html", context)

    def get_urls(self):
        return [
            path(
                "<int:settlement_id>/line/<int:line_id>/",
                self.admin_site.admin_view(self.line_view),
                name="settlement_settlement_line",
            ),
            path(
                "<int:settlement_id>/line/<int:line_id>/csv/",
                self.admin_site.admin_view(self.line_csv_view),
                name="settlement_settlement_line_csv",
            ),
            path(
                "<int:settlement_id>/line/<int:line_id>/xlsx/",
                self.admin_site.admin_view(self.line_csv_view),
                {"file_format": "xlsx"},
                name="settlement_settlement_line_xlsx",
            ),
            path(
                "<int:settlement_id>/transactions.csv",
                self.admin_site.admin_view(self.settlement_csv_view),
                name="settlement_settlement_csv",
            ),
            path(
                "<int:settlement_id>/transactions.xlsx",
                self.admin_site.admin_view(self.settlement_csv_view),
                {"file_format": "xlsx"},
                name="settlement_settlement_xlsx",
            ),
            path("export/", self.admin_site.admin_view(self.export_view), name="settlement_settlement_export"),
            *self.workflow_urls(),
            *super().get_urls(),
        ]

    def _settlement(self, request, settlement_id: int) -> Settlement:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(settlement_list(user=request.user), pk=settlement_id)

    def _line(self, request, settlement_id: int, line_id: int) -> SettlementLine:
        settlement = self._settlement(request, settlement_id)
        line = get_object_or_404(SettlementLine.objects.select_related("product"), pk=line_id, settlement=settlement)
        if line.kind not in (LineKind.PRODUCT, LineKind.ADJUSTMENT):
            raise Http404
        line.settlement = settlement
        return line

    def line_view(self, request, settlement_id: int, line_id: int):
        line = self._line(request, settlement_id, line_id)
        attributions = attributions_for_export(settlement_line_attributions(line=line))
        page = Paginator(attributions, 100).get_page(request.GET.get("page"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Transactions of a settlement line"),
            "opts": self.model._meta,
            "settlement": line.settlement,
            "line": line,
            "page": page,
        }
        return TemplateResponse(request, "admin/settlement/settlement/line_transactions.html", context)

    def line_csv_view(self, request, settlement_id: int, line_id: int, file_format: str = "csv"):
        line = self._line(request, settlement_id, line_id)
        return _export_response(
            request,
            ATTRIBUTION_EXPORT_COLUMNS,
            lambda: attribution_export_rows(attributions_for_export(settlement_line_attributions(line=line))),
            f"settlement-{settlement_id}-line-{line.position}",
            file_format,
        )

    def settlement_csv_view(self, request, settlement_id: int, file_format: str = "csv"):
        settlement = self._settlement(request, settlement_id)
        return _export_response(
            request,
            ATTRIBUTION_EXPORT_COLUMNS,
            lambda: attribution_export_rows(attributions_for_export(settlement_attributions(settlement=settlement))),
            f"settlement-{settlement_id}-{settlement.period}",
            file_format,
        )

    def export_view(self, request):
        """``export/?period=2026-10[&state=closed][&format=xlsx][&lang=en]``: the settlements in the user's scope."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            qs = settlement_export_queryset(
                user=request.user, period=request.GET.get("period", ""), state=request.GET.get("state", "")
            )
        except ExportParameterError as exc:
            return HttpResponseBadRequest(str(exc.message), content_type="text/plain; charset=utf-8")
        return _export_response(
            request,
            SETTLEMENT_EXPORT_COLUMNS,
            lambda: settlement_export_rows(qs),
            f"settlements-{request.GET['period']}",
            request.GET.get("format", "csv"),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        if str(object_id).isdigit():
            extra_context["csv_url"] = reverse("admin:settlement_settlement_csv", args=[int(object_id)])
            extra_context["xlsx_url"] = reverse("admin:settlement_settlement_xlsx", args=[int(object_id)])
            extra_context["workflow"] = self.workflow_panel(request, int(object_id))
        return super().change_view(request, object_id, form_url, extra_context)

    # ---- the detail page's workflow panel: approve and mark paid through the services -------------

    def workflow_urls(self):
        return [
            path(
                "<int:settlement_id>/approve/",
                self.admin_site.admin_view(require_POST(self.approve_view)),
                name="settlement_settlement_approve",
            ),
            path(
                "<int:settlement_id>/mark-paid/",
                self.admin_site.admin_view(require_POST(self.mark_paid_view)),
                name="settlement_settlement_mark_paid",
            ),
        ]

    def workflow_panel(self, request, settlement_id: int) -> dict | None:
        """The steps open on this settlement now, each enabled or disabled with the reason, and who acts next."""
        settlement = settlement_list(user=request.user).select_related("run", "approved_by", "paid_by")
        settlement = settlement.filter(pk=settlement_id).first()
        if settlement is None:
            return None
        user = request.user
        actions = []
        if user.has_perm("settlement.approve_settlement") and settlement.state == SettlementState.CLOSED:
            actions.append(
                {
                    "name": "approve",
                    "label": _("Approve"),
                    "url": reverse("admin:settlement_settlement_approve", args=[settlement.pk]),
                    "refusal": _refusal(services.settlement_approve_check, settlement=settlement, by=user),
                }
            )
        # Shown from the close on (disabled with the reason until approved); gone once paid.
        if user.has_perm("settlement.pay_settlement") and settlement.state in (
            SettlementState.CLOSED,
            SettlementState.APPROVED,
        ):
            actions.append(
                {
                    "name": "mark_paid",
                    "label": _("Mark paid"),
                    "url": reverse("admin:settlement_settlement_mark_paid", args=[settlement.pk]),
                    "refusal": _refusal(services.settlement_mark_paid_check, settlement=settlement, by=user),
                    "needs_reference": True,
                }
            )
        return {"settlement": settlement, "actions": actions, "next_step": _settlement_next_step(settlement)}

    def _workflow_back(self, settlement_id: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:settlement_settlement_change", args=[settlement_id]))

    def approve_view(self, request, settlement_id: int):
        settlement = self._settlement(request, settlement_id)
        if request.POST.get("expected_state") not in (None, "", settlement.state):
            self.message_user(request, _("This settlement was changed meanwhile. Check it again."), messages.ERROR)
            return self._workflow_back(settlement_id)
        try:
            services.settlement_approve(settlement=settlement, by=request.user, comment=request.POST.get("comment", ""))
        except (ApplicationError, ValidationError) as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
        else:
            self.log_change(request, settlement, [{"changed": {"fields": ["state"]}}])
            self.message_user(request, _("Settlement %(settlement)s approved.") % {"settlement": settlement})
        return self._workflow_back(settlement_id)

    def mark_paid_view(self, request, settlement_id: int):
        settlement = self._settlement(request, settlement_id)
        form = MarkPaidForm(request.POST)
        try:
            if not form.is_valid():
                raise ValidationError(_("Enter the payment reference."))
            services.settlement_mark_paid(
                settlement=settlement, by=request.user, payment_reference=form.cleaned_data["payment_reference"]
            )
        except (ApplicationError, ValidationError) as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
        else:
            self.log_change(request, settlement, [{"changed": {"fields": ["state", "payment_reference"]}}])
            self.message_user(
                request,
                _("Settlement %(settlement)s marked paid (reference %(reference)s).")
                % {"settlement": settlement, "reference": settlement.payment_reference},
            )
        return self._workflow_back(settlement_id)


def _refusal(check, **kwargs) -> str:
    """The reason ``check`` refuses, or "" when it passes (the service runs the same check again on use)."""
    try:
        check(**kwargs)
    except ApplicationError as exc:
        return error_text(exc)
    return ""


def _settlement_next_step(settlement: Settlement) -> str:
    if settlement.state == SettlementState.DRAFT:
        return _("Accrued month to date; the month-end close freezes it, then finance approves it.")
    if settlement.state == SettlementState.CLOSED:
        return _("Next: finance approves it (someone other than whoever closed it).")
    if settlement.state == SettlementState.APPROVED:
        if settlement.carried_forward or settlement.payable <= 0:
            return _("Approved. Nothing is payable: the balance is carried forward to the next period.")
        return _("Next: finance pays it and records the payment reference.")
    return _("Paid; no further steps.")


def _export_response(request, columns, rows_of, stem: str, file_format: str) -> HttpResponse:
    """The export as CSV (streamed) or XLSX, headed in ``?lang=`` or the admin's language; a bad parameter is a
    400. ``rows_of()`` is called only once the parameters are good."""
    try:
        language = export_language(request.GET)
        file_format = export_format(file_format)
    except ExportParameterError as exc:
        return HttpResponseBadRequest(str(exc.message), content_type="text/plain; charset=utf-8")
    filename = export_filename(stem, file_format, language)
    if file_format == "csv":
        response = StreamingHttpResponse(
            csv_export(columns, rows_of(), language=language), content_type=CSV_CONTENT_TYPE
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    handle = xlsx_export(columns, rows_of(), language=language, title=stem)
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)


# ---- disputes --------------------------------------------------------------------------------


class ResolveForm(forms.Form):
    amount = forms.DecimalField(
        label=_("adjustment amount (CNY)"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        help_text=_("Positive: owed to the partner; negative: recovered. Settled in the next open period."),
    )
    comment = forms.CharField(label=_("decision"), widget=forms.Textarea(attrs={"rows": 3}))


class RejectForm(forms.Form):
    comment = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(SettlementDispute)
class SettlementDisputeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("dispute_number", "settlement_name", "line_name", "state", "raised_by", "raised", "amount")
    list_display += ("adjust_period", "decide")
    list_filter = ("state",)
    list_select_related = ("settlement__partner", "settlement__period", "line__product", "raised_by", "resolved_by")
    list_select_related += ("adjust_period",)
    readonly_fields = ("settlement", "line", "raised_by", "raised", "comment", "state", "resolved_by")
    readonly_fields += ("resolved", "resolution_comment", "amount", "adjust_period")
    fields = readonly_fields
    raised = time_column(SettlementDispute, "raised_at")
    resolved = time_column(SettlementDispute, "resolved_at")
    amount = money_column(SettlementDispute, "resolution_amount")

    @admin.display(description=_("dispute"), ordering="pk")
    def dispute_number(self, obj: SettlementDispute) -> str:
        return f"#{obj.pk}"

    @admin.display(description=_("settlement"), ordering="settlement__partner__legal_name")
    def settlement_name(self, obj: SettlementDispute) -> str:
        return truncated(obj.settlement, width="16em")

    @admin.display(description=_("line"))
    def line_name(self, obj: SettlementDispute) -> str:
        return truncated(obj.line, width="12em") if obj.line_id else "—"

    def get_queryset(self, request):
        visible = settlement_list(user=request.user).values("pk")
        return super().get_queryset(request).filter(settlement__in=visible)

    def _can_decide(self, request) -> bool:
        return request.user.has_perm("settlement.resolve_settlement_dispute")

    def get_list_display(self, request):
        # The decide links only for those who decide (finance); others would open a refusal.
        if self._can_decide(request):
            return self.list_display
        return tuple(name for name in self.list_display if name != "decide")

    @admin.display(description=_("decide"))
    def decide(self, obj: SettlementDispute):
        if obj.state != DisputeState.OPEN:
            return "—"
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:settlement_settlementdispute_resolve", args=[obj.pk]),
            _("resolve"),
            reverse("admin:settlement_settlementdispute_reject", args=[obj.pk]),
            _("reject"),
        )

    def get_urls(self):
        return [
            path(
                "<int:dispute_id>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name="settlement_settlementdispute_resolve",
            ),
            path(
                "<int:dispute_id>/reject/",
                self.admin_site.admin_view(self.reject_view),
                name="settlement_settlementdispute_reject",
            ),
            *super().get_urls(),
        ]

    def _decide(self, request, dispute_id: int, *, form_class, title, act):
        if not self._can_decide(request):
            raise PermissionDenied
        dispute = get_object_or_404(self.get_queryset(request), pk=dispute_id)
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                act(dispute, form.cleaned_data)
            except (ApplicationError, ValidationError) as exc:
                self.message_user(request, error_text(exc), messages.ERROR)
            else:
                self.log_change(request, dispute, [{"changed": {"fields": ["state"]}}])
                self.message_user(request, _("Dispute #%(id)s decided.") % {"id": dispute.pk}, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:settlement_settlementdispute_change", args=[dispute.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "form": form,
            "dispute": dispute,
        }
        return TemplateResponse(request, "admin/settlement/settlementdispute/decide.html", context)

    def resolve_view(self, request, dispute_id: int):
        return self._decide(
            request,
            dispute_id,
            form_class=ResolveForm,
            title=_("Resolve a dispute"),
            act=lambda dispute, data: services.settlement_dispute_resolve(
                dispute=dispute, by=request.user, amount=data["amount"], comment=data["comment"]
            ),
        )

    def reject_view(self, request, dispute_id: int):
        return self._decide(
            request,
            dispute_id,
            form_class=RejectForm,
            title=_("Reject a dispute"),
            act=lambda dispute, data: services.settlement_dispute_reject(
                dispute=dispute, by=request.user, comment=data["comment"]
            ),
        )

    # ---- the detail page's workflow panel ------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        if str(object_id).isdigit():
            dispute = self.get_queryset(request).filter(pk=int(object_id)).first()
            if dispute is not None:
                extra_context["workflow"] = self.workflow_panel(request, dispute)
        return super().change_view(request, object_id, form_url, extra_context)

    def workflow_panel(self, request, dispute: SettlementDispute) -> dict:
        """Resolve and reject, open to whoever decides disputes while the dispute is open; who acts next."""
        actions = []
        if dispute.state == DisputeState.OPEN:
            refusal = "" if self._can_decide(request) else _("Only finance and head office decide disputes.")
            for name, label, view in (
                ("resolve", _("Resolve (adjust the next open period)"), "resolve"),
                ("reject", _("Reject"), "reject"),
            ):
                url = reverse(f"admin:settlement_settlementdispute_{view}", args=[dispute.pk])
                actions.append({"name": name, "label": label, "url": url, "refusal": refusal})
            next_step = _("Next: finance or head office resolves it into an adjustment, or rejects it saying why.")
        else:
            next_step = _("Decided; the partner was told. No further steps.")
        return {"dispute": dispute, "actions": actions, "next_step": next_step}
