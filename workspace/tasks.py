"""Celery tasks of the workspace: thin and idempotent (an e-mail is claimed before it is sent)."""

from __future__ import annotations

import smtplib

from celery import shared_task


@shared_task(
    name="workspace.notification_email",
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def notification_email_task(notification_id: int) -> bool:
    from workspace.services import notification_email

    return notification_email(notification_id=notification_id)


@shared_task(name="workspace.emails_sweep")
def notification_emails_sweep_task() -> int:
    from workspace.services import notification_emails_requeue

    return notification_emails_requeue()
