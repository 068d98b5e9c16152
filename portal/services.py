"""Partner API tokens, rotated or revoked by the partner's own user."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token

from organisation.models import User
from revenue.statements.errors import NotPermitted
from revenue.statements.services import is_partner_user


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
