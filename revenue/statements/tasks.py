"""Celery tasks of statements: thin, idempotent wrappers around the services (safe to deliver twice).

* ``statements_issue_task(settlement_ids)`` — issue a chunk of settlements'
  statements (nothing to do for those issued); queued per ``STATEMENT_ISSUE_CHUNK``
  settlements after a period's close by ``statements_generate_for_period_task(period_id)``
  and by the sweep.
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
from collections.abc import Callable, Iterable

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.db.models import QuerySet

from revenue.settlement.choices import FROZEN_SETTLEMENT_STATES
from revenue.settlement.models import Settlement
from revenue.statements.errors import WebhookDeliveryFailed
from revenue.statements.models import Statement

logger = logging.getLogger(__name__)

WEBHOOK_MAX_RETRIES = 8  # back-off 1, 2, 4 … 128 s (capped at 10 min): about four minutes in all
WEBHOOK_BACKOFF_MAX = 600


@shared_task(
    name="statements.statements_issue",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def statements_issue_task(settlement_ids: list[int]) -> int:
    """Issue the statements of a chunk of settlements (those issued already are left as they are); how many."""
    from revenue.statements.services import statements_issue

    return len(statements_issue(settlement_ids=settlement_ids))


def settlements_without_statement(**filters) -> QuerySet:
    """Ids of final settlements (matching ``filters``) that have no statement yet, in id order."""
    return (
        Settlement.objects.filter(state__in=FROZEN_SETTLEMENT_STATES, **filters)
        .exclude(pk__in=Statement.objects.values("settlement_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def queue_in_chunks(settlement_ids: Iterable[int], *, queue: Callable[..., object] | None = None) -> int:
    """Queue ``statements_issue_task`` per ``STATEMENT_ISSUE_CHUNK`` settlements; how many settlements were queued.

    ``queue(task, ids)`` queues one chunk (default: ``task.delay``); it returns False when it could not.
    """
    size = settings.STATEMENT_ISSUE_CHUNK
    count, chunk = 0, []

    def flush():
        nonlocal count
        if chunk:
            queued = queue(statements_issue_task, list(chunk)) if queue else statements_issue_task.delay(list(chunk))
            if queued is not False:
                count += len(chunk)
            chunk.clear()

    for settlement_id in settlement_ids:
        chunk.append(settlement_id)
        if len(chunk) == size:
            flush()
    flush()
    return count


@shared_task(name="statements.generate_for_period")
def statements_generate_for_period_task(period_id: int) -> int:
    """Queue the statements of the period's final settlements without one, in chunks (``statements_issue_task``)."""
    count = queue_in_chunks(settlements_without_statement(period_id=period_id).iterator(chunk_size=2000))
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
