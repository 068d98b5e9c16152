"""Settlement runs: the nightly accrual and the month-end close, fanned out over Celery workers.

Lifecycle of a run (compare-and-swap updates; several workers report on one run)::

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
    Takes the watermark once (see :func:`aggregation.watermark_take`),
    aggregates the window once into figure rows (``INSERT … SELECT``; on
    PostgreSQL the two halves of the partners side by side on two
    connections), splits the partners into chunks and queues
    ``chord(chunks, finish)`` on commit. With tasks run in the process
    itself (no workers) on PostgreSQL, the chunks share out over
    ``SETTLEMENT_CONNECTIONS`` connections in threads instead.
    Everything it did is kept, so a retry skips it.
``settlement_run_chunk_execute`` (task, idempotent)
    In one transaction, with the chunk row locked: skips a chunk already
    done, else deletes the period's draft settlements of the chunk's partner
    range, computes and bulk-writes them again, and marks the chunk done. A
    task delivered twice, or re-run after a worker died, writes its rows once.
    The chunk reads its partners' figures, computes their settlements with
    the pure function of :mod:`revenue.settlement.compute` and bulk-writes
    them (COPY on PostgreSQL). Before it
    commits, the chunk reads back what it wrote, summed
    (:func:`aggregation.written_sums`), and keeps the sums on its row.
``settlement_run_finish`` (task, chord body)
    Fails the run if a chunk is not done; otherwise checks conservation
    (below). A close then freezes the settlements (draft → closed), locks the
    agreement versions used, closes the period with its watermark and queues
    the month's performance scorecards; the run completes.

Conservation, checked by every run before it completes (a failure fails the
run and the period is not closed): the ledger lines written (as the chunks
read them back) add back to the attributions of the window (as the run's one
aggregation summed them), to the fen and to the attribution (count),
separately for regular and adjustment lines, so no chunk lost or doubled a
partner; every corrected period's lines over all closes (earlier closes' read
from the database, this run's adjustments from the chunks' sums) add back to
that period's attributions read again from the ledger; no product line pays
out more than its revenue; and the settlement totals add back to their lines.
Shares + retained = settled bank revenue, where the bank retains what inactive
partners' attributions earned and the part of active ones' not shared.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from core.money import MoneySum, from_fen
from core.periods import Period
from organisation.models import User
from revenue.ledger.models import AgreementVersion
from revenue.ledger.services.agreements import agreement_versions_lock
from revenue.settlement import aggregation
from revenue.settlement.aggregation import LedgerTotals, Window
from revenue.settlement.choices import (
    ACTIVE_RUN_STATES,
    DisputeState,
    LineKind,
    PeriodState,
    RunKind,
    RunState,
    RunTrigger,
    SettlementState,
)
from revenue.settlement.compute import SettlementDraft, line_texts, settlement_compute
from revenue.settlement.errors import (
    InvalidState,
    NotPermitted,
    PeriodLocked,
    PeriodNotReady,
    RunInProgress,
)
from revenue.settlement.models import (
    Settlement,
    SettlementDispute,
    SettlementLine,
    SettlementPeriod,
    SettlementRun,
    SettlementRunChunk,
    SettlementRunFigure,
)
from revenue.settlement.services.loading import (
    PartnerRange,
    minimum_payout,
    partner_inputs,
    previous_closed_period,
    product_order,
)

logger = logging.getLogger(__name__)

FROZEN = (SettlementState.CLOSED, SettlementState.APPROVED, SettlementState.PAID)


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


def latest_closed_period() -> SettlementPeriod | None:
    return SettlementPeriod.objects.filter(state=PeriodState.CLOSED).order_by("-start").first()


def run_window(run: SettlementRun) -> Window:
    """The attributions a run settles (see :mod:`revenue.settlement.aggregation`), from what the run recorded."""
    period = run.period.period
    if run.kind == RunKind.CLOSE:
        adjust_before = period.start
    else:
        # An accrual corrects only periods already closed when it started: the latest one
        # whose watermark is its lower bound (periods never reopen, so this is stable).
        previous = (
            SettlementPeriod.objects.filter(
                state=PeriodState.CLOSED, start__lt=period.first_day, close_watermark=run.lower_watermark
            )
            .order_by("-start")
            .first()
        )
        adjust_before = min(period.start, previous.period.end) if previous else None
    return Window(period=period, lower=run.lower_watermark or 0, upper=run.watermark or 0, adjust_before=adjust_before)


# ---- start, resume -----------------------------------------------------------------------------


def _close_checks(period: Period, row: SettlementPeriod) -> int:
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
    with transaction.atomic():
        row = _period_row(period)
        # The period row lock serialises starts: a second close waits here, then sees "closing".
        row = SettlementPeriod.objects.select_for_update(no_key=True).get(pk=row.pk)
        if kind == RunKind.CLOSE:
            if row.state == PeriodState.CLOSING:
                current = row.runs.filter(kind=RunKind.CLOSE).order_by("-pk").first()
                if current is not None and current.state == RunState.FAILED:
                    return _resume(current, by=by)
                raise RunInProgress(_in_progress_message(current) if current else _("%(period)s is being closed."))
            lower = _close_checks(period, row)
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
        _dispatch_prepare(run)
    return run


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
    _dispatch_prepare(run)
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


def _dispatch_prepare(run: SettlementRun) -> None:
    from revenue.settlement.tasks import settlement_run_prepare_task

    run_id, attempt = run.pk, run.attempt

    def send() -> None:
        result = settlement_run_prepare_task.delay(run_id, attempt)
        SettlementRun.objects.filter(pk=run_id, celery_task_id="").update(celery_task_id=result.id or "")

    transaction.on_commit(send)


# ---- prepare: watermark, one aggregation, chunks ----------------------------------------------


def _timings(run_id: int, **seconds: float) -> None:
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


def _partners_involved(run: SettlementRun) -> list[int]:
    ids = set(SettlementRunFigure.objects.filter(run=run).values_list("partner_id", flat=True).distinct())
    previous = previous_closed_period(run.period.period)
    if previous is not None:
        ids |= set(
            Settlement.objects.filter(period=previous, carried_forward=True).values_list("partner_id", flat=True)
        )
    ids |= set(
        SettlementDispute.objects.filter(adjust_period=run.period, state=DisputeState.RESOLVED).values_list(
            "settlement__partner_id", flat=True
        )
    )
    ids |= set(
        Settlement.objects.filter(period=run.period, state=SettlementState.DRAFT).values_list("partner_id", flat=True)
    )
    return sorted(ids)


def _connections() -> int:
    """How many connections this process may use side by side for a run (PostgreSQL; see the setting)."""
    if connection.vendor != "postgresql":
        return 1
    return settings.SETTLEMENT_CONNECTIONS


def _aggregate_on_two_connections() -> bool:
    """Whether the aggregation may take a second connection (see :func:`aggregation.figures_insert`).

    Only from the outermost transaction: another connection sees committed rows only, and within a
    caller's transaction the ledger rows it reads might not be.
    """
    return _connections() > 1 and len(connection.atomic_blocks) == 1


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
        _timings(run_id, watermark=time.monotonic() - started)
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
                partner_ids = _partners_involved(run)
                SettlementRunChunk.objects.bulk_create(
                    SettlementRunChunk(run=run, number=n, after_partner_id=after, upto_partner_id=upto, partners=count)
                    for n, (after, upto, count) in enumerate(_chunk_ranges(partner_ids, chunk_size()), start=1)
                )
                SettlementRun.objects.filter(pk=run_id).update(
                    chunks_total=(len(partner_ids) + chunk_size() - 1) // chunk_size(),
                    partners_count=len(partner_ids),
                )
        _timings(run_id, aggregate=time.monotonic() - aggregated)
    _dispatch_chunks(run_id, attempt)
    return True


def _dispatch_chunks(run_id: int, attempt: int) -> None:
    from celery import chord, group

    from revenue.settlement.tasks import settlement_run_chunk_task, settlement_run_finish_task

    numbers = list(SettlementRunChunk.objects.filter(run_id=run_id, done=False).values_list("number", flat=True))
    _timings(run_id, chunks_queued_at=time.time())

    def send() -> None:
        finish = settlement_run_finish_task.si(run_id, attempt)
        side_by_side = min(_connections(), len(numbers))
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
    from revenue.settlement.tasks import settlement_run_chunk_task

    try:
        settlement_run_chunk_task.apply(args=(run_id, number))
    finally:
        connection.close()


# ---- chunks ----------------------------------------------------------------------------------


def _period_still_open_for_accrual(run: SettlementRun) -> None:
    """An accrual writes drafts only while its period is open (the close's start waits for this share lock)."""
    with connection.cursor() as cursor:
        lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
        cursor.execute(f"SELECT state FROM {SettlementPeriod._meta.db_table} WHERE id = %s{lock}", [run.period_id])  # noqa: S608
        state = cursor.fetchone()[0]
    if state != PeriodState.OPEN:
        raise PeriodLocked(_("%(period)s is being closed; this accrual stopped.") % {"period": run.period})


def _delete_drafts(period_id: int, partners: PartnerRange) -> None:
    """Delete the range's draft settlements of the period and their lines, set-based.

    A month-end close replaces the last accrual's drafts: thousands of lines per chunk, which the
    ORM's delete would first read into objects. Nothing else names a draft (only closed settlements
    are disputed, issued as statements or carried forward); were something to, the database's
    references would refuse the delete and the chunk would fail.
    """
    condition, params = partners.sql("partner_id")
    drafts = (
        f"SELECT id FROM {Settlement._meta.db_table} "  # noqa: S608 - table names are constants
        f"WHERE period_id = %s AND state = '{SettlementState.DRAFT.value}' AND {condition}"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {SettlementLine._meta.db_table} WHERE settlement_id IN ({drafts})",  # noqa: S608
            [period_id, *params],
        )
        cursor.execute(f"DELETE FROM {Settlement._meta.db_table} WHERE id IN ({drafts})", [period_id, *params])  # noqa: S608


SETTLEMENT_COLUMNS = (
    "id",
    "partner_id",
    "period_id",
    "run_id",
    "state",
    "watermark_from",
    "watermark_to",
    "transaction_count",
    "bank_revenue",
    "share_total",
    "adjustment_total",
    "carried_in",
    "net",
    "vat_rate",
    "vat",
    "payable",
    "carried_forward",
    "computed_at",
    "payment_reference",
)
LINE_COLUMNS = (
    "settlement_id",
    "position",
    "kind",
    "product_id",
    "corrects_period",
    "carried_from_id",
    "dispute_id",
    "transaction_count",
    "net_count",
    "volume",
    "bank_revenue",
    "agreement_version_id",
    "rule_description",
    "effective_rate",
    "previous_share",
    "share",
    "description",
)


def _settlement_row(pk, d: SettlementDraft, *, run: SettlementRun, window: Window, computed_at) -> tuple:
    return (
        pk,
        d.partner_id,
        run.period_id,
        run.pk,
        SettlementState.DRAFT,
        window.lower,
        window.upper,
        d.transaction_count,
        d.bank_revenue,
        d.share_total,
        d.adjustment_total,
        d.carried_in,
        d.net,
        d.vat_rate,
        d.vat,
        d.payable,
        d.carried_forward,
        computed_at,
        "",
    )


def _line_rows(settlement_ids, drafts: list[SettlementDraft]):
    for settlement_id, draft in zip(settlement_ids, drafts, strict=True):
        for line in draft.lines:
            figures = line.figures
            yield (
                settlement_id,
                line.position,
                line.kind,
                line.product_id,
                line.corrects_period,
                line.carried_from_id,
                line.dispute_id,
                figures.transaction_count,
                figures.net_count,
                figures.volume,
                figures.bank_revenue,
                line.version_id,
                line.rule_description,
                line.effective_rate,
                line.previous_share,
                line.share,
                line.description[:255],
            )


def _column_types(model, columns: tuple[str, ...]) -> list[str]:
    """The database types of a model's columns, without modifiers (``numeric(18, 2)`` → ``numeric``)."""
    fields = {f.column: f for f in model._meta.concrete_fields}
    return [fields[column].db_type(connection).split("(")[0] for column in columns]


def _copy(cursor, model, columns: tuple[str, ...], rows) -> int:
    count = 0
    with cursor.cursor.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
        # Each column's converter chosen once from its type, rather than from each value's Python type.
        copy.set_types(_column_types(model, columns))
        write_row = copy.write_row
        for row in rows:
            write_row(row)
            count += 1
    return count


def settlements_write(
    drafts: list[SettlementDraft], *, run: SettlementRun, window: Window, computed_at
) -> tuple[int, int]:
    """Bulk-write draft settlements and their lines; returns (settlements, lines).

    On PostgreSQL with ``COPY`` (settlement ids drawn from their sequence first,
    so the lines can name them); elsewhere with ``bulk_create``. Both write the
    same rows.
    """
    if not drafts:
        return 0, 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Settlement._meta.db_table, len(drafts)],
            )
            ids = [row[0] for row in cursor.fetchall()]
            _copy(
                cursor,
                Settlement,
                SETTLEMENT_COLUMNS,
                (
                    _settlement_row(pk, d, run=run, window=window, computed_at=computed_at)
                    for pk, d in zip(ids, drafts, strict=True)
                ),
            )
            lines = _copy(cursor, SettlementLine, LINE_COLUMNS, _line_rows(ids, drafts))
        return len(ids), lines
    settlements = [
        Settlement(
            **dict(
                zip(
                    SETTLEMENT_COLUMNS[1:],
                    _settlement_row(None, d, run=run, window=window, computed_at=computed_at)[1:],
                    strict=True,
                )
            )
        )
        for d in drafts
    ]
    Settlement.objects.bulk_create(settlements, batch_size=1000)
    lines = [
        SettlementLine(**dict(zip(LINE_COLUMNS, row, strict=True)))
        for row in _line_rows([s.pk for s in settlements], drafts)
    ]
    SettlementLine.objects.bulk_create(lines, batch_size=2000)
    return len(settlements), len(lines)


@contextmanager
def _no_cyclic_gc():
    """Python's cycle collector paused while settlements are loaded, computed and written.

    A chunk makes a few hundred thousand small values (figures, rules, lines) that live until it is
    written and form no reference cycle: their reference counts free them, and the collector,
    triggered again and again as they pile up, would only scan them and the rest of the process
    for nothing (as it would once more on resuming, were they still alive). It is switched back on
    afterwards, and then collects whatever cycles were made meanwhile, unless it was off already:
    another chunk's thread, or the process, turned it off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def compute_partners(
    *,
    window: Window,
    period_row: SettlementPeriod | None,
    figure_rows,
    partners: PartnerRange,
    proposed=None,
    cache_key=None,
) -> list[SettlementDraft]:
    """Load and compute the settlements of a range of partners (shared by runs and dry runs)."""
    with translation.override(settings.LANGUAGE_CODE), _no_cyclic_gc():
        inputs = partner_inputs(
            window=window,
            period_row=period_row,
            figure_rows=figure_rows,
            partners=partners,
            proposed=proposed,
            cache_key=cache_key,
        )
        order = product_order()
        payout = minimum_payout()
        texts = line_texts(translation.get_language())
        drafts = (
            settlement_compute(partner=item, minimum_payout=payout, product_order=order, texts=texts) for item in inputs
        )
        return [d for d in drafts if d is not None]


def _chunk_settle(run: SettlementRun, window: Window, partners: PartnerRange, *, computed_at) -> tuple[int, int]:
    """Compute and write the chunk's draft settlements; returns (settlements, lines)."""
    cache_key = (run.pk, run.attempt, run.created_at)
    with _no_cyclic_gc():
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
        _delete_drafts(run.period_id, partners)
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
    return True


def settlement_run_chunk_failed(*, run_id: int, number: int, error: str) -> None:
    """Record why a chunk failed (its transaction was rolled back: nothing of it was written)."""
    SettlementRunChunk.objects.filter(run_id=run_id, number=number, done=False).update(
        error=error[:2000], attempts=F("attempts") + 1
    )
    SettlementRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now())


# ---- finish: conservation, close -------------------------------------------------------------


@dataclass
class ConservationReport:
    """The run's figures read from both sides; ``problems`` is empty when they add back exactly."""

    ledger: LedgerTotals
    lines_count: int
    lines_revenue: Decimal
    shares: Decimal
    corrected_periods: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # The agreement versions the run's lines applied (a close locks them).
    versions_used: list[int] = field(default_factory=list)

    @property
    def bank_revenue(self) -> Decimal:
        return Decimal(self.ledger.fen) / 100

    @property
    def retained(self) -> Decimal:
        return self.bank_revenue - self.shares


def _fen(amount: Decimal | None) -> int:
    return int((amount or Decimal(0)) * 100)


def _line_totals(lines) -> tuple[int, Decimal, Decimal]:
    agg = lines.aggregate(count=Sum("transaction_count"), revenue=MoneySum("bank_revenue"), share=MoneySum("share"))
    zero = Decimal("0.00")
    return int(agg["count"] or 0), agg["revenue"] or zero, agg["share"] or zero


@dataclass
class _LineSums:
    count: int = 0
    revenue_fen: int = 0
    share_fen: int = 0

    def add(self, count: int, revenue_fen: int, share_fen: int) -> None:
        self.count += count
        self.revenue_fen += revenue_fen
        self.share_fen += share_fen


@dataclass
class _WrittenSums:
    """What the run's chunks wrote, as each read it back (see :func:`aggregation.written_sums`)."""

    by_kind: dict[str, _LineSums] = field(default_factory=dict)
    adjusted_by_month: dict[dt.date, _LineSums] = field(default_factory=dict)
    beyond: int = 0
    versions: set[int] = field(default_factory=set)
    settlements: _LineSums = field(default_factory=_LineSums)

    def kind(self, kind: str) -> _LineSums:
        return self.by_kind.get(kind, _LineSums())


def _written_sums(run: SettlementRun) -> _WrittenSums:
    total = _WrittenSums()
    for after, upto, sums in run.chunks.values_list("after_partner_id", "upto_partner_id", "written_sums"):
        if not sums:  # a chunk written before chunks kept their sums: read its rows back now
            partners = PartnerRange(after=after, upto=upto).sql("partner_id")
            sums = aggregation.written_sums(run_id=run.pk, partners=partners)
        for kind, month, version, _lines, count, revenue_fen, share_fen, beyond in sums.get("lines", []):
            total.by_kind.setdefault(kind, _LineSums()).add(count, revenue_fen, share_fen)
            if kind == LineKind.ADJUSTMENT and month:
                total.adjusted_by_month.setdefault(dt.date.fromisoformat(month), _LineSums()).add(
                    count, revenue_fen, share_fen
                )
            total.beyond += beyond
            if version is not None:
                total.versions.add(version)
        _settlements, count, revenue_fen = sums.get("settlements", (0, 0, 0))
        total.settlements.add(count, revenue_fen, 0)
    return total


def conservation_check(run: SettlementRun, window: Window) -> ConservationReport:
    """Compare the lines written with the window's totals and the corrected periods' ledger (see module docstring).

    The run's own lines are taken from the sums each chunk read back in its transaction; the
    corrected periods' lines of earlier closes are read from the database.
    """
    problems: list[str] = []
    regular_ledger, adjustment_ledger, corrected = aggregation.run_figures_totals(run.pk)
    ledger = regular_ledger + adjustment_ledger
    written = _written_sums(run)
    regular, adjusted = written.kind(LineKind.PRODUCT), written.kind(LineKind.ADJUSTMENT)
    for label, ledger_part, lines_part in (
        (_("regular"), regular_ledger, regular),
        (_("adjustment"), adjustment_ledger, adjusted),
    ):
        if ledger_part.active_count != lines_part.count or ledger_part.active_fen != lines_part.revenue_fen:
            problems.append(
                _(
                    "%(label)s lines hold %(count)s attributions and %(revenue)s of bank revenue; the ledger has "
                    "%(ledger_count)s and %(ledger_revenue)s."
                )
                % {
                    "label": label,
                    "count": lines_part.count,
                    "revenue": from_fen(lines_part.revenue_fen),
                    "ledger_count": ledger_part.active_count,
                    "ledger_revenue": from_fen(ledger_part.active_fen),
                }
            )
    for month in corrected:
        period = Period(month.year, month.month)
        source = aggregation.period_totals(period, upper=window.upper)
        # The month's lines of earlier closes (frozen: from the month itself up to this run's period),
        # plus this run's adjustments of it.
        earlier = SettlementLine.objects.filter(
            settlement__state__in=FROZEN,
            settlement__period__start__gte=month,
            settlement__period__start__lt=window.period.first_day,
        ).filter(
            Q(kind=LineKind.PRODUCT, settlement__period__start=month)
            | Q(kind=LineKind.ADJUSTMENT, corrects_period=month)
        )
        count, revenue, _share = _line_totals(earlier)
        now = written.adjusted_by_month.get(month, _LineSums())
        count, revenue_fen = count + now.count, _fen(revenue) + now.revenue_fen
        if source.active_count != count or source.active_fen != revenue_fen:
            problems.append(
                _(
                    "%(period)s: its lines over all closes hold %(count)s attributions and %(revenue)s; the ledger "
                    "has %(ledger_count)s and %(ledger_revenue)s."
                )
                % {
                    "period": period,
                    "count": count,
                    "revenue": from_fen(revenue_fen),
                    "ledger_count": source.active_count,
                    "ledger_revenue": from_fen(source.active_fen),
                }
            )
    if written.beyond:
        problems.append(_("%(count)s product lines share more than their bank revenue.") % {"count": written.beyond})
    if (
        written.settlements.count != regular.count + adjusted.count
        or written.settlements.revenue_fen != regular.revenue_fen + adjusted.revenue_fen
    ):
        problems.append(_("Settlement totals do not add back to their lines."))
    return ConservationReport(
        ledger=ledger,
        lines_count=regular.count + adjusted.count,
        lines_revenue=from_fen(regular.revenue_fen + adjusted.revenue_fen),
        shares=from_fen(regular.share_fen + adjusted.share_fen),
        corrected_periods=[str(Period(m.year, m.month)) for m in corrected],
        problems=[str(p) for p in problems],
        versions_used=sorted(written.versions),
    )


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
