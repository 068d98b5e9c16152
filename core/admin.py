"""Admin helpers every app uses: the read-only mixin and the one way an error becomes a message."""

from __future__ import annotations

from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError

from core.errors import ApplicationError


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
