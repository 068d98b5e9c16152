"""Errors of settlement runs and the settlement lifecycle, under the application's hierarchy."""

from __future__ import annotations

from core.errors import ApplicationError, ConcurrentChange, InvalidState, NotPermitted

__all__ = [
    "ApplicationError",
    "ConcurrentChange",
    "ConservationBroken",
    "InvalidState",
    "MakerCheckerViolation",
    "NotPermitted",
    "PeriodLocked",
    "PeriodNotReady",
    "RunInProgress",
    "SettlementFrozen",
    "TaskQueueUnavailable",
]


class PeriodLocked(InvalidState):
    """The period is closed (or being closed): a close or accrual of it is refused."""


class PeriodNotReady(InvalidState):
    """The period cannot be closed yet: it has not ended, or an earlier period with events is still open."""


class RunInProgress(ConcurrentChange):
    """Another run of the same kind is already in progress for the period (a second close, a second beat)."""


class TaskQueueUnavailable(ApplicationError):
    """The task queue (broker) cannot be reached: a run that could not be queued is not started."""

    status_code = 503


class ConservationBroken(ApplicationError):
    """The settled lines do not add back to the ledger: the run fails and the period is not closed."""


class MakerCheckerViolation(NotPermitted):
    """Whoever closed or triggered the close of a settlement cannot approve it."""


class SettlementFrozen(InvalidState):
    """A closed settlement is never edited; corrections flow as adjustments of the next open period."""
