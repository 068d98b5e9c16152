"""Prometheus metrics at ``/metrics``, for operators' dashboards and alerts.

Two kinds of figures:

* **What the database knows** (statements issued, webhook deliveries by state, ingestion rows booked,
  the latest settlement runs' durations by phase) is read at scrape time by :class:`DatabaseCollector`,
  one set-based query per figure, so every web process on every machine reports the same, right value.
* **What each process sees** (HTTP requests and their latencies, Celery tasks, their failures and
  durations, ingestion batches refused, which the database never keeps: a refused batch writes nothing)
  is counted by prometheus_client in the process. With ``PROMETHEUS_MULTIPROC_DIR`` set, every process
  (gunicorn's workers, Celery's pool processes) writes its counts to files in that directory and
  ``/metrics`` adds up all of them; processes on one machine share the directory.

Who may read: the same rule as the readiness detail (``HEALTH_DETAIL_NETWORKS`` or a staff user), or a
scraper sending ``Authorization: Bearer <token>`` whose SHA-256 is in ``METRICS_TOKEN_SHA256``.
Anyone else gets a plain 404, as if there were nothing here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import socket
import time

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Count, Max, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

PREFIX = "partner_office"
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIR_VARIABLE))


if multiprocess_mode():
    # Each process's files are named after its host too, so containers sharing one directory (whose
    # process ids repeat) never write to each other's files. Chosen before the first metric is made.
    _host = socket.gethostname()
    prometheus_values.ValueClass = prometheus_values.MultiProcessValue(
        process_identifier=lambda: f"{_host}-{os.getpid()}"
    )

# Seconds: a page, an export, a long API batch; a task, from a webhook delivery to a settlement chunk.
REQUEST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)

http_requests = Counter(
    f"{PREFIX}_http_requests",
    "HTTP requests answered, by view, method and status.",
    ["view", "method", "status"],
)
http_request_seconds = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time to answer an HTTP request, by view and method.",
    ["view", "method"],
    buckets=REQUEST_BUCKETS,
)
celery_tasks = Counter(
    f"{PREFIX}_celery_tasks",
    "Celery tasks run, by task and outcome (SUCCESS, FAILURE, RETRY, ...).",
    ["task", "state"],
)
celery_task_failures = Counter(
    f"{PREFIX}_celery_task_failures",
    "Celery tasks that raised, by task and exception type.",
    ["task", "exception"],
)
celery_task_seconds = Histogram(
    f"{PREFIX}_celery_task_duration_seconds",
    "Time a Celery task ran, by task.",
    ["task"],
    buckets=TASK_BUCKETS,
)
ingestion_refused_batches = Counter(
    f"{PREFIX}_ingestion_batches_refused",
    "Transaction batches refused whole (nothing booked), by channel.",
    ["channel"],
)
ingestion_refused_rows = Counter(
    f"{PREFIX}_ingestion_rows_refused",
    "Bad rows in refused transaction batches, by channel.",
    ["channel"],
)


# ---- HTTP ----------------------------------------------------------------------------------------


class RequestMetricsMiddleware:
    """Counts and times every request by its view's name (``-`` when none was resolved: 404s, static files)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        # The view's name, never the path: paths carry ids and would make a series per object.
        view = (match.view_name or match._func_path) if match else "-"
        method = request.method if request.method in KNOWN_METHODS else "other"
        http_requests.labels(view, method, str(response.status_code)).inc()
        http_request_seconds.labels(view, method).observe(time.perf_counter() - started)
        return response


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# ---- Celery --------------------------------------------------------------------------------------

_task_started: dict[str, float] = {}


def task_started(task_id=None, **kwargs) -> None:
    if task_id:
        _task_started[task_id] = time.perf_counter()


def task_finished(task_id=None, task=None, state=None, **kwargs) -> None:
    name = getattr(task, "name", None) or "-"
    celery_tasks.labels(name, state or "-").inc()
    started = _task_started.pop(task_id, None) if task_id else None
    if started is not None:
        celery_task_seconds.labels(name).observe(time.perf_counter() - started)


def task_failed(sender=None, exception=None, **kwargs) -> None:
    celery_task_failures.labels(getattr(sender, "name", None) or "-", type(exception).__name__).inc()


def celery_signals_connect() -> None:
    """Count every task this process runs (a worker's, or an in-process one's)."""
    from celery import signals

    signals.task_prerun.connect(task_started, weak=False, dispatch_uid="core.metrics.task_started")
    signals.task_postrun.connect(task_finished, weak=False, dispatch_uid="core.metrics.task_finished")
    signals.task_failure.connect(task_failed, weak=False, dispatch_uid="core.metrics.task_failed")


# ---- ingestion -----------------------------------------------------------------------------------


def ingestion_refused_count(*, channel: str, rows: int) -> None:
    ingestion_refused_batches.labels(channel).inc()
    ingestion_refused_rows.labels(channel).inc(rows)


# ---- what the database knows ---------------------------------------------------------------------


class DatabaseCollector:
    """Business figures read from the database at each scrape: right whichever process or machine answers."""

    def describe(self):
        return []  # nothing is read when the collector is registered, only when scraped

    def collect(self):
        try:
            families = [*self._statements(), *self._webhooks(), *self._ingestion(), *self._runs()]
        except DatabaseError:
            logger.warning("metrics: the database could not be read", exc_info=True)
            families, up = [], 0
        else:
            up = 1
        yield GaugeMetricFamily(f"{PREFIX}_database_metrics_up", "1 when the database figures below were read.", up)
        yield from families

    def _statements(self):
        from revenue.statements.models import Statement

        yield CounterMetricFamily(
            f"{PREFIX}_statements_issued", "Statements issued (never deleted).", Statement.objects.count()
        )

    def _webhooks(self):
        from revenue.statements.choices import DeliveryState
        from revenue.statements.models import WebhookDelivery

        family = GaugeMetricFamily(
            f"{PREFIX}_webhook_deliveries",
            "Webhook deliveries by state (failed: no longer retried; the sweep queues them again).",
            labels=["state"],
        )
        counts = dict(WebhookDelivery.objects.order_by().values_list("state").annotate(n=Count("id")))
        for state in DeliveryState.values:
            family.add_metric([state], counts.get(state, 0))
        yield family

    def _ingestion(self):
        from revenue.ledger.models import IngestionBatch

        booked = CounterMetricFamily(
            f"{PREFIX}_ingestion_rows_booked",
            "Transactions booked by accepted batches, by channel.",
            labels=["channel"],
        )
        duplicates = CounterMetricFamily(
            f"{PREFIX}_ingestion_rows_duplicate",
            "Rows of accepted batches ignored as already booked, by channel.",
            labels=["channel"],
        )
        rows = (
            IngestionBatch.objects.order_by()
            .values("channel")
            .annotate(created=Sum("rows_created"), duplicate=Sum("rows_duplicate"))
        )
        for row in rows:
            booked.add_metric([row["channel"]], row["created"] or 0)
            duplicates.add_metric([row["channel"]], row["duplicate"] or 0)
        yield booked
        yield duplicates

    def _runs(self):
        from revenue.settlement.choices import RunState
        from revenue.settlement.models import SettlementRun

        family = GaugeMetricFamily(
            f"{PREFIX}_settlement_run_phase_seconds",
            "The latest completed settlement run of each kind: seconds by phase (watermark, aggregate, chunks "
            "(wall), chunks_cpu (sum over chunks), check, finish, total).",
            labels=["kind", "period", "run", "phase"],
        )
        completed = SettlementRun.objects.filter(state=RunState.COMPLETED)
        latest = completed.order_by().values("kind").annotate(last=Max("pk")).values("last")
        for run in completed.filter(pk__in=latest).values("pk", "kind", "period__start", "timings"):
            period = run["period__start"].strftime("%Y-%m")
            for phase, seconds in sorted((run["timings"] or {}).items()):
                if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
                    family.add_metric([run["kind"], period, str(run["pk"]), phase], seconds)
        yield family


class _ThisProcess:
    """The default registry's collectors (this process's metrics, its memory and CPU) inside another registry."""

    def describe(self):
        return []

    def collect(self):
        return REGISTRY.collect()


def metrics_registry() -> CollectorRegistry:
    """What one scrape reports: every process's counts (multiprocess mode) or this one's, and the database's."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_mode():
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector())
    return registry


# ---- the endpoint --------------------------------------------------------------------------------


def _bearer_token_accepted(request: HttpRequest) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    return any(hmac.compare_digest(digest, known.lower()) for known in settings.METRICS_TOKEN_SHA256)


def may_read_metrics(request: HttpRequest) -> bool:
    from core.health import may_see_detail

    return _bearer_token_accepted(request) or may_see_detail(request)


@never_cache
@transaction.non_atomic_requests
def metrics(request: HttpRequest) -> HttpResponse:
    if not may_read_metrics(request):
        raise Http404
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
