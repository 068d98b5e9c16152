"""Celery tasks of the admission domain: thin wrappers around the services, safe to run twice."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.utils import timezone


@shared_task(
    name="onboarding.notice_email",
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def notice_email_task(to: list[str], template: str, context: dict) -> int:
    from onboarding.services.notices import notice_email

    return notice_email(to=to, template=template, context=context)


@shared_task(name="onboarding.reviews_nightly")
def reviews_nightly_task() -> dict:
    """Open the re-reviews falling due and suspend partners overdue past the grace period (idempotent)."""
    from onboarding.services.reviews import reviews_nightly

    return reviews_nightly(today=timezone.localdate())
