"""API plumbing shared by the apps: application errors become clean 4xx responses."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        exc = exceptions.ValidationError(detail=detail)
    if isinstance(exc, ApplicationError):
        body = {"detail": str(exc.message), **exc.extra}
        return Response(body, status=exc.status_code or status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


class PartnerTokenThrottle(SimpleRateThrottle):
    """Requests per API token (per user for the portal's session), at ``PARTNER_API_THROTTLE_RATE``."""

    scope = "partner_api"

    def get_rate(self) -> str:
        return settings.PARTNER_API_THROTTLE_RATE

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, Token):
            # The key itself is a credential: only its digest goes into the cache.
            ident = "token:" + hashlib.sha256(request.auth.key.encode()).hexdigest()[:32]
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = "ip:" + self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
