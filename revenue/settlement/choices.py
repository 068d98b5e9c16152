"""Enumerations of settlement runs and settlements (no ORM here, so pure code can use them)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class PeriodState(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSING = "closing", _("Closing")
    CLOSED = "closed", _("Closed")


class RunKind(models.TextChoices):
    ACCRUAL = "accrual", _("Nightly accrual (month to date)")
    CLOSE = "close", _("Month-end close")


class RunState(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")


ACTIVE_RUN_STATES = (RunState.PENDING, RunState.RUNNING)


class RunTrigger(models.TextChoices):
    ADMIN = "admin", _("Admin")
    COMMAND = "command", _("Management command")
    SCHEDULE = "schedule", _("Schedule (beat)")
    API = "api", _("API")


class SettlementState(models.TextChoices):
    DRAFT = "draft", _("Draft (accrued)")
    CLOSED = "closed", _("Closed")
    APPROVED = "approved", _("Approved")
    PAID = "paid", _("Paid")


FROZEN_SETTLEMENT_STATES = (SettlementState.CLOSED, SettlementState.APPROVED, SettlementState.PAID)


class LineKind(models.TextChoices):
    PRODUCT = "product", _("Product")
    ADJUSTMENT = "adjustment", _("Adjustment of a closed period")
    CARRY_FORWARD = "carry_forward", _("Carried forward")
    DISPUTE_RESOLUTION = "dispute_resolution", _("Dispute resolution")


# Lines whose figures come from the ledger (traceable to attributions).
LEDGER_LINE_KINDS = (LineKind.PRODUCT, LineKind.ADJUSTMENT)


class DisputeState(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")
    REJECTED = "rejected", _("Rejected")
