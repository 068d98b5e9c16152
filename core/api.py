"""API plumbing shared by the apps: application errors, bad paging and hostile bodies become clean 4xx responses."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
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


def rate_text(rate: str) -> str:
    """A throttle rate such as ``120/minute`` as users read it: "120 requests a minute" (translated)."""
    count, seconds = SimpleRateThrottle.parse_rate(None, rate)
    per = {
        1: _("%(count)d requests a second"),
        60: _("%(count)d requests a minute"),
        3600: _("%(count)d requests an hour"),
    }
    return per.get(seconds, _("%(count)d requests a day")) % {"count": count}


def _caller_ident(user) -> str:
    if user.partner_id:
        return f"partner:{user.partner_id}"
    try:
        return f"source:{user.source_system.pk}"
    except ObjectDoesNotExist:
        return f"user:{user.pk}"


# ASCII digits only, and not so many that int() has real work to do; range checks follow.
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,30}")


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """``limit``/``offset`` paging that never lets a client's number reach the database unchecked.

    A limit above ``max_limit`` is clamped to it; a limit or offset that is not a whole number (or out of
    range) is a 400 naming the parameter, not DRF's silent default (and never an SQL overflow).
    """

    default_limit = 100
    max_limit = 1000
    max_offset = 10_000_000

    def get_limit(self, request) -> int:
        raw = request.query_params.get(self.limit_query_param)
        if raw in (None, ""):
            return self.default_limit
        value = self._whole_number(self.limit_query_param, raw)
        if value < 1:
            raise exceptions.ValidationError({self.limit_query_param: [_("The limit must be at least 1.")]})
        return min(value, self.max_limit)

    def get_offset(self, request) -> int:
        raw = request.query_params.get(self.offset_query_param)
        if raw in (None, ""):
            return 0
        value = self._whole_number(self.offset_query_param, raw)
        if not 0 <= value <= self.max_offset:
            raise exceptions.ValidationError(
                {self.offset_query_param: [_("The offset must be between 0 and %(max)d.") % {"max": self.max_offset}]}
            )
        return value

    @staticmethod
    def _whole_number(name: str, raw: str) -> int:
        if not _WHOLE_NUMBER.fullmatch(raw):
            raise exceptions.ValidationError({name: [_("A whole number is required.")]})
        return int(raw)


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, with a body nested too deeply for the decoder answered by a 400 (not a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(_("JSON parse error - nested too deeply.")) from exc
