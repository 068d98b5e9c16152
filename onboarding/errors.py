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
]


class EvidenceIncomplete(InvalidState):
    """Required evidence is missing (or not accepted); ``extra["items"]`` names it."""


class MakerChecker(NotPermitted):
    """The user prepared, submitted or already approved the case and so may not decide it."""
