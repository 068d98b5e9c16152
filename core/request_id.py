"""A request id on every request, its response and every log line written while it is handled.

The id is taken from the request's ``X-Request-ID`` when it is well-formed (a proxy or a load balancer
in front set it, or the caller did), else generated; the response returns it in ``X-Request-ID``, and
gunicorn's access log shows it. Operators then find a request's log lines, across the proxy, gunicorn
and the application, by one value. A task queued while handling a request carries the id to its worker
(``config.celery``), whose log lines for that task show it too.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import uuid

from django.core.signals import request_finished
from django.dispatch import receiver

HEADER = "X-Request-ID"
# Letters, digits and a few separators (UUIDs, hex ids, tracing ids), at most 128: nothing that could
# break a log line (spaces, newlines, quotes) is ever echoed.
WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}")
NONE = "-"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default=NONE)
# The settlement run whose work is being done (its tasks, in a worker or in-process), ``-`` otherwise.
_run: contextvars.ContextVar[str] = contextvars.ContextVar("run_id", default=NONE)


def current_request_id() -> str:
    """The id of the request being handled by this thread, or ``-`` outside a request."""
    return _current.get()


class RequestIdMiddleware:
    """First in MIDDLEWARE, so that every response carries the id, redirects and static files included."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(HEADER, "")
        request_id = given if WELL_FORMED.fullmatch(given) else uuid.uuid4().hex
        request.request_id = request_id
        # Left set until the request is finished (below): Django logs an error response after the middleware.
        _current.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


@receiver(request_finished, dispatch_uid="core.request_id.forget")
def _forget(**kwargs) -> None:
    _current.set(NONE)


def use_request_id(request_id: str | None) -> None:
    """Log as part of this request from now on (a worker, for the task it runs); ``None``: no request."""
    _current.set(request_id if request_id and WELL_FORMED.fullmatch(request_id) else NONE)


@contextlib.contextmanager
def logged_as_run(run_id: int):
    """Every log line written inside carries ``run_id`` (a settlement run's tasks), and the task's id."""
    token = _run.set(str(run_id))
    try:
        yield
    finally:
        _run.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts ``request_id``, ``run_id`` and ``task_id`` on every record (``-`` where there is none); on the
    handlers, so every logger has them. An operator finds every line of one run, or one task, by one value."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get()
        record.run_id = _run.get()
        record.task_id = _task_id()
        return True


def _task_id() -> str:
    from celery import current_task

    request = getattr(current_task, "request", None) if current_task else None
    return getattr(request, "id", None) or NONE
