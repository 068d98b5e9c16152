"""Statements for bank staff in the admin (imported by ``revenue/admin.py``).

Staff see the same statements as partners: whoever may view settlements
(``revenue.view_settlement``) sees the statements of the settlements in their
scope (every branch for head office and finance, their own branch's partners
otherwise) and downloads the PDF and the detail files, recorded as admin
downloads. A final settlement without a statement yet gets one issued on the
first download. Everything here is read-only: statements are immutable and
webhooks belong to the partners.

:func:`statement_admin_links` gives the download links for any settlement, for
use on the settlement's own admin page.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin import beijing_time, count_cell, time_column, truncated
from core.errors import ApplicationError
from core.spreadsheets import ExportParameterError, export_language
from portal.apis import detail_file_response, pdf_response
from revenue.settlement.choices import DisputeState, SettlementState
from revenue.settlement.models import Settlement
from revenue.statements import selectors
from revenue.statements.choices import DownloadChannel, DownloadKind
from revenue.statements.models import (
    DownloadEvent,
    PartnerEvent,
    PartnerWebhook,
    Statement,
    StatementIssuer,
    WebhookDelivery,
)
from revenue.statements.services import (
    download_event_record,
    statement_get_or_generate,
    statement_issuer_update,
    statement_pdf,
)
from revenue.statements.services.issuer import ISSUER_FIELDS

VIEW_PERMISSION = "settlement.view_settlement"


def statement_admin_links(settlement: Settlement) -> str:
    """HTML links to the settlement's statement PDF and detail files in the admin ("" for a draft)."""
    if not selectors.settlement_is_final(settlement):
        return ""
    return format_html(
        '<a href="{}">{}</a> · <a href="{}">CSV</a> · <a href="{}">XLSX</a>',
        reverse("admin:statements_statement_pdf", args=[settlement.pk]),
        _("Statement (PDF)"),
        reverse("admin:statements_statement_detail_csv", args=[settlement.pk]),
        reverse("admin:statements_statement_detail_xlsx", args=[settlement.pk]),
    )


# The states a partner event's payload may carry, shown by their names (the payload keeps the API's codes).
PAYLOAD_STATE_LABELS = {"state": SettlementState, "outcome": DisputeState}


def payload_table(payload: dict) -> str:
    """A webhook payload as sent, one row per key, states by their names: no raw JSON on the page."""
    if not payload:
        return "—"
    rows = []
    for key, value in payload.items():
        choices = PAYLOAD_STATE_LABELS.get(key)
        if choices is not None and value in choices.values:
            value = choices(value).label
        rows.append((key, value))
    return format_html(
        '<table class="payload"><tbody>{}</tbody></table>',
        format_html_join("", "<tr><td><code>{}</code></td><td>{}</td></tr>", rows),
    )


class StaffScopedReadOnly:
    """Viewable by whoever may view settlements, within their branch scope; never added, changed or deleted."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.has_perm(VIEW_PERMISSION)

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Statement)
class StatementAdmin(StaffScopedReadOnly, admin.ModelAdmin):
    list_display = ["number", "partner", "period_label", "settlement_state", "size_kb", "generated", "downloads"]
    list_filter = ["period_label"]
    search_fields = ["number", "code", "settlement__partner__legal_name", "settlement__partner__credit_code"]
    list_select_related = ["settlement__partner"]
    fields = [
        "number",
        "settlement",
        "period_label",
        "code",
        "sha256",
        "size_kb",
        "layout",
        "generated",
        "generated_by",
        "downloads",
        "download_history",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return selectors.staff_statements(user=request.user).select_related("settlement__partner")

    generated = time_column(Statement, "generated_at")

    @admin.display(description=_("partner"), ordering="settlement__partner__legal_name")
    def partner(self, obj: Statement) -> str:
        return truncated(obj.settlement.partner.legal_name, width="15em")

    @admin.display(description=_("size (KB)"), ordering="size")
    def size_kb(self, obj: Statement) -> str:
        return count_cell(round(obj.size / 1024)) if obj.size is not None else "—"

    @admin.display(description=_("settlement state"))
    def settlement_state(self, obj: Statement) -> str:
        return obj.settlement.get_state_display()

    @admin.display(description=_("downloads"))
    def downloads(self, obj: Statement) -> str:
        return statement_admin_links(obj.settlement)

    @admin.display(description=_("download history"))
    def download_history(self, obj: Statement) -> str:
        events = selectors.download_events(settlement=obj.settlement)[:20]
        if not events:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} · {} · {} · {}</li>",
                ((beijing_time(e.at), e.user, e.get_kind_display(), e.get_channel_display()) for e in events),
            ),
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("settlement/<int:settlement_id>/pdf/", wrap(self.pdf_view), name="statements_statement_pdf"),
            path(
                "settlement/<int:settlement_id>/transactions.csv",
                wrap(self.detail_view),
                {"kind": DownloadKind.CSV},
                name="statements_statement_detail_csv",
            ),
            path(
                "settlement/<int:settlement_id>/transactions.xlsx",
                wrap(self.detail_view),
                {"kind": DownloadKind.XLSX},
                name="statements_statement_detail_xlsx",
            ),
            *super().get_urls(),
        ]

    def _settlement(self, request, settlement_id: int) -> Settlement:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            settlement = selectors.staff_settlements(user=request.user).get(pk=settlement_id)
        except Settlement.DoesNotExist as exc:
            raise Http404 from exc
        if not selectors.settlement_is_final(settlement):
            raise Http404
        return settlement

    def pdf_view(self, request, settlement_id: int):
        settlement = self._settlement(request, settlement_id)
        try:
            statement = statement_get_or_generate(settlement=settlement, by=request.user)
            content = statement_pdf(statement=statement)
        except ApplicationError as exc:
            self.message_user(request, str(exc.message), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:statements_statement_changelist"))
        download_event_record(
            user=request.user,
            settlement=settlement,
            kind=DownloadKind.PDF,
            channel=DownloadChannel.ADMIN,
            ip=request.META.get("REMOTE_ADDR"),
        )
        return pdf_response(content, statement.number)

    def detail_view(self, request, settlement_id: int, kind: str):
        settlement = self._settlement(request, settlement_id)
        try:
            language = export_language(request.GET)
        except ExportParameterError as exc:
            return HttpResponseBadRequest(str(exc.message), content_type="text/plain; charset=utf-8")
        download_event_record(
            user=request.user,
            settlement=settlement,
            kind=kind,
            channel=DownloadChannel.ADMIN,
            ip=request.META.get("REMOTE_ADDR"),
        )
        return detail_file_response(settlement, kind, language=language)


@admin.register(DownloadEvent)
class DownloadEventAdmin(StaffScopedReadOnly, admin.ModelAdmin):
    list_display = ["at", "user", "partner", "settlement", "kind", "channel", "ip"]
    list_filter = ["channel", "kind"]
    search_fields = ["user__username", "partner__legal_name"]
    list_select_related = ["user", "partner", "settlement__period", "settlement__partner"]
    date_hierarchy = "at"

    def get_queryset(self, request):
        scope = selectors.staff_settlements(user=request.user)
        return super().get_queryset(request).filter(settlement__in=scope)


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ["event", "state", "attempts", "last_attempt_at", "last_status", "last_error", "delivered_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-id"]

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.has_perm(VIEW_PERMISSION)


@admin.register(PartnerWebhook)
class PartnerWebhookAdmin(StaffScopedReadOnly, admin.ModelAdmin):
    list_display = ["partner", "url", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["partner__legal_name", "url"]
    # The signing secret is the partner's: never shown to staff.
    fields = ["partner", "url", "active", "created_by", "created_at"]
    readonly_fields = fields
    inlines = [WebhookDeliveryInline]

    def get_queryset(self, request):
        scope = selectors.staff_settlements(user=request.user).values("partner_id")
        return super().get_queryset(request).filter(partner_id__in=scope).select_related("partner")


@admin.register(PartnerEvent)
class PartnerEventAdmin(StaffScopedReadOnly, admin.ModelAdmin):
    list_display = ["created_at", "kind", "partner", "settlement", "emailed_at", "email_recipients"]
    list_filter = ["kind"]
    search_fields = ["key", "partner__legal_name"]
    fields = ["key", "kind", "partner", "settlement", "dispute", "payload_rows", "created_at", "emailed_at"]
    readonly_fields = fields

    @admin.display(description=_("payload"))
    def payload_rows(self, obj: PartnerEvent) -> str:
        return payload_table(obj.payload)

    list_select_related = ["partner", "settlement__period", "settlement__partner"]

    def get_queryset(self, request):
        scope = selectors.staff_settlements(user=request.user)
        return super().get_queryset(request).filter(settlement__in=scope)


@admin.register(StatementIssuer)
class StatementIssuerAdmin(admin.ModelAdmin):
    """The one issuer row: head office changes it (through the service), finance reads it; never added or deleted."""

    fields = [*ISSUER_FIELDS, "updated_at", "updated_by"]
    readonly_fields = ["updated_at", "updated_by"]
    list_display = ["name", "name_en", "invoice_title", "taxpayer_number", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        # One row: the list is the row itself.
        if self.has_view_or_change_permission(request) and self.get_queryset(request).exists():
            return HttpResponseRedirect(
                reverse("admin:statements_statementissuer_change", args=[StatementIssuer.SINGLETON_PK])
            )
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change) -> None:
        try:
            saved = statement_issuer_update(by=request.user, **{f: form.cleaned_data[f] for f in ISSUER_FIELDS})
        except ApplicationError as exc:
            raise PermissionDenied(str(exc.message)) from exc
        obj.pk, obj.updated_at, obj.updated_by = saved.pk, saved.updated_at, saved.updated_by


__all__ = ["StatementAdmin", "StatementIssuerAdmin", "statement_admin_links"]
