"""API plumbing shared by the apps: application errors become clean 4xx responses."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
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
    """Requests per partner (per source system for a source system's account), at ``PARTNER_API_THROTTLE_RATE``.

    Counted per partner, not per token or user: replacing a token, or calling with another user's
    token or the portal's session, draws on the same budget.
    """

    scope = "partner_api"

    def get_rate(self) -> str:
        return settings.PARTNER_API_THROTTLE_RATE

    def get_cache_key(self, request, view) -> str:
        user = request.user
        if user and user.is_authenticated:
            ident = _caller_ident(user)
        else:
            ident = "ip:" + self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


def _caller_ident(user) -> str:
    if user.partner_id:
        return f"partner:{user.partner_id}"
    try:
        return f"source:{user.source_system.pk}"
    except ObjectDoesNotExist:
        return f"user:{user.pk}"
