"""Celery tasks of statements: thin, idempotent wrappers around the services (safe to deliver twice).

* ``statement_generate_task(settlement_id)`` — issue one settlement's statement
  (nothing to do when it exists); queued per settlement after a period's close
  by ``statements_generate_for_period_task(period_id)``.
* ``partner_event_email_task(event_id)`` — the event's e-mail, sent once.
* ``webhook_deliver_task(delivery_id)`` — one signed POST, retried with
  exponential back-off (and jitter) up to ``WEBHOOK_MAX_RETRIES`` times, then
  marked failed.
* ``statements_sweep_task()`` — every quarter of an hour (``CELERY_BEAT_SCHEDULE``):
  queues again whatever was lost (statements not issued, e-mails not sent,
  deliveries no longer retried).
"""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.db import OperationalError

from revenue.settlement.choices import FROZEN_SETTLEMENT_STATES
from revenue.settlement.models import Settlement
from revenue.statements.errors import WebhookDeliveryFailed
from revenue.statements.models import Statement

logger = logging.getLogger(__name__)

WEBHOOK_MAX_RETRIES = 8  # back-off 1, 2, 4 … 128 s (capped at 10 min): about four minutes in all
WEBHOOK_BACKOFF_MAX = 600


@shared_task(
    name="statements.statement_generate",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def statement_generate_task(settlement_id: int) -> int:
    """Issue the settlement's statement; the statement id."""
    from revenue.statements.services import statement_generate

    # statement_generate reads the settlement itself (one query with everything it prints).
    return statement_generate(settlement=Settlement(pk=settlement_id)).pk


@shared_task(name="statements.generate_for_period")
def statements_generate_for_period_task(period_id: int) -> int:
    """Queue one ``statement_generate_task`` per final settlement of the period without a statement."""
    missing = (
        Settlement.objects.filter(period_id=period_id, state__in=FROZEN_SETTLEMENT_STATES)
        .exclude(pk__in=Statement.objects.values("settlement_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    count = 0
    for settlement_id in missing.iterator(chunk_size=2000):
        statement_generate_task.delay(settlement_id)
        count += 1
    logger.info("period %s: %s statements queued", period_id, count)
    return count


@shared_task(
    name="statements.partner_event_email",
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def partner_event_email_task(event_id: int) -> int:
    from revenue.statements.services import partner_event_email

    return partner_event_email(event_id=event_id)


@shared_task(
    bind=True,
    name="statements.webhook_deliver",
    autoretry_for=(WebhookDeliveryFailed,),
    retry_backoff=True,
    retry_backoff_max=WEBHOOK_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=WEBHOOK_MAX_RETRIES,
)
def webhook_deliver_task(self, delivery_id: int) -> bool:
    from revenue.statements.services import webhook_deliver, webhook_delivery_give_up

    try:
        return webhook_deliver(delivery_id=delivery_id)
    except WebhookDeliveryFailed as exc:
        if self.request.retries >= self.max_retries:
            webhook_delivery_give_up(delivery_id=delivery_id, error=str(exc.message))
            return False
        raise


@shared_task(name="statements.sweep")
def statements_sweep_task() -> dict[str, int]:
    from revenue.statements.services import statements_sweep

    return statements_sweep()
