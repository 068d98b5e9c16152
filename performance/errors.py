"""Errors of performance control, all under ``core.errors.ApplicationError``."""

from __future__ import annotations

from core.errors import ApplicationError, InvalidState


class TargetWeightsInvalid(ApplicationError):
    """The weights of a branch's targets for a period would not sum to 1 (or would exceed it)."""


class TargetImportRejected(ApplicationError):
    """A targets file had bad rows; nothing was imported. ``extra["errors"]`` lists them by row."""


class KPIUnavailable(ApplicationError):
    """A KPI's figures cannot be computed (yet) from the data the product holds."""


class ScorecardBuildRefused(ApplicationError):
    """Scorecards cannot be built for a period (no targets, or a branch's target weights do not sum to 1)."""


class TierProposalClosed(InvalidState):
    """The tier proposal was already decided, or the partner's tier changed since it was made."""
