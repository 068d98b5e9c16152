"""Admin for performance control: targets, tier rules, the scorecard dashboard and tier proposals.

Writes go through ``performance.services``. The dashboard (the scorecards'
changelist) shows every scorecard reader the ranking of all branches; the
details of a branch — its KPI lines, partners and PDF — only to head office,
finance and that branch's own staff: another branch's are "not found".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX

from core.admin import (
    ReadableImportExportMixin,
    count_column,
    error_text,
    money_column,
    percent_column,
    time_column,
)
from core.errors import ApplicationError
from core.pdf import format_money, format_percent
from core.periods import CHINA_TZ
from core.spreadsheets import (
    CSV_CONTENT_TYPE,
    XLSX_CONTENT_TYPE,
    ExportParameterError,
    export_filename,
    export_format,
    export_language,
)
from organisation.services import user_sees_all_branches
from performance import svg
from performance.documents import format_kpi_value, format_rate
from performance.models import KPI, BranchScorecard, BranchTarget, TierProposal, TierProposalState, TierRule
from performance.periods import ReportingPeriod
from performance.resources import IMPORT_PERMISSION, BranchTargetResource
from performance.selectors import (
    branch_partner_rows,
    branch_target_weight_sum,
    branch_target_weight_sums,
    branch_targets_visible_to,
    scorecard_for_user,
    scorecard_periods,
    scorecard_ranking,
    scorecard_trend,
    scorecards_visible_to,
    tier_proposals_visible_to,
    top_partners_of,
    user_may_see_branch_details,
)
from performance.services import (
    BUILD_PERMISSION,
    CSV_EXPORT_ENCODING,
    DECIDE_PERMISSION,
    EXPORT_PERMISSION,
    SCORECARD_EXPORT_PERMISSION,
    branch_target_delete,
    branch_target_save,
    scorecard_pdf,
    scorecards_build,
    scorecards_export,
    tier_proposal_confirm,
    tier_proposal_dismiss,
)
from performance.services.documents import scorecard_pdf_filename


class BranchTargetForm(forms.ModelForm):
    class Meta:
        model = BranchTarget
        fields = ["branch", "period_kind", "period_start", "kpi", "target_value", "weight"]

    def clean(self):
        cleaned = super().clean()
        branch, weight = cleaned.get("branch"), cleaned.get("weight")
        kind, start = cleaned.get("period_kind"), cleaned.get("period_start")
        if branch is not None and weight is not None and kind and start:
            # The service refuses the same; checking here shows it beside the field.
            others = branch_target_weight_sum(
                branch_id=branch.pk, period_kind=kind, period_start=start, exclude_pk=self.instance.pk
            )
            if others + weight > 1:
                self.add_error(
                    "weight",
                    _("With the branch's other targets for this period the weights would sum to %(total)s; at most 1.")
                    % {"total": others + weight},
                )
        return cleaned


@admin.register(BranchTarget)
class BranchTargetAdmin(ReadableImportExportMixin, ImportExportModelAdmin):
    resource_classes = [BranchTargetResource]
    formats = [CSV, XLSX]
    to_encoding = CSV_EXPORT_ENCODING
    list_display = ["branch", "period_label", "kpi", "target", "weight_percent", "updated"]
    list_filter = ["period_kind", "period_start", "kpi"]
    search_fields = ["branch__code", "branch__name"]
    ordering = ["-period_start", "period_kind", "branch__code", "kpi"]
    list_select_related = ["branch"]
    form = BranchTargetForm
    readonly_fields = ["updated_at"]

    @admin.display(description=_("period"), ordering="period_start")
    def period_label(self, obj: BranchTarget) -> str:
        return obj.period_label

    @admin.display(description=_("target"), ordering="target_value")
    def target(self, obj: BranchTarget) -> str:
        return format_html('<span class="num">{}</span>', format_kpi_value(obj.kpi, obj.target_value))

    weight_percent = percent_column(BranchTarget, "weight")
    updated = time_column(BranchTarget, "updated_at")

    def get_queryset(self, request):
        # Branch staff see their own branch's targets only.
        return branch_targets_visible_to(user=request.user)

    def get_list_filter(self, request):
        if user_sees_all_branches(request.user):
            return ["period_kind", "period_start", "kpi", "branch"]
        return self.list_filter

    def has_view_permission(self, request, obj=None):
        allowed = super().has_view_permission(request, obj)
        if allowed and obj is not None and not user_sees_all_branches(request.user):
            return obj.branch_id == request.user.branch_id
        return allowed

    def has_import_permission(self, request):
        return request.user.has_perm(IMPORT_PERMISSION)

    def has_export_permission(self, request):
        return request.user.has_perm(EXPORT_PERMISSION)

    def get_import_data_kwargs(self, **kwargs):
        kwargs = super().get_import_data_kwargs(**kwargs)
        # All or nothing also on the confirmed import: if the data changed since
        # the preview and a row became invalid, nothing is written.
        kwargs["rollback_on_validation_errors"] = True
        return kwargs

    def save_model(self, request, obj, form, change):
        branch_target_save(target=obj, by=request.user)

    def delete_model(self, request, obj):
        branch_target_delete(target=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for target in queryset:
            branch_target_delete(target=target, by=request.user)

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET" and user_sees_all_branches(request.user):
            incomplete = branch_target_weight_sums()[:5]
            for row in incomplete:
                self.message_user(
                    request,
                    gettext("Weights of %(branch)s for %(period)s sum to %(total)s, not 1.")
                    % {
                        "branch": row["branch__name"],
                        "period": BranchTarget(
                            period_kind=row["period_kind"], period_start=row["period_start"]
                        ).period_label,
                        "total": row["weight_sum"],
                    },
                    messages.WARNING,
                )
        return super().changelist_view(request, extra_context)


@admin.register(TierRule)
class TierRuleAdmin(admin.ModelAdmin):
    list_display = [
        "priority",
        "name",
        "tier",
        "revenue_at_least",
        "volume_at_least",
        "smes_at_least",
        "min_active_months",
        "growth_at_least",
        "disputes_at_most",
        "is_active",
    ]
    revenue_at_least = money_column(TierRule, "min_revenue")
    volume_at_least = money_column(TierRule, "min_volume")
    smes_at_least = count_column(TierRule, "min_smes")
    growth_at_least = percent_column(TierRule, "min_growth_rate")
    disputes_at_most = percent_column(TierRule, "max_dispute_rate")
    list_display_links = ["name"]
    list_filter = ["tier", "is_active"]
    ordering = ["-priority"]
    readonly_fields = ["updated_at"]


def _parse_period(text: str | None) -> ReportingPeriod | None:
    if not text:
        return None
    try:
        return ReportingPeriod.parse(text)
    except ValueError:
        return None


def _parse_as_of(text: str) -> dt.datetime | None:
    """A date means the end of that day, Beijing time (everything booked that day counts)."""
    text = text.strip()
    if not text:
        return None
    day = dt.date.fromisoformat(text)
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=CHINA_TZ) - dt.timedelta(microseconds=1)


SCORE_BAR_TOP = Decimal(150)


@admin.register(BranchScorecard)
class BranchScorecardAdmin(admin.ModelAdmin):
    """Scorecards are read here, never edited: they are built by ``scorecards_build``.

    The changelist is the dashboard: ``?period=2026-10`` picks the period.
    """

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("build/", wrap(self.build_view), name="{}_{}_build".format(*info)),
            path("export/", wrap(self.export_view), name="{}_{}_export".format(*info)),
            path("branch/<str:period>/<str:branch_code>/", wrap(self.branch_view), name="{}_{}_branch".format(*info)),
            path("branch/<str:period>/<str:branch_code>/pdf/", wrap(self.pdf_view), name="{}_{}_pdf".format(*info)),
            *super().get_urls(),
        ]

    def get_queryset(self, request):
        # The stored change page of a scorecard is scoped like its drill-down.
        return scorecards_visible_to(user=request.user)

    def _url(self, name: str, *args, **query) -> str:
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args)
        return f"{url}?{urlencode(query)}" if query else url

    def _require_view(self, request) -> None:
        if not self.has_view_permission(request):
            raise PermissionDenied

    def _period_or_404(self, text: str) -> ReportingPeriod:
        period = _parse_period(text)
        if period is None:
            raise Http404(_("No such period."))
        return period

    # -- the dashboard: all branches ranked ------------------------------------

    def changelist_view(self, request, extra_context=None):
        self._require_view(request)
        periods = scorecard_periods()
        period = _parse_period(request.GET.get("period")) or (periods[0] if periods else None)
        ranking = scorecard_ranking(period=period) if period else []
        user = request.user
        rows = [
            {
                "card": card,
                "bar": svg.score_bar(card.total_score, top=max(SCORE_BAR_TOP, card.total_score), mark=Decimal(100)),
                "url": self._url("branch", str(period), card.branch.code)
                if user_may_see_branch_details(user=user, branch_id=card.branch_id)
                else None,
                "own": card.branch_id == user.branch_id,
            }
            for card in ranking
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Scorecards"),
            "period": period,
            "periods": periods,
            "rows": rows,
            "average": (sum((c.total_score for c in ranking), Decimal(0)) / len(ranking)).quantize(Decimal("0.01"))
            if ranking
            else None,
            "can_build": user.has_perm(BUILD_PERMISSION),
            "can_export": user.has_perm(SCORECARD_EXPORT_PERMISSION),
            "export_csv": self._url("export", period=str(period), format="csv") if period else None,
            "export_xlsx": self._url("export", period=str(period), format="xlsx") if period else None,
            "build_url": self._url("build"),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/performance/dashboard.html", context)

    # -- drilling down into one branch -----------------------------------------

    def branch_view(self, request, period, branch_code):
        self._require_view(request)
        period = self._period_or_404(period)
        scorecard = scorecard_for_user(user=request.user, period=period, branch_code=unquote(branch_code))
        lines = sorted(scorecard.lines.all(), key=lambda line: KPI.values.index(line.kpi))
        trend = scorecard_trend(branch_id=scorecard.branch_id, period=period)
        partners = branch_partner_rows(scorecard=scorecard)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("%(branch)s scorecard %(period)s") % {"branch": scorecard.branch.name, "period": period},
            "period": period,
            "scorecard": scorecard,
            "lines": lines,
            "achievement_chart": svg.achievement_chart(
                [str(KPI(line.kpi).label) for line in lines],
                [line.achievement_rate for line in lines],
                cap=scorecard.achievement_cap,
            ),
            "trend_chart": svg.trend_chart([str(p.period) for p in trend], [p.total_score for p in trend]),
            "trend": trend,
            "top_partners": [
                {"top": top, "volume": format_money(top.volume), "revenue": format_money(top.revenue)}
                for top in top_partners_of(scorecard=scorecard)
            ],
            "cap": format_percent(scorecard.achievement_cap, places=0),
            "partners": partners,
            "partner_bar_top": max([row.kpis.revenue for row in partners] + [Decimal(0)]),
            "pdf_url": self._url("pdf", str(period), scorecard.branch.code),
            "dashboard_url": self._url("changelist", period=str(period)),
        }
        for line in lines:
            line.target_display = format_kpi_value(line.kpi, line.target_value)
            line.actual_display = format_kpi_value(line.kpi, line.actual_value)
            line.weight_display = format_percent(line.weight)
            line.achievement_display = format_rate(line.achievement_rate)
        context["partners"] = [
            {
                "partner": row.partner,
                "kpis": row.kpis,
                "bar": svg.score_bar(row.kpis.revenue, top=context["partner_bar_top"], width=120, height=10),
                "growth": format_rate(row.kpis.growth_rate),
                "volume": format_money(row.kpis.volume),
                "revenue": format_money(row.kpis.revenue),
            }
            for row in partners
        ]
        return TemplateResponse(request, "admin/performance/branch_scorecard.html", context)

    def pdf_view(self, request, period, branch_code):
        self._require_view(request)
        period = self._period_or_404(period)
        scorecard = scorecard_for_user(user=request.user, period=period, branch_code=unquote(branch_code))
        try:
            document = scorecard_pdf(scorecard=scorecard)
        except BranchScorecard.DoesNotExist:
            raise Http404(_("No scorecard for this branch and period.")) from None
        response = HttpResponse(document, content_type="application/pdf")
        filename = f"scorecard-{period}-{scorecard_pdf_filename(scorecard.branch.code)}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    # -- export and build ------------------------------------------------------

    def export_view(self, request):
        if not request.user.has_perm(SCORECARD_EXPORT_PERMISSION):
            raise PermissionDenied
        period = _parse_period(request.GET.get("period"))
        if period is None:
            return HttpResponseBadRequest(
                gettext("Write the period as 2026-10 (month), 2026-Q4 (quarter) or 2026 (year)."),
                content_type="text/plain; charset=utf-8",
            )
        try:
            file_format = export_format(request.GET.get("format"))
            language = export_language(request.GET)
        except ExportParameterError as exc:
            return HttpResponseBadRequest(str(exc.message), content_type="text/plain; charset=utf-8")
        content = scorecards_export(by=request.user, period=period, file_format=file_format, language=language)
        content_type = CSV_CONTENT_TYPE if file_format == "csv" else XLSX_CONTENT_TYPE
        response = HttpResponse(content, content_type=content_type)
        filename = export_filename(f"scorecards-{period}", file_format, language)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def build_view(self, request):
        return require_POST(self._build)(request)

    def _build(self, request):
        if not request.user.has_perm(BUILD_PERMISSION):
            raise PermissionDenied
        period = _parse_period(request.POST.get("period"))
        if period is None:
            messages.error(request, _("Write the period as 2026-10 (month), 2026-Q4 (quarter) or 2026 (year)."))
            return HttpResponseRedirect(self._url("changelist"))
        try:
            as_of = _parse_as_of(request.POST.get("as_of", ""))
            build = scorecards_build(period_kind=period.kind, period_start=period.start, as_of=as_of, by=request.user)
        except ValueError:
            messages.error(request, _("Write the “as of” date as 2026-11-05, or leave it empty for now."))
        except (ApplicationError, ValidationError) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(
                request,
                _("%(count)s scorecards built for %(period)s, figures as of %(as_of)s.")
                % {
                    "count": len(build.scorecards),
                    "period": period,
                    "as_of": timezone.localtime(build.as_of).strftime("%Y-%m-%d %H:%M"),
                },
            )
        return HttpResponseRedirect(self._url("changelist", period=str(period)))


class TierProposalDecisionForm(forms.Form):
    note = forms.CharField(label=_("Note"), max_length=255, required=False)


@admin.register(TierProposal)
class TierProposalAdmin(admin.ModelAdmin):
    """Tier proposals of the user's partners; confirmed or dismissed through ``performance.services``."""

    list_display = [
        "partner",
        "branch",
        "period_label",
        "current_tier",
        "proposed_tier",
        "rule_name",
        "revenue_amount",
        "growth",
        "smes_count",
        "active_months",
        "state",
        "decided_by",
    ]
    revenue_amount = money_column(TierProposal, "revenue")
    growth = percent_column(TierProposal, "growth_rate")
    smes_count = count_column(TierProposal, "smes")
    list_filter = ["state", "proposed_tier", "period_kind", "period_start"]
    search_fields = ["partner__legal_name", "partner__credit_code"]
    list_select_related = ["partner", "partner__branch", "decided_by"]
    actions = ["confirm_selected"]
    readonly_fields = [
        "partner",
        "period_kind",
        "period_start",
        "as_of",
        "current_tier",
        "proposed_tier",
        "rule",
        "rule_name",
        "revenue",
        "volume",
        "smes",
        "active_months",
        "previous_revenue",
        "growth_rate",
        "dispute_rate",
        "state",
        "created_at",
        "decided_by",
        "decided_at",
        "decision_note",
    ]

    @admin.display(description=_("period"), ordering="period_start")
    def period_label(self, obj: TierProposal) -> str:
        return str(obj.period)

    @admin.display(description=_("branch"), ordering="partner__branch__code")
    def branch(self, obj: TierProposal) -> str:
        return str(obj.partner.branch)

    def get_queryset(self, request):
        return tier_proposals_visible_to(user=request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_decide_permission(self, request):
        return request.user.has_perm(DECIDE_PERMISSION)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/decide/<str:decision>/",
                self.admin_site.admin_view(self.decide_view),
                name="{}_{}_decide".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        proposal = self.get_object(request, unquote(object_id))
        if proposal is None:
            # Say nothing about other branches' partners.
            raise Http404(_("No such tier proposal."))
        info = self.opts.app_label, self.opts.model_name
        extra_context = {
            **(extra_context or {}),
            "decision": {
                "open": proposal.is_open and self.has_decide_permission(request),
                "confirm_url": reverse("admin:{}_{}_decide".format(*info), args=[proposal.pk, "confirm"]),
                "dismiss_url": reverse("admin:{}_{}_decide".format(*info), args=[proposal.pk, "dismiss"]),
            },
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, object_id, decision):
        return require_POST(self._decide)(request, object_id, decision)

    def _decide(self, request, object_id, decision):
        proposal = self.get_object(request, unquote(object_id))
        if proposal is None or decision not in ("confirm", "dismiss"):
            raise Http404
        form = TierProposalDecisionForm(request.POST)
        note = form.cleaned_data["note"] if form.is_valid() else ""
        try:
            if decision == "confirm":
                tier_proposal_confirm(proposal=proposal, by=request.user, note=note)
            else:
                tier_proposal_dismiss(proposal=proposal, by=request.user, note=note)
        except (ApplicationError, ValidationError) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(
                request,
                _("%(partner)s: the proposal is %(state)s.")
                % {"partner": proposal.partner, "state": proposal.get_state_display()},
            )
        info = self.opts.app_label, self.opts.model_name
        return HttpResponseRedirect(reverse("admin:{}_{}_change".format(*info), args=[proposal.pk]))

    @admin.action(description=_("Confirm the selected proposals"), permissions=["decide"])
    def confirm_selected(self, request, queryset):
        confirmed = 0
        for proposal in queryset.filter(state=TierProposalState.PROPOSED).order_by("pk"):
            try:
                tier_proposal_confirm(proposal=proposal, by=request.user)
            except (ApplicationError, ValidationError) as exc:
                messages.error(request, f"{proposal.partner}: {error_text(exc)}")
            else:
                confirmed += 1
        if confirmed:
            messages.success(request, _("%(count)s proposals confirmed.") % {"count": confirmed})
