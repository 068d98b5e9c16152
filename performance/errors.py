"""Errors of performance control, all under ``core.errors.ApplicationError``."""

from __future__ import annotations

from core.errors import ApplicationError


class TargetWeightsInvalid(ApplicationError):
    """The weights of a branch's targets for a period would not sum to 1 (or would exceed it)."""


class TargetImportRejected(ApplicationError):
    """A targets file had bad rows; nothing was imported. ``extra["errors"]`` lists them by row."""


class KPIUnavailable(ApplicationError):
    """A KPI's figures cannot be computed (yet) from the data the product holds."""
