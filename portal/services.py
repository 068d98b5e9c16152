"""API tokens (issued, rotated, revoked) and the end of a partner's access when it is terminated.

A token's secret is returned once, by the service that creates it, and never
stored: only its SHA-256 digest is (see ``portal.models``). Every token
expires ``API_TOKEN_TTL_DAYS`` after its creation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm_log.models import StateLog

from onboarding.models import Partner
from organisation.models import User
from portal.errors import PartnerAccessRefused
from portal.models import ApiToken
from portal.selectors import PartnerAccess, user_partner_access
from revenue.statements.errors import NotPermitted
from revenue.statements.models import PartnerWebhook
from revenue.statements.services import is_partner_user

# 32 random bytes as hex: 64 characters. The first PREFIX_LENGTH are shown (not secret).
TOKEN_BYTES = 32
TOKEN_LENGTH = 2 * TOKEN_BYTES
PREFIX_LENGTH = 8
# last_used_at is written at most once per this interval per token (a request need not write every time).
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its secret ``key``: hand the key to its holder now, it cannot be read again."""

    token: ApiToken
    key: str


def api_token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _require_partner_user(user: User) -> None:
    if not is_partner_user(user):
        raise NotPermitted(_("Only a partner's own users hold partner API tokens."))


def _require_full_access(user: User) -> None:
    if user_partner_access(user=user) is not PartnerAccess.FULL:
        raise PartnerAccessRefused(_("Your partner's access is suspended or has ended: API tokens cannot be issued."))


def api_token_issue(*, user: User, name: str = "", now: dt.datetime | None = None) -> IssuedToken:
    """A new token for ``user``, replacing (revoking) any token the user held: one token per user at a time."""
    now = now or timezone.now()
    key = secrets.token_hex(TOKEN_BYTES)
    with transaction.atomic():
        ApiToken.objects.usable(now=now).filter(user=user).update(revoked_at=now)
        token = ApiToken.objects.create(
            user=user,
            name=name[:64],
            prefix=key[:PREFIX_LENGTH],
            digest=api_token_digest(key),
            created_at=now,
            expires_at=now + dt.timedelta(days=settings.API_TOKEN_TTL_DAYS),
        )
    return IssuedToken(token=token, key=key)


def api_token_revoke(*, token: ApiToken, now: dt.datetime | None = None) -> bool:
    """Revoke one token; False when it was already revoked."""
    return bool(ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now or timezone.now()))


def api_token_touch(*, token: ApiToken, now: dt.datetime | None = None) -> None:
    """Record the token's use, at most once per ``LAST_USED_RESOLUTION`` (so most requests write nothing)."""
    now = now or timezone.now()
    if token.last_used_at and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    # Conditional: of concurrent requests that all saw a stale value, one writes.
    ApiToken.objects.filter(pk=token.pk).exclude(last_used_at__gt=now - LAST_USED_RESOLUTION).update(last_used_at=now)
    token.last_used_at = now


def partner_token_rotate(*, user: User) -> IssuedToken:
    """A new API token for the partner's user; the previous one (if any) stops working at once."""
    _require_partner_user(user)
    _require_full_access(user)
    return api_token_issue(user=user, name=gettext("Partner portal"))


def partner_token_revoke(*, user: User) -> bool:
    """Revoke the user's API token: requests with it get 401 from now on. False when there was none."""
    return bool(ApiToken.objects.usable().filter(user=user).update(revoked_at=timezone.now()))


def partner_access_revoke(*, partner: Partner, by: User) -> tuple[int, int]:
    """On termination: revoke every API token of the partner's users and deactivate its webhooks.

    Recorded in the partner's state log when there was anything to end. Returns (tokens revoked, webhooks
    deactivated).
    """
    now = timezone.now()
    with transaction.atomic():
        tokens = ApiToken.objects.usable(now=now).filter(user__partner_id=partner.pk).update(revoked_at=now)
        webhooks = PartnerWebhook.objects.filter(partner_id=partner.pk, active=True).update(active=False)
        if not (tokens or webhooks):
            return 0, 0
        StateLog.objects.create(
            content_object=partner,
            by=by,
            transition="revoke_access",
            source_state=partner.state,
            state=partner.state,
            description=gettext("Access revoked: %(tokens)d API tokens, %(webhooks)d webhooks deactivated.")
            % {"tokens": tokens, "webhooks": webhooks},
        )
    return tokens, webhooks
