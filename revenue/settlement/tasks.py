"""Celery tasks of settlement: thin wrappers around the services, safe to deliver twice, and the fan-out.

Reliability comes from the settings (``config.settings.base``: late
acknowledgement, requeue when a worker process dies, prefetch of one, a
visibility timeout longer than the longest task) together with idempotent
steps: a chunk writes its rows and marks itself done in one transaction, and
the final step of a superseded dispatch does nothing. Work is queued with
``transaction.on_commit`` by the services, so a task never runs before the
rows it reads are committed. This module owns the fan-out: which task is queued
when (:func:`settlement_run_prepare_dispatch`, :func:`settlement_run_chunks_dispatch`)
and, with no workers, how a run's chunks share out over connections in this process.

Schedules (``CELERY_BEAT_SCHEDULE``): the nightly accrual at 01:00 China time
and the month-end close at 02:00 on the 1st.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from celery import chord, group, shared_task
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as OperationalError_kombu

from core.errors import ApplicationError
from core.periods import Period
from core.request_id import logged_as_run
from revenue.settlement.choices import RunKind, RunTrigger
from revenue.settlement.models import SettlementRun, SettlementRunChunk
from revenue.settlement.services import (
    settlement_run_chunk_execute,
    settlement_run_chunk_failed,
    settlement_run_finish,
    settlement_run_prepare,
    settlement_run_start,
    settlement_runs_sweep,
)
from revenue.settlement.services.runs import run_timings_record, side_by_side_connections

logger = logging.getLogger(__name__)

TRANSIENT_RETRIES = 3
# Publishing to an unreachable broker gives up after about a second, not after kombu's default twenty.
QUICK_PUBLISH = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}


@shared_task(name="settlement.run_prepare", bind=True, max_retries=TRANSIENT_RETRIES)
def settlement_run_prepare_task(self, run_id: int, attempt: int) -> bool:
    try:
        with logged_as_run(run_id):
            return settlement_run_prepare(run_id=run_id, attempt=attempt)
    except OperationalError as exc:  # a deadlock or a lost connection: try again shortly
        raise self.retry(exc=exc, countdown=2) from exc


@shared_task(name="settlement.run_chunk", bind=True, max_retries=TRANSIENT_RETRIES)
def settlement_run_chunk_task(self, run_id: int, number: int) -> bool:
    """One chunk. A business or program error is recorded on the chunk (the final step then fails the run)
    rather than raised, so that the chord always reaches its final step."""
    with logged_as_run(run_id):
        return _chunk(self, run_id, number)


def _chunk(task, run_id: int, number: int) -> bool:
    try:
        return settlement_run_chunk_execute(run_id=run_id, number=number)
    except OperationalError as exc:
        if task.request.retries < TRANSIENT_RETRIES:
            raise task.retry(exc=exc, countdown=2) from exc
        settlement_run_chunk_failed(run_id=run_id, number=number, error=str(exc))
    except ApplicationError as exc:
        settlement_run_chunk_failed(run_id=run_id, number=number, error=str(exc.message))
    except Exception as exc:
        logger.exception("settlement run %s chunk %s failed", run_id, number)
        settlement_run_chunk_failed(run_id=run_id, number=number, error=f"{type(exc).__name__}: {exc}")
    return False


@shared_task(name="settlement.run_finish", bind=True, max_retries=TRANSIENT_RETRIES)
def settlement_run_finish_task(self, run_id: int, attempt: int) -> str | None:
    try:
        with logged_as_run(run_id):
            run = settlement_run_finish(run_id=run_id, attempt=attempt)
    except OperationalError as exc:
        raise self.retry(exc=exc, countdown=2) from exc
    return run.state if run else None


def _start(kind: str, period: Period) -> int | None:
    try:
        run = settlement_run_start(period=period, kind=kind, by=None, trigger=RunTrigger.SCHEDULE)
    except ApplicationError as exc:
        # A second beat scheduler, or a period that cannot be settled now: say why, do not retry.
        logger.warning("scheduled %s of %s not started: %s", kind, period, exc.message)
        return None
    return run.pk


@shared_task(name="settlement.accrual_nightly")
def settlement_accrual_nightly_task() -> int | None:
    """Accrue the month to date of yesterday (China time): on the 1st that is the month about to close."""
    yesterday = timezone.now() - dt.timedelta(days=1)
    return _start(RunKind.ACCRUAL, Period.containing(yesterday))


@shared_task(name="settlement.close_monthly")
def settlement_close_monthly_task() -> int | None:
    """Close the previous month (China time)."""
    return _start(RunKind.CLOSE, Period.containing(timezone.now()).previous())


@shared_task(name="settlement.runs_sweep")
def settlement_runs_sweep_task() -> dict[str, int]:
    """Queue runs that were never queued and resume runs whose worker died (every 15 minutes)."""
    return settlement_runs_sweep()


# ---- fan-out: what the services queue, on commit -------------------------------------------


def settlement_run_prepare_dispatch(run: SettlementRun) -> None:
    """Queue the run's preparation once the caller's transaction commits."""
    run_id, attempt = run.pk, run.attempt

    def send() -> None:
        try:
            result = settlement_run_prepare_task.apply_async((run_id, attempt), retry_policy=QUICK_PUBLISH)
        except OperationalError_kombu as exc:
            # The queue went away after the start was checked and committed: the run stays pending and
            # unqueued (no task id), and the run sweep queues it again once the queue is back.
            with logged_as_run(run_id):
                logger.error("settlement run %s could not be queued: %s", run_id, exc)
            return
        SettlementRun.objects.filter(pk=run_id, celery_task_id="").update(celery_task_id=result.id or "")

    transaction.on_commit(send)


def settlement_run_chunks_dispatch(run_id: int, attempt: int) -> None:
    """Queue the run's undone chunks and, after them, its final step, once the caller's transaction commits."""
    numbers = list(SettlementRunChunk.objects.filter(run_id=run_id, done=False).values_list("number", flat=True))
    run_timings_record(run_id, chunks_queued_at=time.time())

    def send() -> None:
        finish = settlement_run_finish_task.si(run_id, attempt)
        side_by_side = min(side_by_side_connections(), len(numbers))
        if side_by_side > 1 and settlement_run_chunk_task.app.conf.task_always_eager and not connection.in_atomic_block:
            # Tasks run in this process (no workers): the chunks share out over a few connections, as
            # they would over worker processes. Each thread's connection sees committed rows only,
            # hence never from within a caller's transaction.
            with ThreadPoolExecutor(max_workers=side_by_side) as pool:
                list(pool.map(partial(_chunk_on_own_connection, run_id), numbers))
            finish.apply()
        elif numbers:
            chord(group(settlement_run_chunk_task.si(run_id, n) for n in numbers))(finish)
        else:
            finish.delay()

    transaction.on_commit(send)


def _chunk_on_own_connection(run_id: int, number: int) -> None:
    """One chunk task, run in this thread on the thread's own connection, which is closed afterwards."""
    try:
        settlement_run_chunk_task.apply(args=(run_id, number))
    finally:
        connection.close()
