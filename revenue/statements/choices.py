"""Enumerations of statements, downloads, partner events and webhook deliveries."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DownloadChannel(models.TextChoices):
    PORTAL = "portal", _("Partner portal")
    API = "api", _("Partner API")
    ADMIN = "admin", _("Admin")


class DownloadKind(models.TextChoices):
    PDF = "pdf", _("Statement (PDF)")
    CSV = "csv", _("Transaction detail (CSV)")
    XLSX = "xlsx", _("Transaction detail (XLSX)")


class EventKind(models.TextChoices):
    STATEMENT_READY = "statement.ready", _("Statement ready")
    DISPUTE_RESOLVED = "dispute.resolved", _("Dispute decided")


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
