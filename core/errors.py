"""The application's error hierarchy.

Every business rule violation raised by a service derives from
``ApplicationError``; the API exception handler turns it into a 400-level
response and the admin into a message, so a broken rule never becomes a 500.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A business rule refused the request. ``message`` is user-facing (translated)."""

    status_code = 400

    def __init__(self, message: Any, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class NotPermitted(ApplicationError):
    """The acting user may not do this."""

    status_code = 403


class ConcurrentChange(ApplicationError):
    """Someone else changed the object between reading and writing it."""

    status_code = 409


class InvalidState(ApplicationError):
    """The object is not in a state that allows the action."""

    status_code = 409
