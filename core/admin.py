"""Admin helpers every app uses: the read-only mixin, the one way an error becomes a message, and how amounts,
counts, percentages, long names and times read in lists."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.admin import display
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.utils import timezone
from django.utils.html import format_html
from import_export.forms import SelectableFieldsExportForm

from core.errors import ApplicationError
from core.pdf.formatting import format_count, format_money, format_percent
from core.periods import CHINA_TZ

# A tabular inline of records without the caption above each row (the record's ``str()``, which repeats the
# row in raw codes and UTC): the case history, a settlement's lines, a run's chunks.
RECORDS_TEMPLATE = "admin/edit_inline/tabular_records.html"


def error_text(exc: Exception) -> str:
    """The message to show a user for an application error or a validation error (never a traceback)."""
    if isinstance(exc, ApplicationError):
        return str(exc.message)
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def id_filter_value(list_filter) -> int:
    """A list filter's value as a row id; anything else is an incorrect lookup (the admin says so, no 500)."""
    try:
        value = int(list_filter.value())
    except (TypeError, ValueError) as exc:
        raise IncorrectLookupParameters(list_filter.value()) from exc
    if not 0 < value < 2**63:
        raise IncorrectLookupParameters(list_filter.value())
    return value


class ReadOnlyAdminMixin:
    """Viewable with the view permission; never added, changed or deleted through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# ---- how values read in admin lists and pages (zh-hans first, a 1366-pixel laptop) --------------------


def money_cell(value: Decimal | None) -> str:
    """An amount right-aligned with thousands separators (``84,717,876.28``); "—" when there is none."""
    if value is None:
        return "—"
    return format_html('<span class="num">{}</span>', format_money(value))


def count_cell(value: int | Decimal | None) -> str:
    """A count as a whole number with separators; a weighted count (co-served transactions) without trailing zeros."""
    if value is None:
        return "—"
    if isinstance(value, Decimal) and value != value.to_integral_value():
        text = f"{value.normalize():,f}"
    else:
        text = format_count(int(value))
    return format_html('<span class="num">{}</span>', text)


def percent_cell(ratio: Decimal | None, *, places: int = 2) -> str:
    """A ratio as a percentage (``0.125`` → ``12.50%``), right-aligned."""
    if ratio is None:
        return "—"
    return format_html('<span class="num">{}</span>', format_percent(ratio, places=places))


def truncated(text: object, *, width: str = "14em") -> str:
    """A long name on one line, cut with an ellipsis; the whole name in the tooltip."""
    text = "" if text is None else str(text)
    return format_html('<span class="truncated" style="max-width: {}" title="{}">{}</span>', width, text, text)


def beijing_time(moment: dt.datetime | None, *, seconds: bool = False) -> str:
    """A moment in Beijing time, to the minute (or second): never a UTC offset or microseconds."""
    if moment is None:
        return "—"
    return timezone.localtime(moment, CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


# ---- import and export pages: columns by their names, with the file's code beside ----------------------


def column_label(resource, column: str) -> str:
    """What a spreadsheet column means, in the reader's language: the resource's own label for it, else the
    model field's verbose name, else the code."""
    labels = getattr(resource, "column_labels", {})
    if column in labels:
        return str(labels[column])
    model = getattr(getattr(resource, "_meta", None), "model", None)
    if model is not None:
        try:
            return str(model._meta.get_field(column).verbose_name)
        except FieldDoesNotExist:
            pass
    return column


class ReadableExportForm(SelectableFieldsExportForm):
    """The export page's column check boxes named as on the model (企业名称), not as the file's codes."""

    def _get_field_label(self, resource, field_name: str) -> str:
        field = resource.fields.get(field_name)
        column = field.column_name if field else field_name
        return column_label(resource, column)


class ReadableImportExportMixin:
    """Import and export pages that list the columns by name with the code a file's header uses:
    ``企业名称 (legal_name)``."""

    export_form_class = ReadableExportForm

    @staticmethod
    def _readable_fields_list(context: dict, resource_classes) -> None:
        by_name = {resource.get_display_name(): resource for resource in resource_classes}
        context["fields_list"] = [
            (name, [f"{column_label(by_name.get(name), column)} ({column})" for column in columns])
            for name, columns in context.get("fields_list", [])
        ]

    def import_action(self, request, *args, **kwargs):
        response = super().import_action(request, *args, **kwargs)
        if getattr(response, "context_data", None) and "fields_list" in response.context_data:
            self._readable_fields_list(response.context_data, self.get_import_resource_classes(request))
        return response

    def init_request_context_data(self, request, form):
        context = super().init_request_context_data(request, form)
        self._readable_fields_list(context, self.get_export_resource_classes(request))
        return context


def _verbose_name(model, field: str):
    return model._meta.get_field(field).verbose_name


def money_column(model, field: str, description=None):
    """A list column or read-only field showing a model's amount as :func:`money_cell`, named as the field."""

    @display(description=description or _verbose_name(model, field), ordering=field)
    def column(model_admin, obj):
        return money_cell(getattr(obj, field))

    return column


def count_column(model, field: str, description=None):
    """A list column or read-only field showing a model's count as :func:`count_cell`, named as the field."""

    @display(description=description or _verbose_name(model, field), ordering=field)
    def column(model_admin, obj):
        return count_cell(getattr(obj, field))

    return column


def percent_column(model, field: str, description=None):
    @display(description=description or _verbose_name(model, field), ordering=field)
    def column(model_admin, obj):
        return percent_cell(getattr(obj, field))

    return column


def time_column(model, field: str, description=None):
    """A moment in Beijing time to the minute, named as the field."""

    @display(description=description or _verbose_name(model, field), ordering=field)
    def column(model_admin, obj):
        return beijing_time(getattr(obj, field))

    return column


def user_role_names(request) -> set[str]:
    """The user's roles (group names), read once per request: lists choose their columns by role."""
    if not hasattr(request, "_role_names"):
        request._role_names = set(request.user.groups.values_list("name", flat=True))
    return request._role_names
