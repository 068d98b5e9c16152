"""``Authorization: Token <key>`` against the product's own API tokens (stored as digests, expiring)."""

from __future__ import annotations

import re

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from portal.models import ApiToken
from portal.services import TOKEN_LENGTH, api_token_digest, api_token_touch

KEYWORD = b"token"
# Anything longer than "Token " and a key (with room for spacing) is not a token header.
MAX_HEADER_LENGTH = 256
_KEY = re.compile(rf"[0-9a-f]{{{TOKEN_LENGTH}}}")


def _malformed_key() -> str:
    return _("Invalid token: a key is %(length)d hexadecimal characters.") % {"length": TOKEN_LENGTH}


class ApiTokenAuthentication(BaseAuthentication):
    """Partner users' and source systems' API tokens.

    A malformed key (wrong length, a NUL or any other character a key never
    holds) is refused before any query; an expired or revoked token gets its
    own 401 message so the caller knows to ask for a new one.
    """

    keyword = "Token"

    def authenticate(self, request):
        header = get_authorization_header(request)
        parts = header.split()
        if not parts or parts[0].lower() != KEYWORD:
            return None
        if len(header) > MAX_HEADER_LENGTH or len(parts) != 2:
            raise AuthenticationFailed(_("Invalid token header: send “Authorization: Token <key>”."))
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise AuthenticationFailed(_malformed_key()) from exc
        if not _KEY.fullmatch(key):
            raise AuthenticationFailed(_malformed_key())
        return self.authenticate_key(key)

    def authenticate_key(self, key: str):
        try:
            token = ApiToken.objects.select_related("user", "user__partner").get(digest=api_token_digest(key))
        except ApiToken.DoesNotExist as exc:
            raise AuthenticationFailed(_("Invalid token.")) from exc
        now = timezone.now()
        if token.revoked_at is not None:
            raise AuthenticationFailed(_("This token was revoked. Create a new one in the partner portal."))
        if token.expires_at <= now:
            raise AuthenticationFailed(_("This token expired. Create a new one in the partner portal."))
        if not token.user.is_active:
            raise AuthenticationFailed(_("The token's user account is deactivated."))
        api_token_touch(token=token, now=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The token scheme in the OpenAPI schema (as DRF's own token authentication was described)."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Token-based authentication with required prefix "Token"',
        }
