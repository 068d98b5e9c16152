"""Health endpoints for load balancers, orchestrators and operators.

``/health/live``: the process answers (no database, nothing else): restart it when this fails.
``/health/ready``: this instance can do its work: the database (migrations applied), the shared cache,
the task broker and the media storage answer. 200 when all do, 503 otherwise: take it out of the pool.

Everyone gets the overall status; staff users and addresses in ``HEALTH_DETAIL_NETWORKS`` also get each
component's result, the names of the failing ones and the settlement runs that look stalled. No result
carries a URL, a host or a password: a failure is named by its exception's type (the full error goes to
the log).
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


class CheckFailed(Exception):
    """A component answered, but not as it should; the message is shown (it names no host or secret)."""


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {}


_migrations_applied = False


def check_migrations() -> dict:
    # Once all are applied they stay applied for the life of the process: the graph is not loaded again.
    global _migrations_applied
    if not _migrations_applied:
        from django.db.migrations.executor import MigrationExecutor

        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            raise CheckFailed(f"{len(plan)} migrations not applied")
        _migrations_applied = True
    return {}


def check_cache() -> dict:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "ok", timeout=30)
    try:
        if cache.get(key) != "ok":
            raise CheckFailed("a value written was not read back")
    finally:
        cache.delete(key)
    return {}


def check_broker() -> dict:
    from config.celery import app

    if app.conf.task_always_eager:
        return {"mode": "in-process"}
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)
    return {}


def check_media() -> dict:
    from core.storage import private_storage

    # Statements and scorecards are written to the media storage, admission evidence to the private one.
    for storage in (default_storage, private_storage()):
        name = storage.save(f"health/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
        storage.delete(name)
    return {}


def check_settlement_runs() -> dict:
    """Runs that have shown no progress for longer than a task may run (their worker died); informative only."""
    from revenue.settlement.choices import ACTIVE_RUN_STATES
    from revenue.settlement.models import SettlementRun
    from revenue.settlement.services.runs import run_is_stalled

    active = SettlementRun.objects.filter(state__in=ACTIVE_RUN_STATES).select_related("period")
    return {"stalled_runs": [{"id": run.pk, "period": str(run.period)} for run in active if run_is_stalled(run)]}


# What readiness requires, in the order they are reported.
REQUIRED: dict[str, Callable[[], dict]] = {
    "database": check_database,
    "migrations": check_migrations,
    "cache": check_cache,
    "broker": check_broker,
    "media": check_media,
}
# Shown in the detail, never a reason to take the instance out: a stalled run is for an operator to resume.
INFORMATIVE: dict[str, Callable[[], dict]] = {"settlement": check_settlement_runs}


def run_checks() -> dict[str, dict]:
    results = {}
    database_up = True
    for name, check in {**REQUIRED, **INFORMATIVE}.items():
        if not database_up and name in ("migrations", "settlement"):
            results[name] = {"status": "unknown", "error": "database unavailable"}
            continue
        try:
            results[name] = {"status": "ok", **check()}
        except Exception as exc:
            logger.warning("health check %s failed", name, exc_info=True)
            message = str(exc) if isinstance(exc, CheckFailed) else type(exc).__name__
            results[name] = {"status": "failing", "error": message}
            if name == "database":
                database_up = False
    if results.get("settlement", {}).get("stalled_runs"):
        results["settlement"]["status"] = "warning"
    return results


def _detail_networks() -> list:
    return [ipaddress.ip_network(net, strict=False) for net in settings.HEALTH_DETAIL_NETWORKS]


def may_see_detail(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        address = None
    if address is not None and any(address in net for net in _detail_networks()):
        return True
    try:
        # Reads the session, so the database: not reachable when the database is the failing component.
        return bool(request.user.is_staff)
    except Exception:
        return False


@never_cache
@transaction.non_atomic_requests
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@transaction.non_atomic_requests
def ready(request: HttpRequest) -> JsonResponse:
    results = run_checks()
    failing = [name for name in REQUIRED if results[name]["status"] != "ok"]
    body: dict = {"status": "unavailable" if failing else "ok"}
    if may_see_detail(request):
        body["failing"] = failing
        body["components"] = results
    return JsonResponse(body, status=503 if failing else 200)
