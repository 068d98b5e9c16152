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
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdminMixin, error_text
from core.errors import ApplicationError
from core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from core.periods import Period
from core.spreadsheets import CSV_CONTENT_TYPE, csv_stream
from onboarding.selectors import partner_list
from organisation.services import user_sees_all_branches
from revenue.ledger.models import AgreementVersion
from revenue.ledger.selectors import agreement_version_list
from revenue.settlement import services
from revenue.settlement.choices import DisputeState, LineKind, RunKind, RunTrigger
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
    list_display = ("__str__", "state", "lower_watermark", "close_watermark", "closed_at", "closed_by")
    list_filter = ("state",)
    readonly_fields = list_display[1:]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if user_sees_all_branches(request.user) else qs.none()


class ChunkInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SettlementRunChunk
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
    list_display = ("pk", "period", "kind", "state", "progress_bar", "partners_count", "settlements_count")
    list_display += ("lines_count", "attributions_count", "share_total", "retained_total", "started_at", "took")
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
        "partners_count",
        "settlements_count",
        "lines_count",
        "attributions_count",
        "inactive_count",
        "bank_revenue_total",
        "share_total",
        "retained_total",
        "created_at",
        "started_at",
        "heartbeat_at",
        "finished_at",
        "took",
        "timings",
        "error",
        "celery_task_id",
    )
    fields = readonly_fields
    inlines = (ChunkInline,)
    actions = ("resume_runs",)

    def get_queryset(self, request):
        return settlement_run_list(user=request.user)

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
        return f"{duration.total_seconds():.1f} s" if duration else "—"

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
                        "lines": [(line, result.product_names.get(line.product_id, "")) for line in draft.lines]
                        if result.partner
                        else [],
                    }
                )
        return TemplateResponse(
            request,
            "admin/settlement/settlementrun/dry_run.html",
            self._context(request, _("Dry run of a close"), form=form, result=result, rows=rows),
        )


# ---- settlements -----------------------------------------------------------------------------


class LineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SettlementLine
    fk_name = "settlement"
    fields = ("position", "kind", "product", "corrects_period", "transaction_count", "reversal_count", "net_count")
    fields += ("volume", "bank_revenue", "rule_description", "agreement_version", "share_limit", "previous_share")
    fields += ("share", "notes", "transactions")
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

    @admin.display(description=_("transactions"))
    def transactions(self, line: SettlementLine):
        if line.kind not in (LineKind.PRODUCT, LineKind.ADJUSTMENT):
            return "—"
        url = reverse("admin:settlement_settlement_line", args=[line.settlement_id, line.pk])
        return format_html('<a href="{}">{}</a> · <a href="{}csv/">CSV</a>', url, _("list"), url)


class MarkPaidForm(forms.Form):
    payment_reference = forms.CharField(label=_("payment reference"), max_length=64)


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("partner", "period", "state", "transaction_count", "bank_revenue", "share_total")
    list_display += ("adjustment_total", "carried_in", "net", "vat", "payable", "carried_forward", "open_disputes")
    list_filter = ("state", "carried_forward", "period")
    search_fields = ("partner__legal_name", "=partner__credit_code", "=payment_reference")
    list_select_related = ("partner", "period")
    inlines = (LineInline,)
    actions = ("approve_settlements", "mark_paid")
    fields = (
        ("partner", "period", "state"),
        ("transaction_count", "bank_revenue"),
        ("share_total", "adjustment_total", "carried_in"),
        ("net", "vat_rate", "vat", "payable", "carried_forward"),
        ("watermark_from", "watermark_to", "run"),
        ("computed_at", "closed_at", "closed_by"),
        ("approved_at", "approved_by"),
        ("paid_at", "paid_by", "payment_reference"),
        ("statement_files",),
    )
    readonly_fields = [f for group in fields for f in group]

    @admin.display(description=_("statement"))
    def statement_files(self, obj):
        # The statement admin serves (and records) the downloads, within the same branch scope.
        from revenue.statements.admin import statement_admin_links

        return statement_admin_links(obj) or "—"

    def get_queryset(self, request):
        return settlement_list(user=request.user).annotate(
            open_dispute_count=Count("disputes", filter=Q(disputes__state=DisputeState.OPEN))
        )

    @admin.display(description=_("open disputes"), ordering="open_dispute_count")
    def open_disputes(self, obj):
        return obj.open_dispute_count or ""

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
                "<int:settlement_id>/transactions.csv",
                self.admin_site.admin_view(self.settlement_csv_view),
                name="settlement_settlement_csv",
            ),
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

    def line_csv_view(self, request, settlement_id: int, line_id: int):
        line = self._line(request, settlement_id, line_id)
        name = f"settlement-{settlement_id}-line-{line.position}.csv"
        return _csv_response(attributions_for_export(settlement_line_attributions(line=line)), name)

    def settlement_csv_view(self, request, settlement_id: int):
        settlement = self._settlement(request, settlement_id)
        name = f"settlement-{settlement_id}-{settlement.period}.csv"
        return _csv_response(attributions_for_export(settlement_attributions(settlement=settlement)), name)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        if str(object_id).isdigit():
            extra_context["csv_url"] = reverse("admin:settlement_settlement_csv", args=[int(object_id)])
        return super().change_view(request, object_id, form_url, extra_context)


CSV_HEADER = (
    "attribution_id",
    "occurred_at",
    "source",
    "external_id",
    "kind",
    "reverses",
    "product",
    "sme_id",
    "sme_name",
    "weight",
    "attributed_amount",
    "attributed_bank_revenue",
)


def _csv_response(attributions, filename: str) -> StreamingHttpResponse:
    rows = (
        (
            a.pk,
            a.occurred_at,
            a.transaction.source,
            a.transaction.external_id,
            a.transaction.kind,
            a.transaction.reverses.external_id if a.transaction.reverses_id else "",
            a.product.code,
            a.transaction.sme_id,
            a.transaction.sme_name,
            a.weight,
            a.amount,
            a.bank_revenue,
        )
        for a in attributions.iterator(chunk_size=2000)
    )
    response = StreamingHttpResponse(csv_stream(CSV_HEADER, rows), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


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
    list_display = ("pk", "settlement", "line", "state", "raised_by", "raised_at", "resolution_amount")
    list_display += ("adjust_period", "resolved_by", "decide")
    list_filter = ("state",)
    list_select_related = ("settlement__partner", "settlement__period", "line__product", "raised_by", "resolved_by")
    list_select_related += ("adjust_period",)
    readonly_fields = ("settlement", "line", "raised_by", "raised_at", "comment", "state", "resolved_by")
    readonly_fields += ("resolved_at", "resolution_comment", "resolution_amount", "adjust_period")
    fields = readonly_fields

    def get_queryset(self, request):
        visible = settlement_list(user=request.user).values("pk")
        return super().get_queryset(request).filter(settlement__in=visible)

    def _can_decide(self, request) -> bool:
        return request.user.has_perm("settlement.resolve_settlement_dispute")

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
                self.message_user(request, _("Dispute #%(id)s decided.") % {"id": dispute.pk}, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:settlement_settlementdispute_changelist"))
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
