"""Errors of the revenue domain, under the application's ``core.errors`` hierarchy."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.errors import ApplicationError, ConcurrentChange, InvalidState, NotPermitted

__all__ = [
    "AgreementOverlap",
    "AgreementVersionLocked",
    "ApplicationError",
    "ConcurrentChange",
    "ImmutableRecord",
    "IngestionRejected",
    "InvalidState",
    "NotPermitted",
    "SameFileIngested",
    "UnknownSource",
]


class AgreementOverlap(InvalidState):
    """Two versions of the same agreement would be in force on the same day."""


class AgreementVersionLocked(InvalidState):
    """The version was used in a settlement; a change must be a new version."""


class UnknownSource(InvalidState):
    """Transactions name a source system that is not registered, or no longer active."""


class SameFileIngested(InvalidState):
    """The very same file (by SHA-256) was booked before: booking it again is refused unless asked for."""


class ImmutableRecord(InvalidState):
    """Booked ledger rows are never changed or deleted; a correction is a reversal plus a new event."""

    def __init__(self, message: Any = None, **kwargs) -> None:
        super().__init__(
            message or _("Booked transactions cannot be changed or deleted; book a reversal and a new event."),
            **kwargs,
        )


class IngestionRejected(ApplicationError):
    """A batch had bad rows: nothing was written. ``errors`` lists every bad row (up to a cap).

    ``extra`` carries ``errors`` as ``[{"row": n, "field": f, "code": c, "message": m}]``
    and ``error_count`` (which can exceed the listed errors when the cap is reached).
    """

    def __init__(self, errors: list, *, error_count: int | None = None, message: Any = None) -> None:
        count = len(errors) if error_count is None else error_count
        self.errors = errors
        self.error_count = count
        super().__init__(
            message
            or ngettext(
                "The batch was rejected: %(count)d bad row. Nothing was written.",
                "The batch was rejected: %(count)d bad rows. Nothing was written.",
                count,
            )
            % {"count": count},
            extra={"error_count": count, "errors": [e.as_dict() for e in errors]},
        )
