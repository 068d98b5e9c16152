"""A notification: one person told that something waits for them, named and linked, in the inbox and by e-mail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    CASE_SUBMITTED = "case_submitted", _("Case awaits review")
    CASE_ASSIGNED = "case_assigned", _("Case assigned to you")
    CASE_RETURNED = "case_returned", _("Case returned for information")
    CASE_RESUBMITTED = "case_resubmitted", _("Case resubmitted")
    CASE_APPROVED = "case_approved", _("Case approved")
    CASE_AWAITS_HEAD_OFFICE = "case_awaits_head_office", _("Case awaits head-office approval")
    CASE_REJECTED = "case_rejected", _("Case rejected")
    SETTLEMENTS_AWAIT_APPROVAL = "settlements_await_approval", _("Settlements await approval")
    DISPUTE_RAISED = "dispute_raised", _("Dispute raised")
    REVIEW_OPENED = "review_opened", _("Re-review opened")
    REVIEW_OVERDUE_SUSPENDED = "review_overdue_suspended", _("Partner suspended: re-review overdue")


# The line each kind shows in the inbox and as the e-mail's subject; %(object)s is the object's name.
TITLES = {
    NotificationKind.CASE_SUBMITTED: _("Admission case “%(object)s” was submitted and awaits review"),
    NotificationKind.CASE_ASSIGNED: _("Admission case “%(object)s” was assigned to you for review"),
    NotificationKind.CASE_RETURNED: _("Admission case “%(object)s” was returned for more information"),
    NotificationKind.CASE_RESUBMITTED: _("Admission case “%(object)s” was resubmitted"),
    NotificationKind.CASE_APPROVED: _("Admission case “%(object)s” was approved"),
    NotificationKind.CASE_AWAITS_HEAD_OFFICE: _(
        "Admission case “%(object)s” was approved by the branch and awaits head-office approval"
    ),
    NotificationKind.CASE_REJECTED: _("Admission case “%(object)s” was rejected"),
    NotificationKind.SETTLEMENTS_AWAIT_APPROVAL: _("Settlements of %(object)s are closed and await approval"),
    NotificationKind.DISPUTE_RAISED: _("A dispute was raised on %(object)s"),
    NotificationKind.REVIEW_OPENED: _("The re-review “%(object)s” was opened by the system"),
    NotificationKind.REVIEW_OVERDUE_SUSPENDED: _(
        "The partner of re-review “%(object)s” was suspended by the system: the re-review is overdue"
    ),
}


class Notification(models.Model):
    """What one user is told. ``url`` is the object's admin page; ``object_name`` names it as it was."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(_("kind"), max_length=32, choices=NotificationKind.choices)
    object_name = models.CharField(_("object"), max_length=200)
    url = models.CharField(_("link"), max_length=300)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    comment = models.TextField(_("remark"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="workspace_notification_unread")]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        return str(TITLES[self.kind] % {"object": self.object_name})

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
