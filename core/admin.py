"""Admin helpers every app uses: the read-only mixin and the one way an error becomes a message."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from core.errors import ApplicationError


def error_text(exc: Exception) -> str:
    """The message to show a user for an application error or a validation error (never a traceback)."""
    if isinstance(exc, ApplicationError):
        return str(exc.message)
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


class ReadOnlyAdminMixin:
    """Viewable with the view permission; never added, changed or deleted through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
