"""The RMs' and reviewers' admin for admission cases.

Thin by design: every write goes through ``onboarding.services`` (the
state-machine buttons too — django-fsm-2's own admin would call the model and
``save()`` directly, skipping scope, maker-checker, locking and the log). Branch
scope comes from ``onboarding.selectors.partner_list``: a branch's staff see
only their branch's partners everywhere (list, change page by URL → 404,
foreign-key choices, export); head office sees all.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe
from django_fsm_log.models import StateLog
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import ImportForm

from core.admin import (
    RECORDS_TEMPLATE,
    ReadableImportExportMixin,
    beijing_time,
    error_text,
    truncated,
    user_role_names,
)
from core.errors import ApplicationError
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
from core.storage import private_file_response
from onboarding import services
from onboarding.documents import evidence_document_check
from onboarding.exports import PARTNER_EXPORT_COLUMNS, partner_export_queryset, partner_export_rows
from onboarding.models import (
    EDITABLE_STATES,
    REVIEW_RUNNING_STATES,
    AdmissionState,
    CaseOrigin,
    EvidenceDecision,
    EvidenceDownload,
    EvidenceItem,
    EvidenceRequirement,
    Partner,
    PartnerActivePeriod,
    PartnerApplication,
    PartnerReview,
    PartnerTier,
    PartnerTierChange,
    ReviewState,
    has_all_evidence_accepted,
    has_no_evidence_needing_revision,
    has_required_evidence,
)
from onboarding.policies import TRANSITION_METHODS, Action, allowed_actions, authorise, transitions_for
from onboarding.resources import PartnerResource
from onboarding.selectors import (
    branch_list,
    evidence_missing,
    evidence_needing_revision,
    evidence_not_accepted,
    partner_list,
    partner_makers,
    relationship_manager_list,
    reviewer_list,
)
from organisation.roles import Role
from organisation.services import user_sees_all_branches

# Actions whose comment is the required reason.
REASON_REQUIRED = {Action.REJECT, Action.SUSPEND, Action.TERMINATE, Action.CHANGE_TIER}


def can_edit(request: HttpRequest, partner: Partner) -> bool:
    try:
        authorise(action=Action.EDIT, partner=partner, user=request.user)
    except ApplicationError:
        return False
    return True


class PartnerForm(forms.ModelForm):
    class Meta:
        model = Partner
        fields = services.EDITABLE_FIELDS

    def clean_credit_code(self) -> str:
        # Normalise before the check-character and uniqueness checks run on it.
        return self.cleaned_data["credit_code"].strip().upper()

    def clean(self):
        cleaned = super().clean()
        branch, rm = cleaned.get("branch"), cleaned.get("relationship_manager")
        if branch and rm and rm.branch_id != branch.pk:
            self.add_error(
                "relationship_manager",
                _("%(user)s is not a relationship manager of %(branch)s.") % {"user": rm, "branch": branch},
            )
        return cleaned


class ScopedBranchFilter(admin.RelatedFieldListFilter):
    """Offers only the branches the user may see (one query, whatever the number of partners)."""

    def field_choices(self, field, request, model_admin):
        return [(b.pk, str(b)) for b in branch_list(user=request.user)]


def evidence_document_url(item: EvidenceItem) -> str:
    """The one address of an evidence document: the partner's authorising download view."""
    return reverse("admin:onboarding_partner_evidence_document", args=[item.partner_id, item.pk])


class DocumentLink:
    """What the upload widget shows for the current document: its name, linked to the download view."""

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name = url, name

    def __str__(self) -> str:
        return self.name


class EvidenceDocumentInput(forms.ClearableFileInput):
    """An evidence item's upload field; its current document links to the download view (private files have no URL)."""

    link: DocumentLink | None = None

    def is_initial(self, value) -> bool:
        return bool(value) and self.link is not None

    def format_value(self, value):
        return self.link if self.is_initial(value) else None


class ReadOnlyText(forms.Widget):
    """A value shown as plain text where a field must not be changed (its form field is disabled)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, name, value, attrs=None, renderer=None):
        return format_html('<span class="readonly">{}</span>', self.text)


class EvidenceItemForm(forms.ModelForm):
    class Meta:
        model = EvidenceItem
        fields = ("requirement", "reference", "document", "expires_on")
        widgets = {"document": EvidenceDocumentInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # An item stays with its requirement; only new rows pick one (shown as text, not a dropdown).
            self.fields["requirement"].disabled = True
            self.fields["requirement"].widget = ReadOnlyText(str(self.instance.requirement))
            if self.instance.document and "document" in self.fields:
                self.fields["document"].widget.link = DocumentLink(
                    evidence_document_url(self.instance), self.instance.document_name or _("document")
                )

    def clean_document(self):
        # The service's own check, run here too so a refusal shows next to the field, not as a failed save.
        document = self.cleaned_data.get("document")
        if isinstance(document, UploadedFile):
            evidence_document_check(document)
        return document


class EvidenceItemInline(admin.TabularInline):
    """The evidence of the case. The RM records it here while the case is editable; reviewers decide it above."""

    model = EvidenceItem
    form = EvidenceItemForm
    template = RECORDS_TEMPLATE
    extra = 0
    can_delete = False
    fields = (
        "requirement",
        "reference",
        "document",
        "expires_on",
        "decision",
        "decision_reason",
        "decided_by",
        "recorded_by",
    )
    readonly_fields = ("document_link", "decision", "decision_reason", "decided_by", "recorded_by")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requirement", "decided_by", "recorded_by")

    def get_fields(self, request, obj=None):
        if self.has_change_permission(request, obj) or self.has_add_permission(request, obj):
            return self.fields
        # Read-only rows show the document as a link to the download view, never the file's own URL.
        return tuple("document_link" if name == "document" else name for name in self.fields)

    @admin.display(description=_("document"))
    def document_link(self, item: EvidenceItem) -> str:
        if not item.document:
            return "—"
        return format_html('<a href="{}">{}</a>', evidence_document_url(item), item.document_name or _("document"))

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None and "requirement" in formset.form.base_fields:
            formset.form.base_fields["requirement"].queryset = EvidenceRequirement.objects.filter(
                partner_type=obj.partner_type
            )
        return formset

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("onboarding.view_partner")

    def has_change_permission(self, request, obj=None):
        return obj is not None and can_edit(request, obj)

    def has_add_permission(self, request, obj=None):
        # Rows exist for every requirement from creation; a row is added only for a requirement introduced later.
        if obj is None or not can_edit(request, obj):
            return False
        return EvidenceRequirement.objects.filter(partner_type=obj.partner_type).exclude(items__partner=obj).exists()

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline:
    can_delete = False
    extra = 0

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("onboarding.view_partner")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def admission_transition_label(transition: str) -> str:
    """The name of an admission step as the panel's buttons call it (``refer_to_head_office`` → 提交总行审批)."""
    labels = {"create": _("Case opened"), "refer_to_head_office": _("Approve and refer to head office")}
    labels.update({method: action.label for action, methods in TRANSITION_METHODS.items() for method in methods[:1]})
    labels[Action.DECIDE_EVIDENCE.value] = Action.DECIDE_EVIDENCE.label
    return str(labels.get(transition, transition))


def admission_state_label(state: str | None) -> str:
    return str(AdmissionState(state).label) if state in AdmissionState.values else (state or "—")


class StateLogInline(ReadOnlyInline, GenericTabularInline):
    """The audit trail of the case: who, when, from, to and why. Read-only: nobody edits history."""

    model = StateLog
    template = RECORDS_TEMPLATE
    verbose_name = _("admission log entry")
    verbose_name_plural = _("admission log")
    fields = ("logged_at", "step", "from_state", "to_state", "actor", "comment")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("by").order_by("timestamp", "pk")

    @admin.display(description=_("time"))
    def logged_at(self, entry: StateLog) -> str:
        return beijing_time(entry.timestamp)

    @admin.display(description=_("step"))
    def step(self, entry: StateLog) -> str:
        return admission_transition_label(entry.transition)

    @admin.display(description=_("state before"))
    def from_state(self, entry: StateLog) -> str:
        return admission_state_label(entry.source_state)

    @admin.display(description=_("state after"))
    def to_state(self, entry: StateLog) -> str:
        return admission_state_label(entry.state)

    @admin.display(description=_("acted by"))
    def actor(self, entry: StateLog) -> str:
        return str(entry.by) if entry.by_id else "—"

    @admin.display(description=_("comment or reason"))
    def comment(self, entry: StateLog) -> str:
        return entry.description or "—"


class ActivePeriodInline(ReadOnlyInline, admin.TabularInline):
    model = PartnerActivePeriod
    template = RECORDS_TEMPLATE
    fields = ("started_at", "ended_at")
    readonly_fields = fields


class ApplicationInline(ReadOnlyInline, admin.StackedInline):
    """A self-application's applicant, e-mail confirmation and the rejection reason told to the applicant."""

    model = PartnerApplication
    fields = ("applicant", "email", "mobile", "referral_code", "email_confirmed_at", "shared_reason", "created_at")
    readonly_fields = fields


class ReviewInline(ReadOnlyInline, admin.TabularInline):
    model = PartnerReview
    fields = ("trigger", "due_on", "opened_on", "state", "branch_approved_by", "approved_by", "approved_on")
    readonly_fields = fields


class TierChangeInline(ReadOnlyInline, admin.TabularInline):
    model = PartnerTierChange
    template = RECORDS_TEMPLATE
    fields = ("changed_at", "from_tier", "to_tier", "changed_by", "reason")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")


class PartnerImportForm(ImportForm):
    """The upload step: a file over the import's size or row limit is refused before it is parsed."""

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.import_formats = formats

    def clean(self):
        cleaned = super().clean()
        upload, chosen = cleaned.get("import_file"), cleaned.get("format")
        if upload is not None and chosen not in (None, ""):
            file_format = "xlsx" if self.import_formats[int(chosen)] is XLSX else "csv"
            try:
                services.partner_import_file_check(handle=upload.file, file_format=file_format, size=upload.size)
            except ApplicationError as exc:
                self.add_error("import_file", error_text(exc))
        return cleaned


@admin.register(Partner)
class PartnerAdmin(ReadableImportExportMixin, ImportExportModelAdmin):
    form = PartnerForm
    list_display = (
        "name",
        "partner_type",
        "state",
        "branch",
        "relationship_manager",
        "tier",
        "risk_rating",
        "updated",
    )
    # What each role works by on a 1366-pixel screen: an RM their own cases' codes and tiers, a reviewer whose
    # case it is; head office and finance every branch.
    list_display_by_role = {
        Role.BRANCH_RM: ("name", "credit_code", "partner_type", "state", "tier", "risk_rating", "updated"),
        Role.RISK_REVIEWER: (
            "name",
            "partner_type",
            "state",
            "relationship_manager",
            "assigned_reviewer",
            "risk_rating",
            "updated",
        ),
    }
    list_filter = ("partner_type", "state", ("branch", ScopedBranchFilter), "tier", "risk_rating", "origin")
    list_select_related = ("branch", "relationship_manager", "assigned_reviewer")
    search_fields = ("legal_name", "credit_code")
    search_help_text = _("Search by legal name or unified social credit code.")
    readonly_fields = (
        "state",
        "tier",
        "assigned_reviewer",
        "created_by",
        "created_at",
        "updated_at",
        "origin",
        "next_review_on",
    )
    fieldsets = (
        (None, {"fields": ("partner_type", "legal_name", "credit_code", "legal_representative", "registered_capital")}),
        (_("Contact"), {"fields": ("contact_name", "contact_phone", "contact_email")}),
        (
            _("Settlement"),
            {"fields": ("settlement_account_name", "settlement_bank", "settlement_account_no", "vat_rate")},
        ),
        (_("Ownership and risk"), {"fields": ("branch", "relationship_manager", "risk_rating")}),
        (
            _("Admission"),
            {
                "fields": (
                    "state",
                    "tier",
                    "assigned_reviewer",
                    "origin",
                    "next_review_on",
                    "created_by",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )
    inlines = (
        EvidenceItemInline,
        ApplicationInline,
        StateLogInline,
        ActivePeriodInline,
        TierChangeInline,
        ReviewInline,
    )
    resource_classes = (PartnerResource,)
    formats = (CSV, XLSX)
    import_form_class = PartnerImportForm
    # Adds the labelled exports to the list's tools; django-import-export wraps it with its own buttons.
    change_list_template = "admin/onboarding/partner/change_list.html"
    import_error_display = ("message", "row")

    @admin.display(description=_("legal name"), ordering="legal_name")
    def name(self, partner: Partner) -> str:
        return truncated(partner.legal_name, width="15em")

    @admin.display(description=_("updated at"), ordering="updated_at")
    def updated(self, partner: Partner) -> str:
        return beijing_time(partner.updated_at)

    def get_list_display(self, request):
        if not user_sees_all_branches(request.user):
            for role, columns in self.list_display_by_role.items():
                if role in user_role_names(request):
                    return columns
        return self.list_display

    # ---- scope and permissions ---------------------------------------------------------

    def get_queryset(self, request):
        return partner_list(user=request.user).select_related("branch", "relationship_manager")

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # The assigned reviewer and preparer are shown on the page; fetch them with the case.
            obj = Partner.objects.select_related("assigned_reviewer", "created_by").get(pk=obj.pk)
        return obj

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or can_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # cases are rejected or terminated, never deleted

    def has_import_permission(self, request):
        return request.user.has_perm("onboarding.import_partner")

    def has_export_permission(self, request):
        return request.user.has_perm("onboarding.view_partner")

    def export_file_view(self, request):
        """``export-file/?format=csv|xlsx[&lang=en]`` plus the list's own filters: the labelled partner list."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        params = request.GET.copy()
        try:
            file_format = export_format(params.pop("format", [""])[-1])
            language = export_language(request.GET)
            params.pop("lang", None)
            # The changelist's filters and search narrow the export, as the list shows it.
            request.GET = params
            listed = self.get_changelist_instance(request).get_queryset(request)
        except ExportParameterError as exc:
            return HttpResponseBadRequest(str(exc.message), content_type="text/plain; charset=utf-8")
        except (IncorrectLookupParameters, DisallowedModelAdminLookup, ValidationError):
            return HttpResponseBadRequest(gettext("Unknown filter."), content_type="text/plain; charset=utf-8")
        rows = partner_export_rows(partner_export_queryset(user=request.user, queryset=listed))
        filename = export_filename("partners", file_format, language)
        if file_format == "csv":
            response = StreamingHttpResponse(
                csv_export(PARTNER_EXPORT_COLUMNS, rows, language=language, totals=False),
                content_type=CSV_CONTENT_TYPE,
            )
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        handle = xlsx_export(PARTNER_EXPORT_COLUMNS, rows, language=language, title="partners", totals=False)
        return FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)

    def changelist_view(self, request, extra_context=None):
        query = request.GET.urlencode()
        url = reverse("admin:onboarding_partner_export_file")
        extra_context = {
            **(extra_context or {}),
            "export_file_csv": f"{url}?{query + '&' if query else ''}format=csv",
            "export_file_xlsx": f"{url}?{query + '&' if query else ''}format=xlsx",
        }
        return super().changelist_view(request, extra_context)

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {**kwargs, "user": request.user}

    def get_fieldsets(self, request, obj=None):
        return self.fieldsets[:-1] if obj is None else self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.state not in EDITABLE_STATES:
            # Editable here only during a re-review, which refreshes the evidence (the inline), not the details.
            return (*self.readonly_fields, *services.EDITABLE_FIELDS)
        return self.readonly_fields

    def get_inlines(self, request, obj):
        return () if obj is None else self.inlines

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "branch":
            kwargs["queryset"] = branch_list(user=request.user)
        elif db_field.name == "relationship_manager":
            kwargs["queryset"] = relationship_manager_list(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("branch", request.user.branch_id)
        if request.user.groups.filter(name=Role.BRANCH_RM.value).exists():
            initial.setdefault("relationship_manager", request.user.pk)
        return initial

    # ---- writes through the services ---------------------------------------------------

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ApplicationError, ValidationError) as exc:
            # The admin's own transaction has rolled back the partner and its inlines together.
            self.message_user(request, error_text(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def history_view(self, request, object_id, extra_context=None):
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404(_("No such partner."))
        return super().history_view(request, object_id, extra_context)

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in services.EDITABLE_FIELDS if name in form.cleaned_data}
        if change:
            changed = {name: value for name, value in data.items() if name in form.changed_data}
            if changed:
                services.partner_update(partner=obj, by=request.user, data=changed)
            return
        created = services.partner_create(by=request.user, **data)
        # The admin goes on with ``obj`` (log entry, redirect): make it the created case.
        obj.pk = created.pk
        obj._state.adding = False

    def save_formset(self, request, form, formset, change):
        if formset.model is not EvidenceItem:
            formset.save()
            return
        partner = form.instance
        # What formset.save() would have set, for the admin's change message.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for item_form in formset.forms:
            if not item_form.has_changed() or not item_form.cleaned_data:
                continue
            document = item_form.cleaned_data.get("document")
            item = services.evidence_item_record(
                partner=partner,
                requirement=item_form.cleaned_data.get("requirement") or item_form.instance.requirement,
                reference=item_form.cleaned_data.get("reference", ""),
                document=document if isinstance(document, UploadedFile) else None,
                clear_document=document is False,
                expires_on=item_form.cleaned_data.get("expires_on"),
                by=request.user,
            )
            if item_form.instance.pk:
                formset.changed_objects.append((item, item_form.changed_data))
            else:
                formset.new_objects.append(item)

    # ---- the admission panel: buttons calling the services ------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "export-file/",
                self.admin_site.admin_view(self.export_file_view),
                name="{}_{}_export_file".format(*info),
            ),
            path(
                "<path:object_id>/admission/<str:action>/",
                self.admin_site.admin_view(self.admission_action_view),
                name="{}_{}_admission".format(*info),
            ),
            path(
                "<path:object_id>/evidence/<int:item_id>/decide/",
                self.admin_site.admin_view(self.evidence_decide_view),
                name="{}_{}_evidence_decide".format(*info),
            ),
            path(
                "<path:object_id>/evidence/<int:item_id>/document/",
                # cacheable: the response sets its own Cache-Control (private, no-store).
                self.admin_site.admin_view(self.evidence_document_view, cacheable=True),
                name="{}_{}_evidence_document".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        partner = self.get_object(request, unquote(object_id))
        if partner is None:
            # Not the admin's "perhaps it was deleted" redirect: say nothing about other branches' partners.
            raise Http404(_("No such partner."))
        extra_context = {**(extra_context or {}), "admission": self._admission_panel(request, partner)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _admission_panel(self, request, partner: Partner) -> dict:
        allowed = allowed_actions(partner=partner, user=request.user)
        info = self.opts.app_label, self.opts.model_name
        actions = []
        for action in allowed:
            if action in (Action.EDIT, Action.DECIDE_EVIDENCE):
                continue
            actions.append(
                {
                    "name": action.value,
                    "label": _admission_action_label(action, partner),
                    "url": reverse("admin:{}_{}_admission".format(*info), args=[partner.pk, action.value]),
                    "reason_required": action in REASON_REQUIRED,
                    "needs_reviewer": action == Action.ASSIGN_REVIEWER,
                    "needs_tier": action == Action.CHANGE_TIER,
                    "refusal": admission_condition_refusal(action, partner),
                }
            )
        disabled = admission_refused_actions(partner=partner, user=request.user, allowed=allowed)
        panel = {
            "state": partner.state,
            "state_label": partner.get_state_display(),
            "actions": actions,
            "disabled_actions": disabled,
            "next_step": admission_next_step(partner),
            "head_office_note": head_office_note(partner),
            "needs_head_office": partner.needs_head_office,
            "missing": evidence_missing(partner=partner),
            "to_revise": evidence_needing_revision(partner=partner),
            "tiers": [(v, label) for v, label in PartnerTier.choices if v != partner.tier],
            "is_application": partner.origin == CaseOrigin.SELF_APPLICATION,
        }
        if any(a["needs_reviewer"] and not a["refusal"] for a in actions):
            makers = partner_makers(partner=partner)
            panel["reviewers"] = [u for u in reviewer_list(partner=partner) if u.pk not in makers]
        if Action.DECIDE_EVIDENCE in allowed:
            panel["decide_items"] = [
                {
                    "item": item,
                    "url": reverse("admin:{}_{}_evidence_decide".format(*info), args=[partner.pk, item.pk]),
                    "document_url": evidence_document_url(item) if item.document else "",
                }
                for item in partner.evidence_items.select_related("requirement", "decided_by")
            ]
            panel["decisions"] = [
                (EvidenceDecision.ACCEPTED, EvidenceDecision.ACCEPTED.label),
                (EvidenceDecision.NEEDS_REVISION, EvidenceDecision.NEEDS_REVISION.label),
            ]
        return panel

    def _back(self, partner_pk) -> HttpResponseRedirect:
        info = self.opts.app_label, self.opts.model_name
        return HttpResponseRedirect(reverse("admin:{}_{}_change".format(*info), args=[partner_pk]))

    @staticmethod
    def _seen_state_matches(request, partner: Partner) -> bool:
        """The page the user acted on showed the state the case still has (else someone acted meanwhile)."""
        seen = request.POST.get("expected_state")
        if seen and seen != partner.state:
            messages.error(
                request,
                _("This case was changed by someone else (it is now %(state)s). Reload it and try again.")
                % {"state": partner.get_state_display()},
            )
            return False
        return True

    def admission_action_view(self, request, object_id, action):
        return require_POST(self._admission_action)(request, object_id, action)

    def _admission_action(self, request, object_id, action):
        partner = self.get_object(request, unquote(object_id))
        if partner is None or action not in Action.values or action in (Action.EDIT, Action.DECIDE_EVIDENCE):
            raise Http404
        if not self._seen_state_matches(request, partner):
            return self._back(partner.pk)
        action = Action(action)
        comment = request.POST.get("comment", "")
        try:
            if action == Action.ASSIGN_REVIEWER:
                reviewer = reviewer_list(partner=partner).filter(pk=request.POST.get("reviewer") or None).first()
                if reviewer is None:
                    raise ValidationError(_("Choose a reviewer."))
                services.partner_assign_reviewer(partner=partner, reviewer=reviewer, by=request.user, comment=comment)
            elif action == Action.CHANGE_TIER:
                services.partner_tier_change(
                    partner=partner, tier=request.POST.get("tier", ""), by=request.user, reason=comment
                )
            elif action == Action.REJECT:
                services.partner_reject(
                    partner=partner,
                    by=request.user,
                    comment=comment,
                    shared_reason=request.POST.get("shared_reason", ""),
                )
            else:
                services.ACTION_SERVICES[action](partner=partner, by=request.user, comment=comment)
        except (ApplicationError, ValidationError) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(
                request,
                _("%(action)s: done. The case is now %(state)s.")
                % {"action": action.label, "state": partner.get_state_display()},
            )
        return self._back(partner.pk)

    def evidence_decide_view(self, request, object_id, item_id):
        return require_POST(self._evidence_decide)(request, object_id, item_id)

    def _evidence_decide(self, request, object_id, item_id):
        partner = self.get_object(request, unquote(object_id))
        if partner is None:
            raise Http404
        item = partner.evidence_items.select_related("requirement").filter(pk=item_id).first()
        if item is None:
            raise Http404
        if not self._seen_state_matches(request, partner):
            return self._back(partner.pk)
        try:
            services.evidence_item_decide(
                item=item,
                decision=request.POST.get("decision", ""),
                reason=request.POST.get("reason", ""),
                by=request.user,
            )
        except (ApplicationError, ValidationError) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, _("Decision on “%(item)s” recorded.") % {"item": item.requirement})
        return self._back(partner.pk)

    def evidence_document_view(self, request, object_id, item_id):
        return require_safe(self._evidence_document)(request, object_id, item_id)

    def _evidence_document(self, request, object_id, item_id):
        # get_object is the partner's own scope: another branch's partner is 404, as its change page is.
        partner = self.get_object(request, unquote(object_id))
        item = partner.evidence_items.select_related("requirement").filter(pk=item_id).first() if partner else None
        if item is None:
            raise Http404
        try:
            document = services.evidence_document_download(
                item=item, by=request.user, ip=request.META.get("REMOTE_ADDR")
            )
        except ApplicationError as exc:
            # Not permitted, or no document: the same 404, saying nothing about what exists.
            raise Http404 from exc
        return private_file_response(document.file, filename=document.filename, content_type=document.content_type)


@admin.register(EvidenceDownload)
class EvidenceDownloadAdmin(admin.ModelAdmin):
    """Who downloaded which evidence document, and when: read-only, in the partners' branch scope."""

    list_display = ("at", "user", "partner", "requirement", "document_name", "ip")
    list_select_related = ("user", "item__partner", "item__requirement")
    search_fields = ("user__username", "item__partner__legal_name", "item__partner__credit_code")
    date_hierarchy = "at"
    fields = ("at", "user", "partner", "requirement", "document_name", "document", "ip")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(item__partner__in=partner_list(user=request.user))

    @admin.display(description=_("partner"), ordering="item__partner__legal_name")
    def partner(self, obj: EvidenceDownload) -> str:
        return obj.item.partner.legal_name

    @admin.display(description=_("evidence"))
    def requirement(self, obj: EvidenceDownload) -> str:
        return str(obj.item.requirement)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EvidenceRequirement)
class EvidenceRequirementAdmin(admin.ModelAdmin):
    """Head office maintains what each partner type must provide."""

    list_display = ("name", "partner_type", "code", "is_required", "sort_order")
    list_filter = ("partner_type", "is_required")
    list_editable = ("is_required", "sort_order")
    search_fields = ("name", "code")
    ordering = ("partner_type", "sort_order")

    def has_delete_permission(self, request, obj=None):
        return False  # make it optional instead: items point at it


class ReviewDueFilter(admin.SimpleListFilter):
    """Running re-reviews due (not yet past their date) or overdue (past it), on today's China date."""

    title = _("due")
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("due", _("Due (running, not yet past the date)")), ("overdue", _("Overdue"))]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        running = queryset.filter(state__in=REVIEW_RUNNING_STATES)
        if self.value() == "due":
            return running.filter(due_on__gte=today)
        if self.value() == "overdue":
            return running.filter(due_on__lt=today)
        return queryset


@admin.register(PartnerReview)
class PartnerReviewAdmin(admin.ModelAdmin):
    """Re-reviews (年审) per branch: filter by branch and by due/overdue. Evidence is refreshed and decided on the
    partner's page; the approvals are the actions here (the services check permission and maker-checker)."""

    list_display = ("partner", "branch", "trigger", "due_on", "due_status", "state", "opened_on", "approved_on")
    list_filter = (ReviewDueFilter, "state", ("branch", ScopedBranchFilter), "trigger")
    list_select_related = ("partner", "branch")
    search_fields = ("partner__legal_name", "partner__credit_code")
    date_hierarchy = "due_on"
    fields = (
        "partner",
        "branch",
        "trigger",
        "due_on",
        "opened_on",
        "state",
        "branch_approved_by",
        "approved_by",
        "approved_on",
        "suspended_at",
    )
    readonly_fields = fields
    actions = ("approve_branch", "approve_head_office")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(partner__in=partner_list(user=request.user))

    @admin.display(description=_("due status"))
    def due_status(self, review: PartnerReview) -> str:
        if review.state == ReviewState.APPROVED:
            return "—"
        return _("Overdue") if review.due_on < timezone.localdate() else _("Due")

    def _decide(self, request, queryset, service) -> None:
        done = 0
        for review in queryset.order_by("pk"):
            try:
                service(review=review, by=request.user, today=timezone.localdate())
            except (ApplicationError, ValidationError) as exc:
                messages.error(request, f"{review.partner}: {error_text(exc)}")
            else:
                done += 1
        if done:
            messages.success(request, _("%(count)d re-reviews decided.") % {"count": done})

    @admin.action(description=_("Approve the selected re-reviews (branch)"), permissions=["approve"])
    def approve_branch(self, request, queryset):
        self._decide(request, queryset, services.review_approve)

    @admin.action(description=_("Approve the selected re-reviews (head office)"), permissions=["approve"])
    def approve_head_office(self, request, queryset):
        self._decide(request, queryset, services.review_approve_head_office)

    def has_approve_permission(self, request) -> bool:
        return request.user.has_perm("onboarding.approve_partner")

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("onboarding.view_partner")

    def has_add_permission(self, request) -> bool:
        return False  # opened by the nightly job

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# ---- what the admission panel says: who acts next, and why a step is not open --------------------

# States before the branch decision, in which a high-risk or PE/VC case is still to go to head office.
BEFORE_BRANCH_DECISION = (
    AdmissionState.DRAFT,
    AdmissionState.SUBMITTED,
    AdmissionState.UNDER_REVIEW,
    AdmissionState.NEEDS_INFO,
    AdmissionState.RESUBMITTED,
)


def _admission_action_label(action: Action, partner: Partner) -> str:
    if action == Action.APPROVE and partner.needs_head_office:
        return _("Approve (then to head office for the second approval)")
    return action.label


def head_office_note(partner: Partner) -> str:
    """The header's note on the head-office step: still ahead, or given (never "needs" once it is done)."""
    if not partner.needs_head_office:
        return ""
    if partner.state in BEFORE_BRANCH_DECISION:
        return _("needs head-office approval after the branch's")
    if partner.state in (AdmissionState.APPROVED, AdmissionState.CONTRACTED, AdmissionState.ACTIVE):
        return _("head-office approval given")
    return ""


def admission_next_step(partner: Partner) -> str:
    """Who acts next on the case, in one sentence."""
    rm = partner.relationship_manager
    state = partner.state
    if state == AdmissionState.DRAFT:
        return _("Next: the relationship manager %(rm)s records the required evidence and submits the case.") % {
            "rm": rm
        }
    if state in (AdmissionState.SUBMITTED, AdmissionState.RESUBMITTED):
        if partner.assigned_reviewer_id:
            return _("Next: the reviewer %(reviewer)s takes the case again.") % {"reviewer": partner.assigned_reviewer}
        return _("Next: a reviewer of %(branch)s takes the case.") % {"branch": partner.branch}
    if state == AdmissionState.UNDER_REVIEW:
        text = _(
            "Next: the assigned reviewer %(reviewer)s decides the evidence, then approves, asks for more "
            "information or rejects."
        ) % {"reviewer": partner.assigned_reviewer or "—"}
        if partner.needs_head_office:
            text += " " + str(_("The branch's approval sends this case to head office for a second approval."))
        return text
    if state == AdmissionState.NEEDS_INFO:
        return _("Next: the relationship manager %(rm)s fixes what was asked for and resubmits.") % {"rm": rm}
    if state == AdmissionState.PENDING_HEAD_OFFICE:
        return _("Next: head office gives the second approval (someone other than the branch's approver).")
    if state == AdmissionState.APPROVED:
        return _("Next: the relationship manager %(rm)s records the signed contract.") % {"rm": rm}
    if state == AdmissionState.CONTRACTED:
        return _("Next: the relationship manager %(rm)s activates the partner.") % {"rm": rm}
    if state == AdmissionState.ACTIVE:
        return _("The partner is active and earns a share.")
    if state == AdmissionState.SUSPENDED:
        return _("The partner is suspended: it can be reinstated or terminated.")
    return _("The case is closed; no further steps.")


def admission_condition_refusal(action: Action, partner: Partner) -> str:
    """Why a step the user may take cannot go through yet: the state machine's evidence conditions, named."""
    transitions = transitions_for(partner, action)
    if not transitions:
        return ""
    failing = []
    for transition in transitions:
        failed = [condition for condition in transition.conditions if not condition(partner)]
        if not failed:
            return ""
        failing.extend(c for c in failed if c in CONDITION_REFUSALS)
    for condition in dict.fromkeys(failing):
        return CONDITION_REFUSALS[condition](partner)
    return ""


def _names(items) -> str:
    return "、".join(str(i) for i in items)


CONDITION_REFUSALS = {
    has_required_evidence: lambda p: _("Required evidence is missing: %(items)s.")
    % {"items": _names(evidence_missing(partner=p))},
    has_no_evidence_needing_revision: lambda p: _("These items still need revising: %(items)s.")
    % {"items": _names(i.requirement for i in evidence_needing_revision(partner=p))},
    has_all_evidence_accepted: lambda p: _("Evidence not yet accepted: %(items)s.")
    % {"items": _names(evidence_not_accepted(partner=p))},
}


def admission_refused_actions(*, partner: Partner, user, allowed: list[Action]) -> list[dict]:
    """Steps open in this state for which the user holds the permission but a people rule refuses them now
    (maker-checker, the assigned reviewer, head office only), each with the reason."""
    makers = partner_makers(partner=partner)
    refused = []
    for action in TRANSITION_METHODS:
        action = Action(action)
        if action in allowed:
            continue
        transitions = transitions_for(partner, action)
        if not transitions or not request_user_has(user, transitions[0].permission):
            continue
        try:
            authorise(action=action, partner=partner, user=user, makers=makers)
        except ApplicationError as exc:
            refused.append(
                {"name": action.value, "label": _admission_action_label(action, partner), "refusal": error_text(exc)}
            )
    return refused


def request_user_has(user, permission: str) -> bool:
    return bool(permission) and user.has_perm(permission)
