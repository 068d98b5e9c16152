"""Errors of statements, webhooks and the partner API, under the application's hierarchy."""

from __future__ import annotations

from core.errors import ApplicationError, InvalidState, NotPermitted

__all__ = [
    "ApplicationError",
    "InvalidState",
    "NotPermitted",
    "StatementIntegrityError",
    "StatementNotAvailable",
    "WebhookDeliveryFailed",
    "WebhookUrlRefused",
]


class StatementNotAvailable(InvalidState):
    """The settlement is still a draft (being accrued): it has no statement yet."""


class StatementIntegrityError(ApplicationError):
    """A stored statement no longer matches its digest and cannot be regenerated identically."""

    status_code = 500


class WebhookUrlRefused(ApplicationError):
    """A webhook URL that is not http(s), or that points into the bank's own network."""


class WebhookDeliveryFailed(ApplicationError):
    """The partner's endpoint did not accept an event (retried with back-off)."""
