"""Partner webhooks: registration by the partner, and signed deliveries retried with back-off.

Each delivery is a POST of the event as JSON with

* ``X-Partner-Event``: the event kind (``statement.ready``, ``dispute.resolved``);
* ``X-Partner-Delivery``: the delivery id (the same on every retry, for de-duplication);
* ``X-Partner-Timestamp``: seconds since the epoch when this attempt was signed;
* ``X-Partner-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed with the
  webhook's secret, of ``<timestamp>.<body>`` (so an old body cannot be replayed
  with a new timestamp).

Only http(s) URLs are accepted; redirects are never followed (a redirect
could point the bank's servers at its own network), and unless
``WEBHOOK_ALLOW_PRIVATE_NETWORKS`` is set, a URL whose host is or resolves to a
loopback, private, link-local or otherwise non-public address is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from onboarding.models import Partner
from organisation.models import User
from portal.selectors import PartnerAccess, user_partner_access
from revenue.statements.choices import DeliveryState
from revenue.statements.errors import NotPermitted, WebhookDeliveryFailed, WebhookUrlRefused
from revenue.statements.models import PartnerWebhook, WebhookDelivery

TIMEOUT_SECONDS = 10
USER_AGENT = "partner-office-webhooks/1.0"
MAX_WEBHOOKS_PER_PARTNER = 5
SIGNATURE_HEADER = "X-Partner-Signature"
TIMESTAMP_HEADER = "X-Partner-Timestamp"


def _allow_private() -> bool:
    return settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


def webhook_url_check(url: str, *, resolve: bool) -> str:
    """The URL, stripped, if a webhook may use it; ``WebhookUrlRefused`` otherwise.

    ``resolve``: also look the host name up (at delivery time) and refuse it
    if any address is not public.
    """
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlRefused(_("A webhook URL starts with https:// or http:// and names a host."))
    if parts.username or parts.password:
        raise WebhookUrlRefused(_("A webhook URL cannot carry a user name or password; the events are signed."))
    if _allow_private():
        return url
    host = parts.hostname
    if host == "localhost" or host.endswith(".localhost"):
        raise WebhookUrlRefused(_("A webhook URL must point to a public address."))
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and not _public(host):
        raise WebhookUrlRefused(_("A webhook URL must point to a public address."))
    if resolve and literal is None:
        try:
            infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
        except OSError as exc:
            raise WebhookDeliveryFailed(
                _("The webhook's host name could not be resolved: %(error)s") % {"error": exc}
            ) from exc
        if not infos or not all(_public(info[4][0]) for info in infos):
            raise WebhookUrlRefused(_("A webhook URL must point to a public address."))
    return url


def _require_partner_user(by: User, partner_id: int) -> None:
    if not (by.is_active and by.partner_id == partner_id and by.has_perm("settlement.view_partner_settlements")):
        raise NotPermitted(_("Only the partner's own users manage its webhooks."))
    if user_partner_access(user=by) is not PartnerAccess.FULL:
        raise NotPermitted(_("A suspended or terminated partner's webhooks cannot be changed."))


def webhook_create(*, partner: Partner, url: str, by: User) -> PartnerWebhook:
    """Register a webhook for the partner with a new signing secret (shown to the partner)."""
    _require_partner_user(by, partner.pk)
    url = webhook_url_check(url, resolve=False)
    if len(url) > PartnerWebhook._meta.get_field("url").max_length:
        raise WebhookUrlRefused(_("The webhook URL is too long."))
    with transaction.atomic():
        # Serialises concurrent registrations of one partner so the limit holds.
        Partner.objects.select_for_update().filter(pk=partner.pk).first()
        if PartnerWebhook.objects.filter(partner_id=partner.pk).count() >= MAX_WEBHOOKS_PER_PARTNER:
            raise WebhookUrlRefused(
                _("A partner can register at most %(max)d webhooks.") % {"max": MAX_WEBHOOKS_PER_PARTNER}
            )
        return PartnerWebhook.objects.create(
            partner=partner, url=url, secret=secrets.token_hex(32), active=True, created_by=by
        )


def webhook_set_active(*, webhook: PartnerWebhook, active: bool, by: User) -> PartnerWebhook:
    _require_partner_user(by, webhook.partner_id)
    PartnerWebhook.objects.filter(pk=webhook.pk).update(active=active)
    webhook.refresh_from_db()
    return webhook


def webhook_delete(*, webhook: PartnerWebhook, by: User) -> None:
    _require_partner_user(by, webhook.partner_id)
    webhook.delete()


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 keyed with the secret over ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def webhook_signature_verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a partner's endpoint checks: the signature matches and the timestamp is recent."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except (TypeError, ValueError):
        return False
    return age <= tolerance and hmac.compare_digest(webhook_signature(secret, timestamp, body), signature or "")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx response itself is returned as an error: never followed


_opener = urllib.request.build_opener(_NoRedirects)


def webhook_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` and return the HTTP status (redirects are not followed: a 3xx is returned as is)."""
    # The scheme was checked (http or https only) by webhook_url_check before any delivery.
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            response.read(1024)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def event_body(delivery: WebhookDelivery) -> bytes:
    event = delivery.event
    envelope = {
        "id": event.key,
        "type": event.kind,
        "created_at": event.created_at.isoformat(),
        "delivery": delivery.pk,
        "data": event.payload,
    }
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _record(delivery_id: int, **fields) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).update(**fields)


def webhook_deliver(*, delivery_id: int) -> bool:
    """One attempt to deliver; True when delivered (now or before), False when given up for good.

    Raises ``WebhookDeliveryFailed`` for a failure worth retrying (network
    error, timeout, non-2xx answer): the task retries with back-off.
    """
    delivery = WebhookDelivery.objects.select_related("event", "webhook").get(pk=delivery_id)
    if delivery.state != DeliveryState.PENDING:
        return delivery.state == DeliveryState.DELIVERED
    webhook = delivery.webhook
    if not webhook.active:
        _record(delivery_id, state=DeliveryState.FAILED, last_error=str(_("The webhook was deactivated.")))
        return False
    now = timezone.now()
    _record(delivery_id, attempts=F("attempts") + 1, last_attempt_at=now)
    try:
        url = webhook_url_check(webhook.url, resolve=True)
    except WebhookUrlRefused as exc:
        _record(delivery_id, state=DeliveryState.FAILED, last_error=str(exc.message))
        return False
    body = event_body(delivery)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Partner-Event": delivery.event.kind,
        "X-Partner-Delivery": str(delivery.pk),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: webhook_signature(webhook.secret, timestamp, body),
    }
    try:
        status = webhook_post(url, body, headers)
    except (OSError, ValueError) as exc:  # URLError, timeouts and refused connections are OSErrors
        _record(delivery_id, last_error=str(exc)[:1000], last_status=None)
        raise WebhookDeliveryFailed(_("The webhook could not be reached: %(error)s") % {"error": exc}) from exc
    if 200 <= status < 300:
        # Compare-and-swap: a concurrent duplicate delivery of the task marks it once.
        WebhookDelivery.objects.filter(pk=delivery_id, state=DeliveryState.PENDING).update(
            state=DeliveryState.DELIVERED, delivered_at=timezone.now(), last_status=status, last_error=""
        )
        return True
    _record(delivery_id, last_status=status, last_error=f"HTTP {status}")
    raise WebhookDeliveryFailed(_("The webhook answered HTTP %(status)s.") % {"status": status})


def webhook_delivery_give_up(*, delivery_id: int, error: str) -> None:
    """After the last retry: the delivery failed for good (the partner can see it in the portal)."""
    WebhookDelivery.objects.filter(pk=delivery_id, state=DeliveryState.PENDING).update(
        state=DeliveryState.FAILED, last_error=error[:1000]
    )
