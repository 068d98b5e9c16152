"""Error reporting to Sentry or a compatible service (GlitchTip, a self-hosted Sentry): optional, off by default.

Turned on by ``SENTRY_DSN`` (``config.settings.base`` calls :func:`error_reporting_init` only then): unhandled
errors of requests (Django) and tasks (Celery) are reported with their stack, the request's id as a tag, and
no personal data (no user, cookies or request bodies: ``send_default_pii`` off).
"""

from __future__ import annotations


def error_reporting_init(*, dsn: str, environment: str, traces_sample_rate: float) -> bool:
    """Start reporting to ``dsn``; nothing is sent until an error happens. False (nothing done) without a DSN."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=_with_request_id,
    )
    return True


def _with_request_id(event: dict, hint: dict) -> dict:
    """Tag each report with the request's (or the task's request's) id, to find its log lines."""
    from core.request_id import NONE, current_request_id

    request_id = current_request_id()
    if request_id != NONE:
        event.setdefault("tags", {})["request_id"] = request_id
    return event
