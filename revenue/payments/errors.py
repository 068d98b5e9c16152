"""Errors of invoices and payment batches, under the application's hierarchy."""

from __future__ import annotations

from core.errors import ApplicationError, ConcurrentChange, InvalidState, NotPermitted

__all__ = [
    "ApplicationError",
    "BadResultFile",
    "ConcurrentChange",
    "InvalidState",
    "InvoiceMismatch",
    "MakerCheckerViolation",
    "NotPayable",
    "NotPermitted",
]


class InvoiceMismatch(InvalidState):
    """The invoice does not match its settlement, the bank's details or the partner's rate (``extra["reasons"]``)."""


class NotPayable(InvalidState):
    """A settlement that cannot go into a payment batch (not approved, no accepted invoice, already batched…)."""


class MakerCheckerViolation(NotPermitted):
    """Whoever created a payment batch cannot approve it."""


class BadResultFile(ApplicationError):
    """A payment result file that cannot be read: nothing of it is applied (``extra["errors"]``, per line)."""
