"""Telling partners: events recorded once (an outbox), then e-mailed and POSTed to their webhooks by tasks.

An event is recorded in the same transaction as what it reports (a statement
issued, a dispute decided), under a unique key, so it exists exactly when
that change was committed and never twice. Its e-mail and webhook deliveries
are queued on commit; each is claimed with a compare-and-swap update so a
task delivered twice does not send twice.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from onboarding.models import Partner
from organisation.models import User
from revenue.settlement.models import Settlement, SettlementDispute
from revenue.statements.choices import DeliveryState, EventKind
from revenue.statements.models import PartnerEvent, PartnerWebhook, WebhookDelivery

logger = logging.getLogger(__name__)


def partner_event_record(
    *,
    partner_id: int,
    kind: str,
    key: str,
    settlement: Settlement,
    payload: dict,
    dispute: SettlementDispute | None = None,
) -> PartnerEvent:
    """Record the event once (by ``key``) and queue its e-mail and webhook deliveries when the transaction commits."""
    try:
        with transaction.atomic():
            event = PartnerEvent.objects.create(
                partner_id=partner_id, kind=kind, key=key, settlement=settlement, dispute=dispute, payload=payload
            )
    except IntegrityError:
        return PartnerEvent.objects.get(key=key)
    _dispatch_on_commit([event])
    return event


def partner_events_record(events: list[PartnerEvent]) -> list[PartnerEvent]:
    """Record several new events (unsaved ``PartnerEvent``s) in one insert, each once by its key, and queue their
    deliveries on commit, as :func:`partner_event_record` does one by one.

    An event whose key is already recorded (issued concurrently) makes the insert fail as a whole; the events are
    then recorded one by one, each returning the row already in.
    """
    try:
        with transaction.atomic():
            recorded = PartnerEvent.objects.bulk_create(events)
    except IntegrityError:
        return [
            partner_event_record(
                partner_id=event.partner_id,
                kind=event.kind,
                key=event.key,
                settlement=event.settlement,
                payload=event.payload,
                dispute=event.dispute,
            )
            for event in events
        ]
    _dispatch_on_commit(recorded)
    return recorded


def _dispatch_on_commit(events: list[PartnerEvent]) -> None:
    # robust: a failure to dispatch is logged (the sweep retries it), never raised at whoever committed.
    transaction.on_commit(lambda: partner_events_dispatch(events), robust=True)


def enqueue(task, *args) -> bool:
    """Queue ``task``; False (logged) when that fails.

    Telling the partner must never undo or break what it reports: when the
    broker is down — or, with tasks run in-process, when the first attempt
    fails and asks for a retry — the e-mail or delivery stays pending and the
    periodic sweep (``statements_sweep_task``) queues it again.
    """
    try:
        task.delay(*args)
    except Exception:
        logger.warning("could not queue %s%s; left for the sweep", task.name, args, exc_info=True)
        return False
    return True


def partner_events_dispatch(events: list[PartnerEvent]) -> int:
    """Queue each event's e-mail and one delivery per active webhook of its partner; the number queued.

    A delivery already made for an (event, webhook) is kept, and queued again only while pending. Three
    queries for any number of events: the webhooks, the deliveries added, the pending ones.
    """
    from revenue.statements.tasks import partner_event_email_task, webhook_deliver_task

    for event in events:
        enqueue(partner_event_email_task, event.pk)
    webhooks: dict[int, list[PartnerWebhook]] = {}
    for webhook in PartnerWebhook.objects.filter(
        partner_id__in={event.partner_id for event in events}, active=True
    ).order_by("id"):
        webhooks.setdefault(webhook.partner_id, []).append(webhook)
    wanted = [
        WebhookDelivery(event=event, webhook=hook) for event in events for hook in webhooks.get(event.partner_id, [])
    ]
    if not wanted:
        return 0
    # A delivery made before (a dispatch run again by the sweep) or meanwhile is kept as it is.
    WebhookDelivery.objects.bulk_create(wanted, ignore_conflicts=True)
    pending = (
        WebhookDelivery.objects.filter(
            event_id__in={event.pk for event in events},
            webhook_id__in={delivery.webhook_id for delivery in wanted},
            state=DeliveryState.PENDING,
        )
        .order_by("event_id", "webhook_id")
        .values_list("pk", flat=True)
    )
    queued = 0
    for delivery_id in pending:
        enqueue(webhook_deliver_task, delivery_id)
        queued += 1
    return queued


def event_recipients(event: PartnerEvent) -> list[str]:
    """The partner's contact address and its active users' addresses (and whoever raised a dispute), once each."""
    partner = Partner.objects.get(pk=event.partner_id)
    addresses = [partner.contact_email]
    addresses += (
        User.objects.filter(partner_id=partner.pk, is_active=True).order_by("id").values_list("email", flat=True)
    )
    if event.dispute_id:
        addresses.append(event.dispute.raised_by.email)
    seen: set[str] = set()
    unique = []
    for address in addresses:
        if address and address.lower() not in seen:
            seen.add(address.lower())
            unique.append(address)
    return unique


def _portal_link(path: str) -> str:
    return f"{settings.PARTNER_PORTAL_BASE_URL.rstrip('/')}{path}"


def event_email(event: PartnerEvent) -> tuple[str, str]:
    """Subject and body of the event's e-mail, in the product's language (Chinese first)."""
    partner = Partner.objects.get(pk=event.partner_id)
    context = {
        "event": event,
        "payload": event.payload,
        "partner": partner,
        "settlement_url": _portal_link(reverse("portal:settlement", args=[event.settlement_id])),
        "dispute": event.dispute,
    }
    template = "statement_ready" if event.kind == EventKind.STATEMENT_READY else "dispute_decided"
    with translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string(f"portal/email/{template}_subject.txt", context).strip()
        body = render_to_string(f"portal/email/{template}.txt", context)
    return " ".join(subject.split()), body


def partner_event_email(*, event_id: int) -> int:
    """Send the event's e-mail once; the number of recipients (0 when already sent or nobody to tell).

    The send is claimed first (compare-and-swap on ``emailed_at``), so a task
    delivered twice sends once; a failed send releases the claim and raises,
    for the task to retry.
    """
    claimed = PartnerEvent.objects.filter(pk=event_id, emailed_at__isnull=True).update(emailed_at=timezone.now())
    if not claimed:
        return 0
    event = PartnerEvent.objects.select_related("dispute__raised_by").get(pk=event_id)
    recipients = event_recipients(event)
    if not recipients:
        return 0
    subject, body = event_email(event)
    try:
        send_mail(subject, body, None, recipients)
    except Exception:
        PartnerEvent.objects.filter(pk=event_id).update(emailed_at=None)
        raise
    PartnerEvent.objects.filter(pk=event_id).update(email_recipients=len(recipients))
    return len(recipients)


def dispute_decided_record(*, dispute: SettlementDispute) -> PartnerEvent:
    """Record that the bank resolved or rejected a dispute (called when the decision is saved)."""
    settlement = dispute.settlement
    return partner_event_record(
        partner_id=settlement.partner_id,
        kind=EventKind.DISPUTE_RESOLVED,
        key=f"dispute.decided:{dispute.pk}",
        settlement=settlement,
        dispute=dispute,
        payload={
            "dispute_id": dispute.pk,
            "settlement_id": settlement.pk,
            "line_id": dispute.line_id,
            "period": str(settlement.period.period),
            "outcome": dispute.state,
            "resolution": dispute.resolution_comment,
            "amount": None if dispute.resolution_amount is None else str(dispute.resolution_amount),
            "adjusted_in_period": str(dispute.adjust_period.period) if dispute.adjust_period_id else None,
            "currency": "CNY",
        },
    )
