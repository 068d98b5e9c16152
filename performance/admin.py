"""Admin for branch targets and tier rules; writes go through ``performance.services``."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX

from organisation.services import user_sees_all_branches
from performance.models import BranchTarget, TierRule
from performance.resources import IMPORT_PERMISSION, BranchTargetResource
from performance.selectors import branch_target_weight_sum, branch_target_weight_sums, branch_targets_visible_to
from performance.services import (
    CSV_EXPORT_ENCODING,
    EXPORT_PERMISSION,
    branch_target_delete,
    branch_target_save,
)


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
class BranchTargetAdmin(ImportExportModelAdmin):
    resource_classes = [BranchTargetResource]
    formats = [CSV, XLSX]
    to_encoding = CSV_EXPORT_ENCODING
    list_display = ["branch", "period_label", "kpi", "target_value", "weight", "updated_at"]
    list_filter = ["period_kind", "period_start", "kpi"]
    search_fields = ["branch__code", "branch__name"]
    ordering = ["-period_start", "period_kind", "branch__code", "kpi"]
    list_select_related = ["branch"]
    form = BranchTargetForm
    readonly_fields = ["updated_at"]

    @admin.display(description=_("period"), ordering="period_start")
    def period_label(self, obj: BranchTarget) -> str:
        return obj.period_label

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
        "min_revenue",
        "min_volume",
        "min_smes",
        "min_active_months",
        "min_growth_rate",
        "max_dispute_rate",
        "is_active",
    ]
    list_display_links = ["name"]
    list_filter = ["tier", "is_active"]
    ordering = ["-priority"]
    readonly_fields = ["updated_at"]
