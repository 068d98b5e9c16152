"""Enumerations of settlement runs and settlements (no ORM here, so pure code can use them)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from revenue.vocabulary import LINE_KINDS, SETTLEMENT_STATES, SHARE_LIMITS


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


# Labels from revenue.vocabulary: a state, a line kind or a limit reads the same on the statement, the portal,
# the admin and the API documentation.
class SettlementState(models.TextChoices):
    DRAFT = "draft", SETTLEMENT_STATES["draft"].label
    CLOSED = "closed", SETTLEMENT_STATES["closed"].label
    APPROVED = "approved", SETTLEMENT_STATES["approved"].label
    PAID = "paid", SETTLEMENT_STATES["paid"].label


FROZEN_SETTLEMENT_STATES = (SettlementState.CLOSED, SettlementState.APPROVED, SettlementState.PAID)


class LineKind(models.TextChoices):
    PRODUCT = "product", LINE_KINDS["product"].label
    ADJUSTMENT = "adjustment", LINE_KINDS["adjustment"].label
    CARRY_FORWARD = "carry_forward", LINE_KINDS["carry_forward"].label
    DISPUTE_RESOLUTION = "dispute_resolution", LINE_KINDS["dispute_resolution"].label


class ShareLimit(models.TextChoices):
    """What shaped a line's share beyond the rule's rate (see revenue.calculations); blank: the rate alone."""

    FLOOR = "floor", SHARE_LIMITS["floor"].label
    CAP = "cap", SHARE_LIMITS["cap"].label
    REVENUE = "revenue", SHARE_LIMITS["revenue"].label
    NO_AGREEMENT = "no_agreement", SHARE_LIMITS["no_agreement"].label


# Lines whose figures come from the ledger (traceable to attributions).
LEDGER_LINE_KINDS = (LineKind.PRODUCT, LineKind.ADJUSTMENT)


class DisputeState(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")
    REJECTED = "rejected", _("Rejected")
