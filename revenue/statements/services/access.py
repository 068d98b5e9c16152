"""Partner access: API tokens (rotated or revoked by the partner's own user) and the record of every download."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token

from organisation.models import User
from revenue.settlement.models import Settlement
from revenue.statements.errors import NotPermitted
from revenue.statements.models import DownloadEvent


def is_partner_user(user) -> bool:
    """A signed-in, active user of a partner allowed to read its settlements (not bank staff)."""
    return bool(
        user
        and user.is_authenticated
        and user.is_active
        and user.partner_id
        and user.has_perm("revenue.view_partner_settlements")
    )


def _require_partner_user(user: User) -> None:
    if not is_partner_user(user):
        raise NotPermitted(_("Only a partner's own users hold partner API tokens."))


def partner_token_get(*, user: User) -> Token | None:
    return Token.objects.filter(user=user).first()


def partner_token_rotate(*, user: User) -> Token:
    """A new API token for the user; the previous one (if any) stops working at once."""
    _require_partner_user(user)
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def partner_token_revoke(*, user: User) -> bool:
    """Revoke the user's API token: requests with it get 401 from now on. False when there was none."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)


def download_event_record(
    *, user: User, settlement: Settlement, kind: str, channel: str, ip: str | None = None
) -> DownloadEvent:
    """Who downloaded what, when and how (portal, API or admin)."""
    return DownloadEvent.objects.create(
        user=user, partner_id=settlement.partner_id, settlement=settlement, kind=kind, channel=channel, ip=ip or None
    )
