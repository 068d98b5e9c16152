"""Settlement runs: the lifecycle and state of the nightly accrual and the month-end close.

A run (compare-and-swap updates; several workers report on one run)::

    start ──► pending ──prepare──► running ──finish──► completed
                                     │  ▲                (close: the period is closed)
                                finish│  │resume
                                     ▼  │
                                    failed                (close: the period stays "closing")

``settlement_run_start``
    Creates the run. A close moves its period open → closing under the
    period's row lock (a second concurrent close waits, then is refused), and
    only when the period has ended, is not closed, no later period is closed
    and no earlier period with events is still open. A close of a period whose
    previous close failed resumes that run instead.
``settlement_run_prepare`` (task)
    Takes the watermark once (:func:`aggregation.watermark_take`), aggregates
    the window once into figure rows (one ``INSERT … SELECT``; on PostgreSQL
    the two halves of the partners side by side on two connections) and splits
    the partners into chunks. Everything it did is kept, so a retry skips it.
``settlement_run_chunk_execute`` (task, idempotent)
    In one transaction, with the chunk row locked: skips a chunk already done,
    else deletes the range's drafts (:mod:`.writers`), computes the range's
    settlements (:mod:`.computation`), writes them (:mod:`.writers`), keeps on
    its row the sums it reads back of what it wrote, and marks itself done.
``settlement_run_finish`` (task, chord body)
    Fails the run if a chunk is not done; otherwise checks conservation
    (:mod:`.conservation`). A close then freezes the settlements (draft →
    closed), locks the agreement versions used, closes the period with its
    watermark and queues the statements and the month's scorecards.

The fan-out (what is queued when, and where tasks run) belongs to
:mod:`revenue.settlement.tasks`; the reads to :mod:`revenue.settlement.selectors`.
See docs/settlement.md for a close from the beat schedule to frozen settlements.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.periods import Period
from organisation.models import User
from revenue.ledger.models import AgreementVersion
from revenue.ledger.services.agreements import agreement_versions_lock
from revenue.settlement import aggregation
from revenue.settlement.aggregation import Window
from revenue.settlement.choices import (
    ACTIVE_RUN_STATES,
    PeriodState,
    RunKind,
    RunState,
    RunTrigger,
    SettlementState,
)
from revenue.settlement.errors import (
    InvalidState,
    NotPermitted,
    PeriodLocked,
    PeriodNotReady,
    RunInProgress,
    TaskQueueUnavailable,
)
from revenue.settlement.models import (
    Settlement,
    SettlementLine,
    SettlementPeriod,
    SettlementRun,
    SettlementRunChunk,
    SettlementRunFigure,
)
from revenue.settlement.selectors import latest_closed_period, run_window, settlement_run_partners
from revenue.settlement.services.computation import PartnerRange, compute_partners, no_cyclic_gc
from revenue.settlement.services.conservation import conservation_check
from revenue.settlement.services.writers import drafts_delete, settlements_write
from workspace.models import NotificationKind
from workspace.services import notify

logger = logging.getLogger(__name__)

# A run's steps as they complete, for whoever watches in this process (the command's progress bar when the
# tasks run in it): sent with ``run_id`` and ``phase``, "prepared" (chunks known), "chunk" (one more done)
# or "checked" (conservation held; the close is being frozen and its follow-up queued).
run_progressed = Signal()


def chunk_size() -> int:
    return settings.SETTLEMENT_CHUNK_PARTNERS


def _require(by: User | None, perm: str = "settlement.run_settlement") -> None:
    if by is not None and not by.has_perm(perm):
        raise NotPermitted(_("Only finance and head office run settlements."))


def _now():
    """The clock that decides whether a month has ended (one place, so tests can set it)."""
    return timezone.now()


def _period_row(period: Period) -> SettlementPeriod:
    row, _created = SettlementPeriod.objects.get_or_create(start=period.first_day)
    return row


# ---- start, resume -----------------------------------------------------------------------------


def close_checks(period: Period, row: SettlementPeriod) -> int:
    """Refuse a close that would break "every attribution settled exactly once"; returns the lower watermark."""
    if row.state == PeriodState.CLOSED:
        raise PeriodLocked(
            _(
                "%(period)s is closed (since %(date)s) and cannot be closed again. Late events and reversals "
                "settle as adjustments of the next period."
            )
            % {"period": period, "date": timezone.localtime(row.closed_at).strftime("%Y-%m-%d %H:%M")}
        )
    if _now() < period.end:
        raise PeriodNotReady(
            _("%(period)s has not ended yet; it can be closed from %(date)s (China time).")
            % {"period": period, "date": period.end.strftime("%Y-%m-%d %H:%M")}
        )
    latest = latest_closed_period()
    if latest is not None and latest.start > period.first_day:
        raise PeriodLocked(
            _(
                "Periods close in order and %(later)s is already closed, so %(period)s can no longer be "
                "closed; its late events settle as adjustments of the next open period."
            )
            % {"later": latest.period, "period": period}
        )
    first = aggregation.events_between(latest.period.end if latest else None, period.start)
    if first is not None:
        earlier = Period.containing(first)
        raise PeriodNotReady(
            _("%(earlier)s has transactions and is not closed yet: close it before %(period)s.")
            % {"earlier": earlier, "period": period}
        )
    return latest.close_watermark if latest else 0


def _create_run(**fields) -> SettlementRun:
    try:
        with transaction.atomic():
            return SettlementRun.objects.create(attempt=1, state=RunState.PENDING, **fields)
    except IntegrityError as exc:
        raise RunInProgress(
            _("A %(kind)s of %(period)s is already in progress.")
            % {"kind": RunKind(fields["kind"]).label, "period": fields["period"]}
        ) from exc


def _in_progress_message(run: SettlementRun):
    started = run.started_at or run.created_at
    return _("A %(kind)s of %(period)s is already running (run #%(id)s, started %(at)s).") % {
        "kind": run.get_kind_display(),
        "period": run.period,
        "id": run.pk,
        "at": timezone.localtime(started).strftime("%Y-%m-%d %H:%M:%S"),
    }


def settlement_run_start(
    *, period: Period, kind: str, by: User | None, trigger: str = RunTrigger.COMMAND
) -> SettlementRun:
    """Start an accrual (drafts, month to date) or the month-end close of a period; the work is queued on commit.

    ``by`` None is the system (the beat schedule). Raises ``RunInProgress``
    when a run of that kind is already in progress, ``PeriodLocked`` or
    ``PeriodNotReady`` when the period cannot be settled now.
    """
    _require(by)
    kind = RunKind(kind)
    _task_queue_reachable()
    with transaction.atomic():
        row = _period_row(period)
        # The period row lock serialises starts: a second close waits here, then sees "closing".
        row = SettlementPeriod.objects.select_for_update(no_key=True).get(pk=row.pk)
        if kind == RunKind.CLOSE:
            if row.state == PeriodState.CLOSING:
                current = row.runs.filter(kind=RunKind.CLOSE).order_by("-pk").first()
                if current is not None and (current.state == RunState.FAILED or run_is_stalled(current)):
                    return _resume(current, by=by)
                raise RunInProgress(_in_progress_message(current) if current else _("%(period)s is being closed."))
            lower = close_checks(period, row)
            updated = SettlementPeriod.objects.filter(pk=row.pk, state=PeriodState.OPEN).update(
                state=PeriodState.CLOSING, lower_watermark=lower
            )
            if not updated:  # pragma: no cover - the row lock above makes this the database's last word
                raise RunInProgress(_("%(period)s is being closed by someone else.") % {"period": period})
        else:
            if row.state == PeriodState.CLOSED:
                raise PeriodLocked(_("%(period)s is closed; there is nothing left to accrue.") % {"period": period})
            if row.state == PeriodState.CLOSING:
                raise PeriodLocked(_("%(period)s is being closed; its accruals have stopped.") % {"period": period})
            active = row.runs.filter(kind=RunKind.ACCRUAL, state__in=ACTIVE_RUN_STATES).first()
            if active is not None:
                raise RunInProgress(_in_progress_message(active))
            # A failed accrual is superseded by the next one, never resumed: its figures can go.
            SettlementRunFigure.objects.filter(
                run__period=row, run__kind=RunKind.ACCRUAL, run__state=RunState.FAILED
            ).delete()
            latest = latest_closed_period()
            lower = latest.close_watermark if latest is not None and latest.start < row.start else 0
        run = _create_run(period=row, kind=kind, trigger=trigger, triggered_by=by, lower_watermark=lower)
        _prepare_dispatch(run)
    return run


def _task_queue_reachable() -> None:
    """Refuse to start a run the task queue could not take: nothing is written, and the period is not blocked.

    With tasks run in this process there is no queue to reach. A queue lost between this check and the
    commit leaves the run pending and unqueued; the run sweep queues it again (see ``tasks``).
    """
    from config.celery import app

    if app.conf.task_always_eager:
        return
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=5)
    except Exception as exc:
        logger.warning("task queue unreachable: %s", exc)
        raise TaskQueueUnavailable(
            _("The task queue cannot be reached, so the run was not started and nothing changed. Try again shortly.")
        ) from exc


def run_is_stalled(run: SettlementRun) -> bool:
    """Whether a pending or running run has shown no progress for longer than the longest task may run.

    A worker (or a ``run_settlement`` process) killed mid-run leaves its run in an active state that no
    one will move on; past this age it is taken for dead and may be resumed.
    """
    if run.state not in ACTIVE_RUN_STATES:
        return False
    last = run.heartbeat_at or run.started_at or run.created_at
    return timezone.now() - last > dt.timedelta(seconds=settings.CELERY_LONGEST_TASK_SECONDS)


# A pending run with no task id this long after its creation was never queued (the queue was lost at commit).
UNQUEUED_AFTER = dt.timedelta(minutes=2)


def settlement_runs_sweep() -> dict[str, int]:
    """Queue the runs that were never queued, and resume those whose worker died (see :func:`run_is_stalled`)."""
    queued = resumed = 0
    unqueued = list(
        SettlementRun.objects.filter(
            state=RunState.PENDING, celery_task_id="", created_at__lt=timezone.now() - UNQUEUED_AFTER
        )
    )
    for run in unqueued:
        with transaction.atomic():
            _prepare_dispatch(run)
        queued += 1
    for run in SettlementRun.objects.filter(state__in=ACTIVE_RUN_STATES).exclude(pk__in=[r.pk for r in unqueued]):
        if run_is_stalled(run):
            with transaction.atomic():
                _resume(run, by=None)
            resumed += 1
    if queued or resumed:
        logger.warning("settlement run sweep: %s queued again, %s stalled runs resumed", queued, resumed)
    return {"queued": queued, "resumed": resumed}


def _resume(run: SettlementRun, *, by: User | None) -> SettlementRun:
    try:
        with transaction.atomic():
            updated = SettlementRun.objects.filter(pk=run.pk, state__in=[*ACTIVE_RUN_STATES, RunState.FAILED]).update(
                state=RunState.PENDING, attempt=F("attempt") + 1, error="", finished_at=None
            )
    except IntegrityError as exc:
        raise RunInProgress(_("Another run of %(period)s is in progress.") % {"period": run.period}) from exc
    if not updated:
        raise InvalidState(_("Run #%(id)s has already completed.") % {"id": run.pk})
    run.refresh_from_db()
    logger.info("settlement run %s resumed (attempt %s) by %s", run.pk, run.attempt, by or "the system")
    _prepare_dispatch(run)
    return run


def settlement_run_resume(*, run: SettlementRun, by: User | None) -> SettlementRun:
    """Carry on a failed (or stalled) run: its done chunks are kept, the others run again, then the final check.

    Safe whatever the run's state: chunks are idempotent and the final step of
    a superseded dispatch does nothing (``attempt``).
    """
    _require(by)
    with transaction.atomic():
        current = (
            SettlementRun.objects.select_for_update(no_key=True, of=("self",)).select_related("period").get(pk=run.pk)
        )
        if current.state == RunState.COMPLETED:
            raise InvalidState(_("Run #%(id)s has already completed.") % {"id": current.pk})
        if current.kind == RunKind.CLOSE and current.period.state == PeriodState.CLOSED:
            raise PeriodLocked(_("%(period)s is already closed.") % {"period": current.period})
        return _resume(current, by=by)


def _prepare_dispatch(run: SettlementRun) -> None:
    from revenue.settlement.tasks import settlement_run_prepare_dispatch

    settlement_run_prepare_dispatch(run)


def _chunks_dispatch(run_id: int, attempt: int) -> None:
    from revenue.settlement.tasks import settlement_run_chunks_dispatch

    settlement_run_chunks_dispatch(run_id, attempt)


# ---- prepare: watermark, one aggregation, chunks ----------------------------------------------


def run_timings_record(run_id: int, **seconds: float) -> None:
    """Add phase timings (seconds) to the run's record."""
    run = SettlementRun.objects.get(pk=run_id)
    timings = {**run.timings, **{k: round(v, 3) for k, v in seconds.items()}}
    SettlementRun.objects.filter(pk=run_id).update(timings=timings)


def _chunk_ranges(partner_ids: list[int], size: int) -> list[tuple[int, int | None, int]]:
    """Contiguous ranges ``(after, upto]`` covering every id (the last one open-ended), with their partner counts."""
    ranges = []
    after = 0
    for start in range(0, len(partner_ids), size):
        part = partner_ids[start : start + size]
        last = start + size >= len(partner_ids)
        upto = None if last else part[-1]
        ranges.append((after, upto, len(part)))
        after = part[-1]
    return ranges


def side_by_side_connections() -> int:
    """How many connections this process may use side by side for a run (PostgreSQL; see the setting)."""
    if connection.vendor != "postgresql":
        return 1
    return settings.SETTLEMENT_CONNECTIONS


def _aggregate_on_two_connections() -> bool:
    """Whether the aggregation may take a second connection (see :func:`aggregation.figures_insert`).

    Only from the outermost transaction: another connection sees committed rows only, and within a
    caller's transaction the ledger rows it reads might not be.
    """
    return side_by_side_connections() > 1 and len(connection.atomic_blocks) == 1


def settlement_run_prepare(*, run_id: int, attempt: int) -> bool:
    """Watermark, aggregation and chunks of a run (each done once), then queue the chunks. False if superseded."""
    now = timezone.now()
    claimed = SettlementRun.objects.filter(pk=run_id, attempt=attempt, state__in=ACTIVE_RUN_STATES).update(
        state=RunState.RUNNING, started_at=Coalesce(F("started_at"), now), heartbeat_at=now
    )
    if not claimed:
        return False
    started = time.monotonic()
    run = SettlementRun.objects.select_related("period").get(pk=run_id)
    if run.watermark is None:
        with transaction.atomic():
            watermark = aggregation.watermark_take()
            SettlementRun.objects.filter(pk=run_id, watermark__isnull=True).update(watermark=watermark)
        run_timings_record(run_id, watermark=time.monotonic() - started)
        run.refresh_from_db()
    if not run.chunks.exists():
        aggregated = time.monotonic()
        with transaction.atomic():
            # Two deliveries of this task: the second waits here and then finds the chunks. A no-key lock:
            # the aggregation's second connection writes figure rows whose foreign key to the run takes a
            # key-share lock on it, which a plain FOR UPDATE held here would block for good.
            run = (
                SettlementRun.objects.select_for_update(no_key=True, of=("self",))
                .select_related("period")
                .get(pk=run_id)
            )
            if not run.chunks.exists():
                SettlementRunFigure.objects.filter(run=run).delete()
                aggregation.figures_insert(
                    run_id=run.pk, window=run_window(run), two_connections=_aggregate_on_two_connections()
                )
                partner_ids = settlement_run_partners(run)
                SettlementRunChunk.objects.bulk_create(
                    SettlementRunChunk(run=run, number=n, after_partner_id=after, upto_partner_id=upto, partners=count)
                    for n, (after, upto, count) in enumerate(_chunk_ranges(partner_ids, chunk_size()), start=1)
                )
                SettlementRun.objects.filter(pk=run_id).update(
                    chunks_total=(len(partner_ids) + chunk_size() - 1) // chunk_size(),
                    partners_count=len(partner_ids),
                )
        run_timings_record(run_id, aggregate=time.monotonic() - aggregated)
    run_progressed.send(sender=SettlementRun, run_id=run_id, phase="prepared")
    _chunks_dispatch(run_id, attempt)
    return True


# ---- chunks ----------------------------------------------------------------------------------


def _period_still_open_for_accrual(run: SettlementRun) -> None:
    """An accrual writes drafts only while its period is open (the close's start waits for this share lock)."""
    with connection.cursor() as cursor:
        lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
        cursor.execute(f"SELECT state FROM {SettlementPeriod._meta.db_table} WHERE id = %s{lock}", [run.period_id])  # noqa: S608
        state = cursor.fetchone()[0]
    if state != PeriodState.OPEN:
        raise PeriodLocked(_("%(period)s is being closed; this accrual stopped.") % {"period": run.period})


def _chunk_settle(run: SettlementRun, window: Window, partners: PartnerRange, *, computed_at) -> tuple[int, int]:
    """Compute and write the chunk's draft settlements; returns (settlements, lines)."""
    cache_key = (run.pk, run.attempt, run.created_at)
    with no_cyclic_gc():
        rows = aggregation.run_figures_fetch(run_id=run.pk, partners=partners.sql("partner_id"))
        drafts = compute_partners(
            window=window, period_row=run.period, figure_rows=rows, partners=partners, cache_key=cache_key
        )
        written = settlements_write(drafts, run=run, window=window, computed_at=computed_at)
        del rows, drafts  # freed before the collector resumes, which then has nothing of the chunk to scan
    return written


def settlement_run_chunk_execute(*, run_id: int, number: int) -> bool:
    """Settle one chunk of partners (idempotent, see the module docstring). False when there was nothing to do."""
    started = time.monotonic()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # No wait for the disk flush at this commit: a chunk lost in a database crash has lost its
            # "done" flag with it, so the final step fails the run and a resume writes the chunk again;
            # the final step's own (synchronous) commit makes every earlier chunk durable.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        chunk = SettlementRunChunk.objects.select_for_update(no_key=True).get(run_id=run_id, number=number)
        if chunk.done:
            return False
        run = SettlementRun.objects.select_related("period").get(pk=run_id)
        if run.state != RunState.RUNNING:
            return False
        if run.kind == RunKind.ACCRUAL:
            _period_still_open_for_accrual(run)
        window = run_window(run)
        partners = PartnerRange(after=chunk.after_partner_id, upto=chunk.upto_partner_id)
        drafts_delete(run.period_id, partners)
        now = timezone.now()
        settlements, lines = _chunk_settle(run, window, partners, computed_at=now)
        chunk.done, chunk.done_at, chunk.error = True, now, ""
        chunk.attempts += 1
        chunk.settlements, chunk.lines = settlements, lines
        chunk.written_sums = aggregation.written_sums(run_id=run.pk, partners=partners.sql("partner_id"))
        chunk.seconds = round(time.monotonic() - started, 3)
        chunk.save()
        # Last statement of the transaction: the run row is locked for as short as possible.
        SettlementRun.objects.filter(pk=run_id).update(
            chunks_done=F("chunks_done") + 1,
            settlements_count=F("settlements_count") + settlements,
            lines_count=F("lines_count") + lines,
            heartbeat_at=now,
        )
    run_progressed.send(sender=SettlementRun, run_id=run_id, phase="chunk")
    return True


def settlement_run_chunk_failed(*, run_id: int, number: int, error: str) -> None:
    """Record why a chunk failed (its transaction was rolled back: nothing of it was written)."""
    SettlementRunChunk.objects.filter(run_id=run_id, number=number, done=False).update(
        error=error[:2000], attempts=F("attempts") + 1
    )
    SettlementRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now())


# ---- finish: conservation, close -------------------------------------------------------------


def _fail(run_id: int, attempt: int, message: str) -> None:
    SettlementRun.objects.filter(pk=run_id, attempt=attempt, state=RunState.RUNNING).update(
        state=RunState.FAILED, error=message, finished_at=timezone.now()
    )
    logger.error("settlement run %s failed: %s", run_id, message)


def _after_close(period: Period, period_id: int) -> None:
    """Queue, on commit, the period's statements (one task per settlement) and the month's scorecards."""
    if settings.SETTLEMENT_ISSUE_STATEMENTS:
        from revenue.statements.tasks import statements_generate_for_period_task

        transaction.on_commit(lambda: statements_generate_for_period_task.delay(period_id))
    try:
        from performance.tasks import performance_after_month_close
    except ImportError:  # pragma: no cover - performance control is optional for settlement
        return
    if settings.SETTLEMENT_BUILD_SCORECARDS:
        performance_after_month_close(month=period.first_day)


def settlement_run_finish(*, run_id: int, attempt: int) -> SettlementRun | None:
    """The chord's final step (see the module docstring). None when this dispatch was superseded."""
    started = time.monotonic()
    run = SettlementRun.objects.select_related("period").get(pk=run_id)
    if run.attempt != attempt or run.state != RunState.RUNNING:
        return None
    queued = run.timings.get("chunks_queued_at")
    chunks_wall = round(time.time() - queued, 3) if queued else None
    undone = list(run.chunks.filter(done=False).order_by("number"))
    if undone:
        reason = next((c.error for c in undone if c.error), "")
        _fail(
            run_id,
            attempt,
            str(
                _("%(undone)s of %(total)s chunks did not complete (%(reason)s). Resume the run to finish them.")
                % {"undone": len(undone), "total": run.chunks_total, "reason": reason or _("no error recorded")}
            ),
        )
        return SettlementRun.objects.get(pk=run_id)
    window = run_window(run)
    aggregation.analyze_if_stale(Settlement._meta.db_table, SettlementLine._meta.db_table)
    report = conservation_check(run, window)
    checked = time.monotonic()
    if report.problems:
        _fail(run_id, attempt, str(_("Conservation check failed: ")) + " ".join(report.problems))
        return SettlementRun.objects.get(pk=run_id)
    run_progressed.send(sender=SettlementRun, run_id=run_id, phase="checked")
    with transaction.atomic():
        current = SettlementRun.objects.select_for_update(no_key=True).get(pk=run_id)
        if current.attempt != attempt or current.state != RunState.RUNNING:
            return None  # a concurrent delivery of this step finished first
        now = timezone.now()
        if run.kind == RunKind.CLOSE:
            used = AgreementVersion.objects.filter(pk__in=report.versions_used)
            agreement_versions_lock(versions=list(used), at=now)
            Settlement.objects.filter(run=run, state=SettlementState.DRAFT).update(
                state=SettlementState.CLOSED, closed_at=now, closed_by=run.triggered_by
            )
            closed = SettlementPeriod.objects.filter(pk=run.period_id, state=PeriodState.CLOSING).update(
                state=PeriodState.CLOSED, close_watermark=window.upper, closed_at=now, closed_by=run.triggered_by
            )
            if not closed:
                raise InvalidState(_("%(period)s is no longer being closed.") % {"period": run.period})
            _after_close(window.period, run.period_id)
            # Finance is told once per close that the period's settlements await approval.
            notify(kind=NotificationKind.SETTLEMENTS_AWAIT_APPROVAL, obj=run.period, by=run.triggered_by)
        SettlementRunFigure.objects.filter(run=run).delete()
        timings = {
            **{k: v for k, v in current.timings.items() if k != "chunks_queued_at"},
            "chunks": chunks_wall,
            "chunks_cpu": round(sum(run.chunks.values_list("seconds", flat=True), 0.0), 3),
            "check": round(checked - started, 3),
            "finish": round(time.monotonic() - started, 3),
        }
        if current.started_at:
            timings["total"] = round((now - current.started_at).total_seconds(), 3)
        SettlementRun.objects.filter(pk=run_id).update(
            state=RunState.COMPLETED,
            finished_at=now,
            heartbeat_at=now,
            attributions_count=report.ledger.count,
            inactive_count=report.ledger.inactive_count,
            bank_revenue_total=report.bank_revenue,
            share_total=report.shares,
            retained_total=report.retained,
            timings=timings,
            error="",
        )
    logger.info("settlement run %s completed: %s", run_id, timings)
    return SettlementRun.objects.get(pk=run_id)


def settlement_run_wait(
    run: SettlementRun, *, timeout: float = 3600, poll: float = 0.5, on_progress: Callable | None = None
):
    """Wait until a run is completed or failed (for the command with real workers); returns the fresh run."""
    deadline = time.monotonic() + timeout
    while True:
        current = SettlementRun.objects.select_related("period").get(pk=run.pk)
        if on_progress:
            on_progress(current)
        if current.state in (RunState.COMPLETED, RunState.FAILED) or time.monotonic() > deadline:
            return current
        time.sleep(poll)
