"""API plumbing shared by the apps: application errors become clean 4xx responses."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
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
