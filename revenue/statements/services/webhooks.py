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
At delivery the host name is resolved once; the connection goes to that very
address (the one that was checked), with the host name sent for TLS (SNI and
certificate verification) and in the Host header: a DNS answer that changes
between the check and the connection cannot point the bank at its own network.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

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


@dataclass(frozen=True)
class WebhookTarget:
    """Where one delivery goes: the URL's parts and the one checked address it connects to."""

    scheme: str
    host: str
    port: int
    path: str
    family: int
    sockaddr: tuple


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def webhook_url_check(url: str, *, resolve: bool) -> str:
    """The URL, stripped, if a webhook may use it; ``WebhookUrlRefused`` otherwise.

    ``resolve``: also look the host name up and refuse it if any address is
    not public (delivery uses ``webhook_target``, which keeps the address).
    """
    url = (url or "").strip()
    if resolve:
        webhook_target(url)
    else:
        _check_url(url)
    return url


def _check_url(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlRefused(_("A webhook URL starts with https:// or http:// and names a host."))
    if parts.username or parts.password:
        raise WebhookUrlRefused(_("A webhook URL cannot carry a user name or password; the events are signed."))
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        raise WebhookUrlRefused(_("The webhook URL's port is not valid.")) from exc
    if _allow_private():
        return parts
    host = parts.hostname
    if host == "localhost" or host.endswith(".localhost"):
        raise WebhookUrlRefused(_("A webhook URL must point to a public address."))
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return parts
    if not _public(host):
        raise WebhookUrlRefused(_("A webhook URL must point to a public address."))
    return parts


def webhook_target(url: str) -> WebhookTarget:
    """Check the URL and resolve its host once: the address the delivery connects to.

    Every address the name resolves to must be public (unless
    ``WEBHOOK_ALLOW_PRIVATE_NETWORKS``); the first is used.
    """
    parts = _check_url(url)
    port = parts.port or _default_port(parts.scheme)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise WebhookDeliveryFailed(
            _("The webhook's host name could not be resolved: %(error)s") % {"error": exc}
        ) from exc
    if not infos:
        raise WebhookDeliveryFailed(_("The webhook's host name could not be resolved: %(error)s") % {"error": "-"})
    if not _allow_private() and not all(_public(info[4][0]) for info in infos):
        raise WebhookUrlRefused(_("A webhook URL must point to a public address."))
    family, _type, _proto, _name, sockaddr = infos[0]
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return WebhookTarget(
        scheme=parts.scheme, host=parts.hostname, port=port, path=path, family=family, sockaddr=sockaddr
    )


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


def _open_socket(target: WebhookTarget, timeout: float) -> socket.socket:
    """A TCP connection to the checked address itself: no name is looked up again."""
    sock = socket.socket(target.family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(target.sockaddr)
    except OSError:
        sock.close()
        raise
    return sock


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _connection(target: WebhookTarget) -> http.client.HTTPConnection:
    """An HTTP(S) connection named after the URL's host (Host header, SNI, certificate) that connects to
    ``target``'s address."""
    if target.scheme == "https":
        conn = http.client.HTTPSConnection(target.host, target.port, timeout=TIMEOUT_SECONDS, context=_tls_context())
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=TIMEOUT_SECONDS)
    # http.client opens its socket through this hook, then (for https) wraps it for self.host.
    conn._create_connection = lambda address, timeout, source_address=None: _open_socket(target, timeout)
    return conn


def webhook_post(target: WebhookTarget, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` and return the HTTP status (redirects are not followed: a 3xx is returned as is)."""
    conn = _connection(target)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(1024)
        return response.status
    finally:
        conn.close()


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
        target = webhook_target(webhook.url)
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
        status = webhook_post(target, body, headers)
    except (OSError, ValueError, http.client.HTTPException) as exc:  # timeouts, refusals and TLS errors: OSError
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
