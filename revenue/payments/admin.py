"""Payments admin: thin, every write goes through ``revenue.payments.services``.

* Invoices: read-only; finance checks the selected ones (accepted when they
  match, returned with the mismatches otherwise) or returns them with a reason
  of its own; the invoice file is served by an authorising view.
* Payment batches: create one from chosen settlements or all those due
  (finance, ``create_paymentbatch``), approve it (another finance user),
  cancel it before approval, download its pain.001 XML and CSV (checked
  against their SHA-256), import the payment system's result file.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdminMixin, error_text
from core.errors import ApplicationError
from core.periods import CHINA_TZ
from core.storage import private_file_response
from revenue.payments import services
from revenue.payments.choices import BatchState, InvoiceState
from revenue.payments.models import Invoice, PaymentBatch, PaymentBatchItem, PaymentResultImport
from revenue.payments.selectors import invoice_list, payment_batch_list, settlements_due_for_payment
from revenue.payments.services.invoices import invoice_file_open


def _context(model_admin, request, title, **extra):
    return {**model_admin.admin_site.each_context(request), "title": title, "opts": model_admin.model._meta, **extra}


# ---- invoices --------------------------------------------------------------------------------


class ReturnForm(forms.Form):
    reason = forms.CharField(
        label=_("reason (shown to the partner)"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "partner", "settlement", "issued_on", "amount", "tax_rate", "tax", "state")
    list_display += ("submitted_at", "decided_by", "file_link")
    list_filter = ("state",)
    search_fields = ("number", "code", "partner__legal_name", "=partner__credit_code")
    list_select_related = ("partner", "settlement__period", "settlement__partner", "decided_by")
    actions = ("review_invoices", "return_invoices")
    fields = (
        ("partner", "settlement", "state"),
        ("number", "code", "issued_on"),
        ("amount", "tax_rate", "tax"),
        ("buyer_name", "buyer_taxpayer_number"),
        ("file_link", "file_type", "file_sha256"),
        ("submitted_by", "submitted_at"),
        ("decided_by", "decided_at", "return_reason"),
    )
    readonly_fields = [f for group in fields for f in group]

    def get_queryset(self, request):
        return invoice_list(user=request.user)

    @admin.display(description=_("invoice file"))
    def file_link(self, obj: Invoice):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:payments_invoice_file", args=[obj.pk]), obj.file_name or _("file")
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("payments.review_invoice"):
            actions.pop("review_invoices", None)
            actions.pop("return_invoices", None)
        return actions

    @admin.action(description=_("Check the selected invoices (accept if they match, else return with the reasons)"))
    def review_invoices(self, request, queryset):
        for invoice in queryset:
            try:
                decided = services.invoice_review(invoice=invoice, by=request.user)
            except (ApplicationError, ValidationError) as exc:
                self.message_user(request, f"{invoice}: {error_text(exc)}", messages.ERROR)
                continue
            if decided.state == InvoiceState.ACCEPTED:
                self.message_user(request, _("%(invoice)s accepted.") % {"invoice": decided}, messages.SUCCESS)
            else:
                self.message_user(
                    request,
                    _("%(invoice)s returned to the partner: %(reason)s")
                    % {"invoice": decided, "reason": decided.return_reason},
                    messages.WARNING,
                )

    @admin.action(description=_("Return the selected invoices to the partner with a reason"))
    def return_invoices(self, request, queryset):
        form = ReturnForm(request.POST if "reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            for invoice in queryset:
                try:
                    services.invoice_return(invoice=invoice, by=request.user, reason=form.cleaned_data["reason"])
                except (ApplicationError, ValidationError) as exc:
                    self.message_user(request, f"{invoice}: {error_text(exc)}", messages.ERROR)
                else:
                    self.message_user(request, _("%(invoice)s returned.") % {"invoice": invoice}, messages.SUCCESS)
            return None
        context = _context(
            self,
            request,
            _("Return invoices"),
            form=form,
            objects=queryset,
            action="return_invoices",
            action_checkbox_name=admin.helpers.ACTION_CHECKBOX_NAME,
        )
        return TemplateResponse(request, "admin/payments/action_form.html", context)

    def get_urls(self):
        return [
            path("<int:invoice_id>/file/", self.admin_site.admin_view(self.file_view), name="payments_invoice_file"),
            *super().get_urls(),
        ]

    def file_view(self, request, invoice_id: int):
        invoice = get_object_or_404(self.get_queryset(request), pk=invoice_id)
        try:
            opened = invoice_file_open(invoice=invoice, by=request.user)
        except ApplicationError as exc:
            raise PermissionDenied(error_text(exc)) from exc
        return private_file_response(opened.file, filename=opened.filename, content_type=opened.content_type)


# ---- payment batches -------------------------------------------------------------------------


class ItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PaymentBatchItem
    fields = ("position", "end_to_end_id", "settlement", "invoice", "creditor_name", "creditor_account")
    fields += ("creditor_bank", "amount", "state", "bank_reference", "result_date", "failure_reason")
    readonly_fields = fields
    extra = 0

    def has_view_permission(self, request, obj=None):
        return True  # shown to whoever may see the batch

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("settlement__partner", "settlement__period", "invoice")


class ImportInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PaymentResultImport
    fields = ("imported_at", "imported_by", "file_name", "file_sha256", "lines", "paid", "failed")
    fields += ("already_applied", "report_shown")
    readonly_fields = fields
    extra = 0

    REPORT_LABELS = {
        "paid": _("marked paid"),
        "failed": _("marked failed"),
        "already_applied": _("already applied"),
        "unmatched": _("unmatched end-to-end ids"),
        "duplicates": _("repeated lines"),
        "conflicts": _("lines contradicting a recorded result"),
    }

    def has_view_permission(self, request, obj=None):
        return True

    @admin.display(description=_("report"))
    def report_shown(self, record: PaymentResultImport):
        """The import's report, list by list, in words (no raw JSON)."""
        parts = [
            (label, "、".join(record.report[key]))
            for key, label in self.REPORT_LABELS.items()
            if record.report.get(key)
        ]
        if not parts:
            return "—"
        return format_html_join(mark_safe("<br>"), "{}：{}", parts)


class BatchCreateForm(forms.Form):
    all_due = forms.BooleanField(label=_("all settlements due"), required=False, initial=True)
    settlements = forms.ModelMultipleChoiceField(
        label=_("or these settlements"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Approved settlements with an accepted invoice, in no live batch."),
    )
    execution_date = forms.DateField(label=_("requested execution date"), help_text=_("YYYY-MM-DD"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["settlements"].queryset = settlements_due_for_payment()
        self.fields["settlements"].label_from_instance = lambda s: f"{s} · {s.payable:,.2f} CNY"
        self.fields["execution_date"].initial = timezone.now().astimezone(CHINA_TZ).date()

    def clean(self):
        data = super().clean()
        if not data.get("all_due") and not data.get("settlements"):
            raise ValidationError(_("Choose the settlements, or all those due."))
        return data


class ConfirmForm(forms.Form):
    comment = forms.CharField(label=_("comment"), max_length=500, required=False)


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class ResultImportForm(forms.Form):
    file = forms.FileField(
        label=_("result file (CSV)"),
        help_text=_("Columns: end_to_end_id, status (paid/failed), bank_reference, date (YYYY-MM-DD), reason."),
    )


@admin.register(PaymentBatch)
class PaymentBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("number", "state", "execution_date", "transaction_count", "control_sum", "created_by")
    list_display += ("approved_by", "files", "next_step")
    list_filter = ("state",)
    search_fields = ("=number", "items__end_to_end_id")
    inlines = (ItemInline, ImportInline)
    fields = (
        ("number", "state", "execution_date"),
        ("transaction_count", "control_sum"),
        ("debtor_name", "debtor_account", "debtor_bank_name", "debtor_bank_code"),
        ("files", "xml_sha256", "csv_sha256"),
        ("created_by", "created_at"),
        ("approved_by", "approved_at"),
        ("cancelled_by", "cancelled_at", "cancel_reason"),
    )
    readonly_fields = [f for group in fields for f in group]

    def get_queryset(self, request):
        return payment_batch_list(user=request.user)

    @admin.display(description=_("files"))
    def files(self, obj: PaymentBatch):
        return format_html(
            '<a href="{}">pain.001 XML</a> · <a href="{}">CSV</a>',
            reverse("admin:payments_paymentbatch_file", args=[obj.pk, "xml"]),
            reverse("admin:payments_paymentbatch_file", args=[obj.pk, "csv"]),
        )

    @admin.display(description=_("next step"))
    def next_step(self, obj: PaymentBatch):
        if obj.state == BatchState.PENDING_APPROVAL:
            return format_html(
                '<a href="{}">{}</a> · <a href="{}">{}</a>',
                reverse("admin:payments_paymentbatch_approve", args=[obj.pk]),
                _("approve"),
                reverse("admin:payments_paymentbatch_cancel", args=[obj.pk]),
                _("cancel"),
            )
        if obj.state in (BatchState.APPROVED, BatchState.COMPLETED):
            return format_html(
                '<a href="{}">{}</a>', reverse("admin:payments_paymentbatch_import", args=[obj.pk]), _("import results")
            )
        return "—"

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_create": request.user.has_perm("payments.create_paymentbatch")}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("create/", view(self.create_view), name="payments_paymentbatch_create"),
            path("<int:batch_id>/approve/", view(self.approve_view), name="payments_paymentbatch_approve"),
            path("<int:batch_id>/cancel/", view(self.cancel_view), name="payments_paymentbatch_cancel"),
            path("<int:batch_id>/import/", view(self.import_view), name="payments_paymentbatch_import"),
            path("<int:batch_id>/file/<str:kind>/", view(self.file_view), name="payments_paymentbatch_file"),
            *super().get_urls(),
        ]

    def _batch(self, request, batch_id: int) -> PaymentBatch:
        return get_object_or_404(self.get_queryset(request), pk=batch_id)

    def _change_url(self, batch: PaymentBatch) -> str:
        return reverse("admin:payments_paymentbatch_change", args=[batch.pk])

    def create_view(self, request):
        if not request.user.has_perm("payments.create_paymentbatch"):
            raise PermissionDenied
        form = BatchCreateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            chosen = None if form.cleaned_data["all_due"] else list(form.cleaned_data["settlements"])
            try:
                batch = services.payment_batch_create(
                    by=request.user, settlements=chosen, execution_date=form.cleaned_data["execution_date"]
                )
            except (ApplicationError, ValidationError) as exc:
                self.message_user(request, error_text(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _(
                        "Payment batch %(number)s created: %(count)d transfers, %(sum)s CNY. "
                        "Another finance user approves it."
                    )
                    % {"number": batch.number, "count": batch.transaction_count, "sum": f"{batch.control_sum:,.2f}"},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self._change_url(batch))
        return TemplateResponse(
            request, "admin/payments/action_form.html", _context(self, request, _("Create a payment batch"), form=form)
        )

    def _step(self, request, batch_id: int, *, perm: str, form_class, title, act, success):
        if not request.user.has_perm(perm):
            raise PermissionDenied
        batch = self._batch(request, batch_id)
        form = form_class(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            try:
                report = act(batch, form.cleaned_data)
            except (ApplicationError, ValidationError) as exc:
                self.message_user(request, error_text(exc), messages.ERROR)
            else:
                self.message_user(request, success, messages.SUCCESS)
                if report is None:
                    return HttpResponseRedirect(self._change_url(batch))
        context = _context(self, request, title, form=form, batch=batch, report=report, multipart=True)
        return TemplateResponse(request, "admin/payments/action_form.html", context)

    def approve_view(self, request, batch_id: int):
        def act(batch, data):
            services.payment_batch_approve(batch=batch, by=request.user, comment=data["comment"])

        return self._step(
            request,
            batch_id,
            perm="payments.approve_paymentbatch",
            form_class=ConfirmForm,
            title=_("Approve a payment batch"),
            act=act,
            success=_("Payment batch approved: its file may be sent to the payment system."),
        )

    def cancel_view(self, request, batch_id: int):
        def act(batch, data):
            services.payment_batch_cancel(batch=batch, by=request.user, reason=data["reason"])

        return self._step(
            request,
            batch_id,
            perm="payments.create_paymentbatch",
            form_class=CancelForm,
            title=_("Cancel a payment batch"),
            act=act,
            success=_("Payment batch cancelled."),
        )

    def import_view(self, request, batch_id: int):
        def act(batch, data):
            record = services.payment_result_import(batch=batch, by=request.user, file=data["file"])
            return record.report

        return self._step(
            request,
            batch_id,
            perm="payments.import_payment_result",
            form_class=ResultImportForm,
            title=_("Import a payment result file"),
            act=act,
            success=_("Result file imported."),
        )

    def file_view(self, request, batch_id: int, kind: str):
        batch = self._batch(request, batch_id)
        try:
            found = services.payment_batch_file(batch=batch, kind=kind, by=request.user)
        except ApplicationError as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
            return HttpResponseRedirect(self._change_url(batch))
        response = HttpResponse(found.content, content_type=found.content_type)
        response["Content-Disposition"] = f'attachment; filename="{found.filename}"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response
