"""Writes of the workspace: notifications (recorded with what they report, e-mailed on commit) and marking them read."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from core.errors import NotPermitted
from organisation.models import User
from workspace.models import Notification, NotificationKind
from workspace.recipients import recipients_for

logger = logging.getLogger(__name__)


def _link(kind: str, obj) -> str:
    """The admin page of what the notification is about."""
    if kind == NotificationKind.SETTLEMENTS_AWAIT_APPROVAL:
        # obj is the closed period: the list of its settlements that await approval.
        return f"{reverse('admin:settlement_settlement_changelist')}?period__id__exact={obj.pk}&state__exact=closed"
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def notify(*, kind: str, obj, by: User | None = None, comment: str = "") -> list[Notification]:
    """Tell whoever acts next that ``obj`` changed (``kind``); their e-mails are queued when the transaction commits.

    Called by the services in the transaction of the change they report, so a
    notification exists exactly when its change was committed. The recipients
    follow ``workspace.recipients`` (branch scope included); the actor is never told.
    """
    recipients = recipients_for(kind=kind, obj=obj, by=by)
    if not recipients:
        return []
    name, url = str(obj)[:200], _link(kind, obj)
    created = Notification.objects.bulk_create(
        [
            Notification(recipient=user, kind=kind, object_name=name, url=url, actor=by, comment=comment.strip())
            for user in recipients
        ]
    )
    ids = [n.pk for n in created]  # bulk_create returns the ids on PostgreSQL and SQLite
    transaction.on_commit(lambda: _queue_emails(ids), robust=True)
    return created


def _queue_emails(ids: list[int]) -> None:
    from revenue.statements.services.events import enqueue
    from workspace.tasks import notification_email_task

    for notification_id in ids:
        enqueue(notification_email_task, notification_id)


def notification_email_content(notification: Notification) -> tuple[str, str]:
    """Subject and body in the recipient's language (the product's language when they chose none)."""
    recipient = notification.recipient
    base = settings.WORKSPACE_BASE_URL.rstrip("/")
    context = {"notification": notification, "recipient": recipient, "link": f"{base}{notification.url}"}
    with translation.override(recipient.language or settings.LANGUAGE_CODE):
        subject = notification.title
        body = render_to_string("workspace/email/notification.txt", context)
    return " ".join(subject.split()), body


def notification_email(*, notification_id: int) -> bool:
    """Send the notification's e-mail once; False when already sent or the recipient has no address.

    The send is claimed first (compare-and-swap on ``emailed_at``) so a task
    delivered twice sends once; a failed send releases the claim and raises for a retry.
    """
    claimed = Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(emailed_at=timezone.now())
    if not claimed:
        return False
    notification = Notification.objects.select_related("recipient", "actor").get(pk=notification_id)
    if not notification.recipient.email:
        return False
    subject, body = notification_email_content(notification)
    try:
        send_mail(subject, body, None, [notification.recipient.email])
    except Exception:
        Notification.objects.filter(pk=notification_id).update(emailed_at=None)
        raise
    return True


def notification_mark_read(*, notification: Notification, by: User) -> Notification:
    """Mark one of ``by``'s own notifications read (someone else's is refused)."""
    if notification.recipient_id != by.pk:
        raise NotPermitted(_("This notification is addressed to someone else."))
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
        notification.refresh_from_db(fields=["read_at"])
    return notification


def notifications_mark_all_read(*, by: User) -> int:
    """Mark every unread notification of ``by`` read; how many were."""
    return Notification.objects.filter(recipient=by, read_at__isnull=True).update(read_at=timezone.now())


# A notification's e-mail not sent this long after it was created was lost on the way (the broker was
# down when it was queued, or every retry failed); older than the second limit, it is no longer news.
EMAIL_SWEEP_AFTER = dt.timedelta(minutes=10)
EMAIL_SWEEP_UNTIL = dt.timedelta(days=2)


def notification_emails_requeue(*, now: dt.datetime | None = None) -> int:
    """Queue again the e-mails of recent notifications that were never sent; how many were queued.

    Sending claims each e-mail first, so one queued twice is still sent once.
    """
    now = now or timezone.now()
    ids = list(
        Notification.objects.filter(
            emailed_at__isnull=True,
            created_at__lte=now - EMAIL_SWEEP_AFTER,
            created_at__gte=now - EMAIL_SWEEP_UNTIL,
        )
        .exclude(recipient__email="")
        .values_list("pk", flat=True)
    )
    _queue_emails(ids)
    return len(ids)
