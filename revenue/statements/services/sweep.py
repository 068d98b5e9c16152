"""The periodic safety net: whatever a lost message, a broker outage or a missed hook left undone is queued again.

* a final settlement without a statement (the close's own queuing was lost,
  or the statement task failed) is queued again, in chunks (``statements_issue_task``);
* an event not e-mailed a while after it was recorded is e-mailed;
* a webhook delivery left pending (no retry scheduled any more) is tried
  again, and given up for good after ``MAX_DELIVERY_ATTEMPTS`` attempts in all.

Every task it queues is idempotent, so a sweep that overlaps a slow task
does no harm.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from revenue.statements.choices import DeliveryState
from revenue.statements.models import PartnerEvent, WebhookDelivery
from revenue.statements.services.events import enqueue

# Leave running work alone: an event's own e-mail and first delivery are queued on commit.
GRACE = dt.timedelta(minutes=10)
# Longer than a whole back-off series of one task (about four minutes, see revenue.statements.tasks).
STALE_DELIVERY = dt.timedelta(hours=1)
MAX_DELIVERY_ATTEMPTS = 27  # three series of nine attempts
BATCH = 5000


def statements_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Queue what is missing; the counts queued (or given up) per kind."""
    from revenue.statements.tasks import (
        partner_event_email_task,
        queue_in_chunks,
        settlements_without_statement,
        webhook_deliver_task,
    )

    now = now or timezone.now()
    counts = {"statements": 0, "emails": 0, "deliveries": 0, "given_up": 0}
    missing = settlements_without_statement()[:BATCH]
    counts["statements"] = queue_in_chunks(missing, queue=enqueue)
    unsent = PartnerEvent.objects.filter(emailed_at__isnull=True, created_at__lt=now - GRACE).order_by("pk")
    for event_id in unsent.values_list("pk", flat=True)[:BATCH]:
        counts["emails"] += enqueue(partner_event_email_task, event_id)
    pending = WebhookDelivery.objects.filter(state=DeliveryState.PENDING)
    counts["given_up"] = pending.filter(attempts__gte=MAX_DELIVERY_ATTEMPTS).update(
        state=DeliveryState.FAILED, last_error="Given up after repeated failures."
    )
    stale = pending.filter(
        Q(last_attempt_at__isnull=True, event__created_at__lt=now - GRACE) | Q(last_attempt_at__lt=now - STALE_DELIVERY)
    ).order_by("pk")
    for delivery_id in stale.values_list("pk", flat=True)[:BATCH]:
        counts["deliveries"] += enqueue(webhook_deliver_task, delivery_id)
    return counts
