"""Enumerations of invoices and payment batches (no ORM here, so pure code can use them)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class InvoiceState(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    ACCEPTED = "accepted", _("Accepted")
    RETURNED = "returned", _("Returned")


# An invoice that still counts: its number is taken and its settlement has it.
LIVE_INVOICE_STATES = (InvoiceState.SUBMITTED, InvoiceState.ACCEPTED)


class InvoiceFileType(models.TextChoices):
    PDF = "application/pdf", _("PDF")
    OFD = "application/ofd", _("OFD")


class BatchState(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", _("Awaiting approval")
    APPROVED = "approved", _("Approved (file released)")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class ItemState(models.TextChoices):
    PENDING = "pending", _("Awaiting result")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


# A batch line that holds its settlement: the settlement cannot go into another batch meanwhile.
LIVE_ITEM_STATES = (ItemState.PENDING, ItemState.PAID)


class ResultStatus(models.TextChoices):
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")
