"""The revenue admin: the product catalogue and agreements (head office edits, others read) and the ledger (read-only).

Thin by design: every write goes through ``revenue.ledger.services``. Transactions
are read-only for everyone (booked rows never change), scoped to the user's
branch unless they see all branches, and imported from CSV/XLSX through the
same all-or-nothing service as the API. The transaction list costs the same
number of queries whatever the page size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, Q
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin import (
    RECORDS_TEMPLATE,
    ReadOnlyAdminMixin,
    error_text,
    id_filter_value,
    money_column,
    time_column,
    truncated,
)
from core.errors import ApplicationError
from core.periods import CHINA_TZ, Period
from core.spreadsheets import UnsafeSpreadsheet, xlsx_check
from onboarding.selectors import branch_list, partner_list
from organisation.services import user_sees_all_branches
from revenue.calculations import TierBracket, tier_brackets_problems
from revenue.ledger import services
from revenue.ledger.choices import TIERED_KINDS, IngestionChannel
from revenue.ledger.errors import IngestionRejected
from revenue.ledger.ingestion.rows import MALFORMED, RowError, as_text
from revenue.ledger.models import (
    Agreement,
    AgreementTier,
    AgreementVersion,
    IngestionBatch,
    Product,
    SourceSystem,
    Transaction,
    TransactionAttribution,
)
from revenue.ledger.selectors import agreement_versions_overlapping, transaction_list
from revenue.ledger.services.ingestion import header_problems

# ---- products --------------------------------------------------------------------------------


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "revenue_kind", "is_active")
    list_filter = ("revenue_kind", "is_active")
    search_fields = ("code", "name")
    fields = ("code", "name", "revenue_kind", "description", "is_active")

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj else ()

    def has_delete_permission(self, request, obj=None):
        return False  # withdrawn, never deleted: the ledger refers to it

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in ("name", "revenue_kind", "description", "is_active")}
        if change:
            services.product_update(product=obj, by=request.user, **data)
        else:
            saved = services.product_create(code=form.cleaned_data["code"], by=request.user, **data)
            obj.pk = saved.pk


# ---- agreements ------------------------------------------------------------------------------


def agreement_list(request):
    """Type defaults for everyone; a partner's own agreement only within the user's branch scope."""
    qs = Agreement.objects.select_related("product", "partner")
    if user_sees_all_branches(request.user):
        return qs
    return qs.filter(Q(partner__isnull=True) | Q(partner__branch_id=request.user.branch_id))


class AgreementVersionInline(admin.TabularInline):
    """The versions of an agreement, read here; each is edited on its own page (with its slabs)."""

    model = AgreementVersion
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("number", "valid_from", "valid_to", "rule_kind", "rate", "fixed_amount", "tier_basis", "floor", "cap")
    readonly_fields = fields
    ordering = ("valid_from",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AgreementForm(forms.ModelForm):
    class Meta:
        model = Agreement
        fields = ("product", "partner_type", "partner", "reference")


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    form = AgreementForm
    list_display = ("product", "scope", "reference", "in_force_today", "created_at")
    list_filter = ("product", "partner_type")
    search_fields = ("product__code", "partner__legal_name", "partner__credit_code", "reference")
    list_select_related = ("product", "partner")
    inlines = (AgreementVersionInline,)

    def get_queryset(self, request):
        return agreement_list(request).prefetch_related(
            Prefetch("versions", queryset=AgreementVersion.objects.order_by("valid_from"))
        )

    def get_readonly_fields(self, request, obj=None):
        return ("product", "partner_type", "partner") if obj else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "partner":
            kwargs["queryset"] = partner_list(user=request.user).order_by("legal_name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("applies to"))
    def scope(self, obj: Agreement):
        return obj.partner if obj.partner_id else _("Default for %(type)s") % {"type": obj.get_partner_type_display()}

    @admin.display(description=_("in force today"))
    def in_force_today(self, obj: Agreement):
        today = timezone.now().astimezone(CHINA_TZ).date()
        for version in obj.versions.all():
            if version.valid_from <= today and (version.valid_to is None or version.valid_to > today):
                return version
        return "—"

    def save_model(self, request, obj, form, change):
        if change:
            if "reference" in form.changed_data:
                services.agreement_update(agreement=obj, reference=form.cleaned_data["reference"], by=request.user)
            return
        saved = services.agreement_create(
            product=form.cleaned_data["product"],
            partner_type=form.cleaned_data["partner_type"],
            partner=form.cleaned_data["partner"],
            reference=form.cleaned_data["reference"],
            by=request.user,
        )
        obj.pk = saved.pk

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        if request.user.has_perm("ledger.add_agreementversion"):
            extra_context["add_version_url"] = (
                reverse("admin:ledger_agreementversion_add") + f"?agreement={int(object_id)}"
                if str(object_id).isdigit()
                else None
            )
        return super().change_view(request, object_id, form_url, extra_context)


class TierFormSet(BaseInlineFormSet):
    """Slabs must run contiguously from zero, the last one open-ended (for tiered rules only)."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        brackets = [
            TierBracket(f.cleaned_data["lower_bound"], f.cleaned_data.get("upper_bound"), f.cleaned_data["rate"])
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        if self.instance.rule_kind in TIERED_KINDS:
            problems = tier_brackets_problems(brackets)
            if problems:
                raise ValidationError(problems)
        elif brackets:
            raise ValidationError(_("Only a tiered rule has slabs."))


class AgreementTierInline(admin.TabularInline):
    model = AgreementTier
    formset = TierFormSet
    extra = 1
    fields = ("lower_bound", "upper_bound", "rate")
    ordering = ("lower_bound",)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj and obj.is_locked)

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and not (obj and obj.is_locked)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.is_locked)


class AgreementVersionForm(forms.ModelForm):
    class Meta:
        model = AgreementVersion
        fields = ("agreement", "valid_from", "valid_to", "rule_kind", "rate", "fixed_amount", "tier_basis")
        fields += ("floor", "cap", "note")

    def clean(self):
        cleaned = super().clean()
        agreement = cleaned.get("agreement") or (self.instance.agreement if self.instance.pk else None)
        valid_from = cleaned.get("valid_from")
        if agreement and valid_from:
            clash = agreement_versions_overlapping(
                agreement_id=agreement.pk,
                valid_from=valid_from,
                valid_to=cleaned.get("valid_to"),
                exclude_pk=self.instance.pk,
            ).first()
            if clash:
                raise ValidationError(
                    _("Version %(number)s of this agreement is already in force from %(start)s to %(end)s.")
                    % {"number": clash.number, "start": clash.valid_from, "end": clash.valid_to or "…"}
                )
        return cleaned


@admin.register(AgreementVersion)
class AgreementVersionAdmin(admin.ModelAdmin):
    """A version's terms and slabs; frozen (view only) once a settlement used it."""

    form = AgreementVersionForm
    list_display = ("agreement", "number", "valid_from", "valid_to", "rule_kind", "locked_at")
    list_filter = ("rule_kind", "agreement__product")
    list_select_related = ("agreement", "agreement__product", "agreement__partner")
    inlines = (AgreementTierInline,)
    readonly_fields = ("number", "locked_at", "created_by", "created_at")

    def get_queryset(self, request):
        visible = agreement_list(request).values("pk")
        return super().get_queryset(request).filter(agreement__in=visible)

    def get_readonly_fields(self, request, obj=None):
        return ("agreement", *self.readonly_fields) if obj else self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "agreement":
            kwargs["queryset"] = agreement_list(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj and obj.is_locked)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.is_locked)

    def save_model(self, request, obj, form, change):
        # Saved with its slabs in save_related, in one service call.
        pass

    def save_related(self, request, form, formsets, change):
        tiers = [
            TierBracket(f.cleaned_data["lower_bound"], f.cleaned_data.get("upper_bound"), f.cleaned_data["rate"])
            for formset in formsets
            for f in formset.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        terms = {f: form.cleaned_data[f] for f in services.agreements.VERSION_TERMS}
        if change:
            version = services.agreement_version_update(version=form.instance, tiers=tiers, by=request.user, **terms)
        else:
            version = services.agreement_version_create(
                agreement=form.cleaned_data["agreement"], tiers=tiers, by=request.user, **terms
            )
        form.instance.pk, form.instance.number = version.pk, version.number
        for formset in formsets:
            # The service saved the slabs; the change message reads what a formset save would set.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request, obj):
        services.agreement_version_delete(version=obj, by=request.user)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:  # e.g. a concurrent writer won the race for these dates
            self.message_user(request, error_text(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


# ---- the ledger ------------------------------------------------------------------------------


class PeriodFilter(admin.SimpleListFilter):
    title = _("period")
    parameter_name = "period"

    def lookups(self, request, model_admin):
        current = Period.containing(timezone.now())
        months = [current]
        for _i in range(11):
            months.append(months[-1].previous())
        value = self.value()
        if value:
            try:
                chosen = Period.parse(value)
                if chosen not in months:
                    months.insert(0, chosen)
            except ValueError:
                pass
        return [(str(m), str(m)) for m in months]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            period = Period.parse(self.value())
        except ValueError:
            return queryset.none()
        return queryset.filter(occurred_at__gte=period.start, occurred_at__lt=period.end)


class PartnerFilter(admin.SimpleListFilter):
    """Transactions attributed to a partner the user may see (alone or co-served)."""

    title = _("partner")
    parameter_name = "partner"

    def lookups(self, request, model_admin):
        return [(p.pk, str(p)) for p in partner_list(user=request.user).only("id", "legal_name").order_by("legal_name")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        partner_id = id_filter_value(self)
        return queryset.filter(
            pk__in=TransactionAttribution.objects.filter(partner_id=partner_id).values("transaction_id")
        )


class BranchFilter(admin.SimpleListFilter):
    title = _("branch")
    parameter_name = "branch"

    def lookups(self, request, model_admin):
        return [(b.pk, str(b)) for b in branch_list(user=request.user)]

    def queryset(self, request, queryset):
        return queryset.filter(branch_id=id_filter_value(self)) if self.value() else queryset


class ProductFilter(admin.SimpleListFilter):
    title = _("product")
    parameter_name = "product"

    def lookups(self, request, model_admin):
        return [(p.pk, str(p)) for p in Product.objects.order_by("code")]

    def queryset(self, request, queryset):
        return queryset.filter(product_id=id_filter_value(self)) if self.value() else queryset


class AttributionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TransactionAttribution
    template = RECORDS_TEMPLATE
    fields = ("partner", "weight", "attributed_amount", "attributed_revenue", "partner_active")
    attributed_amount = money_column(TransactionAttribution, "amount")
    attributed_revenue = money_column(TransactionAttribution, "bank_revenue")
    readonly_fields = fields
    extra = 0

    def has_view_permission(self, request, obj=None):
        return True  # shown to whoever may see the transaction

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner")


class TransactionImportForm(forms.Form):
    source = forms.ModelChoiceField(
        label=_("source system"),
        queryset=SourceSystem.objects.filter(is_active=True),
        to_field_name="code",
        help_text=_("The system the file comes from; its external ids are unique within it."),
    )
    file = forms.FileField(label=_("file"), help_text=_("CSV (UTF-8) or XLSX with a header row naming the columns."))

    def clean_file(self):
        """Size, type and row count are checked before any row is read."""
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise ValidationError(_("Upload a .csv or .xlsx file."))
        limit = settings.TRANSACTION_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise ValidationError(
                _("The file is %(mb).1f MB; the admin accepts at most %(max)d MB (use the large-file command).")
                % {"mb": upload.size / 2**20, "max": limit // 2**20}
            )
        if upload.name.lower().endswith(".xlsx"):
            try:
                xlsx_check(upload.file, max_unpacked_bytes=settings.TRANSACTION_IMPORT_MAX_XLSX_UNPACKED_BYTES)
            except UnsafeSpreadsheet as exc:
                raise ValidationError(str(exc)) from exc
        else:
            lines = _line_count(upload)
            if lines - 1 > settings.TRANSACTION_IMPORT_MAX_ROWS:
                raise ValidationError(self._too_many_rows())
        return upload

    @staticmethod
    def _too_many_rows():
        return _(
            "The admin imports at most %(max)s rows per file; book larger files with manage.py ingest_transactions."
        ) % {"max": f"{settings.TRANSACTION_IMPORT_MAX_ROWS:,}"}


def _line_count(upload) -> int:
    """Lines in the file, the last one counted whether or not a line break ends it."""
    upload.seek(0)
    count, last = 0, b"\n"
    while block := upload.read(1 << 20):
        count += block.count(b"\n")
        last = block[-1:]
    upload.seek(0)
    return count + (last != b"\n")


def xlsx_rows(upload) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """The header and the ``(sheet row, row)`` pairs of an XLSX file's first sheet (blank rows skipped)."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(upload.file, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [str(v).strip().lower()[:64] if v is not None else "" for v in next(rows, ())]
    except Exception as exc:  # any file openpyxl cannot read (a DTD, broken XML, a missing part): refused
        raise IngestionRejected([RowError(1, "", "malformed", {"detail": _("not a readable XLSX file")})]) from exc
    while header and header[-1] == "":
        header.pop()
    max_row = settings.TRANSACTION_IMPORT_MAX_ROWS + 1

    def body():
        for number, values in _readable(enumerate(rows, start=2)):
            if number > max_row:
                yield number, {MALFORMED: str(TransactionImportForm._too_many_rows())}
                return
            values = [v.astimezone(CHINA_TZ) if isinstance(v, dt.datetime) and v.tzinfo else v for v in values]
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            yield number, {c: as_text(v) for c, v in zip(header, values, strict=False) if c}

    return header, body()


def _readable(numbered_rows):
    """The sheet's rows, a row openpyxl cannot read ending the file as a malformed row."""
    iterator = iter(numbered_rows)
    number = 1
    while True:
        try:
            number, values = next(iterator)
        except StopIteration:
            return
        except Exception:  # broken XML further down the sheet, a DTD in a later part
            yield number + 1, {MALFORMED: str(_("not a readable XLSX file"))}
            return
        yield number, values


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    actions = None
    # Narrow enough for a 1366-pixel screen beside the filters: the source system is a filter and on the page.
    list_display = (
        "external_id",
        "kind",
        "occurred",
        "product_name",
        "branch",
        "partners",
        "amount_cell",
        "revenue_cell",
        "partner_active",
    )
    list_filter = (PeriodFilter, "kind", ProductFilter, BranchFilter, PartnerFilter, "partner_active", "source")
    list_select_related = ("product", "branch")
    search_fields = ("=external_id", "=sme_id", "sme_name")
    search_help_text = _("Search by external id, SME id, SME name, or a partner's name or credit code.")
    show_full_result_count = False
    list_per_page = 50
    inlines = (AttributionInline,)
    fields = (
        ("source", "external_id"),
        ("kind", "reverses"),
        ("sme_id", "sme_name"),
        ("product", "branch"),
        ("amount_cell", "revenue_cell", "currency"),
        ("occurred", "booked"),
        ("partner_active", "batch"),
        "content_hash",
    )
    readonly_fields = [f for group in fields for f in (group if isinstance(group, tuple) else (group,))]

    def get_queryset(self, request):
        return transaction_list(user=request.user).prefetch_related(
            Prefetch("attributions", queryset=TransactionAttribution.objects.select_related("partner").order_by("id"))
        )

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            partners = partner_list(user=request.user).filter(
                Q(legal_name__icontains=term) | Q(credit_code=term.upper())
            )
            attributed = TransactionAttribution.objects.filter(partner__in=partners).values("transaction_id")
            results |= queryset.filter(pk__in=attributed)
        return results, may_have_duplicates

    amount_cell = money_column(Transaction, "amount")
    revenue_cell = money_column(Transaction, "bank_revenue")
    occurred = time_column(Transaction, "occurred_at")
    booked = time_column(Transaction, "booked_at")

    @admin.display(description=_("product"), ordering="product__code")
    def product_name(self, obj: Transaction) -> str:
        return format_html('<span title="{}">{}</span>', obj.product.code, obj.product.name)

    @admin.display(description=_("source system"), ordering="source")
    def source_code(self, obj: Transaction) -> str:
        return obj.source_id  # the code: the system's name is in the filter and on the transaction's page

    @admin.display(description=_("partners"))
    def partners(self, obj: Transaction):
        parts = obj.attributions.all()
        if len(parts) == 1:
            return truncated(parts[0].partner, width="13em")
        return truncated("; ".join(f"{a.partner} × {a.weight.normalize()}" for a in parts), width="13em")

    # ---- import ---------------------------------------------------------------------------

    def has_import_permission(self, request) -> bool:
        return request.user.has_perm("ledger.import_transactions")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_import": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="ledger_transaction_import"),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = TransactionImportForm(request.POST or None, request.FILES or None)
        errors: list[RowError] = []
        error_count = 0
        if request.method == "POST" and form.is_valid():
            upload, source = form.cleaned_data["file"], form.cleaned_data["source"].code
            try:
                result = self._ingest(upload, source=source, by=request.user)
            except IngestionRejected as exc:
                errors, error_count = exc.errors, exc.error_count
                self.message_user(request, error_text(exc), messages.ERROR)
            except (ApplicationError, ValidationError) as exc:
                self.message_user(request, error_text(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(created)d transactions booked, %(duplicates)d duplicates ignored (of %(received)d rows).")
                    % {"created": result.created, "duplicates": result.duplicates, "received": result.received},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:ledger_transaction_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import transactions"),
            "opts": self.model._meta,
            "form": form,
            "errors": errors,
            "error_count": error_count,
        }
        return TemplateResponse(request, "admin/ledger/transaction/import.html", context)

    @staticmethod
    def _ingest(upload, *, source: str, by):
        if upload.name.lower().endswith(".csv"):
            upload.seek(0)
            return services.transactions_ingest_csv(
                stream=upload.file, source=source, by=by, channel=IngestionChannel.ADMIN_IMPORT, filename=upload.name
            )
        sha256 = services.file_sha256(upload.file)
        header, rows = xlsx_rows(upload)
        problems = header_problems(header)
        if problems:
            raise IngestionRejected(problems)
        return services.transactions_ingest_numbered(
            rows=rows,
            source=source,
            by=by,
            channel=IngestionChannel.ADMIN_IMPORT,
            filename=upload.name,
            sha256=sha256,
        )


@admin.register(SourceSystem)
class SourceSystemAdmin(admin.ModelAdmin):
    """Head office registers the systems that report transactions; their code never changes once used."""

    list_display = ("code", "name", "is_active", "user", "created_at")
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    raw_id_fields = ("user",)

    def get_readonly_fields(self, request, obj=None):
        return ("code", "created_at") if obj is not None else ("created_at",)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IngestionBatch)
class IngestionBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    actions = None
    list_display = ("received", "source", "channel", "filename", "received_by", "rows_received")
    list_display += ("rows_created", "rows_duplicate")
    received = time_column(IngestionBatch, "received_at")
    list_filter = ("channel", "source")
    list_select_related = ("received_by", "source")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        # A batch can touch any branch: its details are head office's and finance's.
        return qs if user_sees_all_branches(request.user) else qs.none()
