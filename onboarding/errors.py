"""Errors of the admission domain, under the application's ``core.errors`` hierarchy."""

from __future__ import annotations

from core.errors import ApplicationError, ConcurrentChange, InvalidState, NotPermitted

__all__ = [
    "ApplicationError",
    "ConcurrentChange",
    "EvidenceIncomplete",
    "InvalidState",
    "MakerChecker",
    "NotPermitted",
    "PartnerFileRefused",
    "TooManyApplications",
]


class EvidenceIncomplete(InvalidState):
    """Required evidence is missing (or not accepted); ``extra["items"]`` names it."""


class MakerChecker(NotPermitted):
    """The user prepared, submitted or already approved the case and so may not decide it."""


class PartnerFileRefused(ApplicationError):
    """A partner file refused whole before its rows are read: over the size or row limit, or not a spreadsheet."""


class TooManyApplications(ApplicationError):
    """Too many applications or confirmation e-mails from one address or for one e-mail: try again later."""

    status_code = 429
