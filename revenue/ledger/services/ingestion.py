"""Booking transactions from source systems: one service behind the REST API, the admin import and the command.

Guarantees, whatever the way in and the database:

* **All or nothing.** A batch with any bad row is rejected whole with every
  bad row's number and reason (:class:`~revenue.ledger.errors.IngestionRejected`);
  nothing is written, not even the batch record.
* **Idempotent.** A row whose (source, external id) is already booked with
  the same content is counted as a duplicate and not booked again; with
  different content it is a bad row ("already received with different content").
* **One engine.** Every row, whatever the way in and the database, is read
  and checked by :func:`revenue.ledger.ingestion.rows.row_parse` and booked by
  :class:`revenue.ledger.ingestion.processor.ChunkProcessor`; a file is read with
  Python's csv module, never handed to the database as text.
* **Set-based.** References (partners, products, branches, booked ids,
  reversed originals, active periods) are looked up in bulk per chunk, never
  per row; the writes are bulk (``COPY`` on PostgreSQL). Memory does not grow
  with the batch.

Rows are mappings of the columns in :mod:`revenue.ledger.ingestion.rows`, numbered
as the sender sees them: the position in a request (from 1), the line of a
file (the header is line 1, so data starts at 2).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.metrics import ingestion_refused_count
from organisation.models import User
from revenue.ledger.choices import IngestionChannel
from revenue.ledger.errors import ConcurrentChange, IngestionRejected, NotPermitted, SameFileIngested, UnknownSource
from revenue.ledger.ingestion.processor import ChunkProcessor
from revenue.ledger.ingestion.rows import COLUMNS, MALFORMED, REQUIRED_COLUMNS, RowError
from revenue.ledger.models import IngestionBatch, SourceSystem

CHUNK_SIZE = 10_000
BOM = codecs.BOM_UTF8
# A header names at most a dozen short columns: a longer first line is refused before it is read whole.
HEADER_MAX_BYTES = 4096
# The first key of the advisory locks that serialise one source's batches (the second is the source's hash).
SOURCE_BATCH_LOCK = 0x1ED6E5
# The constraints a batch booked at the same moment as another one of its source can run into.
RACE_CONSTRAINTS = ("ledger_transaction_source_external_id", "ledger_transaction_reversed_once")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestionResult:
    """What an accepted batch did."""

    batch: IngestionBatch
    received: int
    created: int
    duplicates: int

    def as_dict(self) -> dict[str, int]:
        return {
            "batch": self.batch.pk,
            "received": self.received,
            "created": self.created,
            "duplicates": self.duplicates,
        }


def _authorise(by: User | None, channel: str) -> None:
    if by is None:  # the system itself: the large-file command, the generator, demo data
        return
    perm = "ledger.ingest_transactions" if channel == IngestionChannel.API else "ledger.import_transactions"
    if not by.has_perm(perm):
        raise NotPermitted(_("You may not book transactions this way."))


def _check_source(source: str) -> str:
    """The code of a registered, active source system; refused otherwise."""
    code = (source or "").strip()
    system = SourceSystem.objects.filter(code=code).first()
    if system is None:
        raise UnknownSource(
            _("Unknown source system “%(code)s”: head office registers source systems before they send data.")
            % {"code": code}
        )
    if not system.is_active:
        raise UnknownSource(_("Source system “%(code)s” is no longer active.") % {"code": code})
    return system.code


@transaction.atomic
def source_system_register(*, code: str, name: str, user: User | None = None, by: User | None) -> SourceSystem:
    """Register a system that reports transactions (head office); ``user`` is the API account it posts with."""
    if by is not None and not by.has_perm("ledger.add_sourcesystem"):
        raise NotPermitted(_("Only head office registers source systems."))
    system = SourceSystem(code=code.strip(), name=name.strip(), user=user)
    system.full_clean()
    system.save()
    return system


def file_sha256(stream: IO[bytes]) -> str:
    """The SHA-256 of a seekable file, which is left rewound to where it was."""
    start = stream.tell()
    digest = hashlib.sha256()
    while block := stream.read(1 << 20):
        digest.update(block)
    stream.seek(start)
    return digest.hexdigest()


def _check_same_file(sha256: str, *, allow_same_file: bool) -> None:
    if not sha256 or allow_same_file:
        return
    earlier = IngestionBatch.objects.filter(sha256=sha256).order_by("pk").first()
    if earlier is not None:
        raise SameFileIngested(
            _(
                "This file was already booked as batch %(batch)s (%(source)s, %(date)s). Its rows would only be "
                "duplicates; to book it again anyway, say so explicitly."
            )
            % {
                "batch": earlier.pk,
                "source": earlier.source_id,
                "date": timezone.localtime(earlier.received_at).strftime("%Y-%m-%d %H:%M"),
            }
        )


def _new_batch(*, source: str, channel: str, filename: str, by: User | None, sha256: str) -> IngestionBatch:
    return IngestionBatch.objects.create(
        source_id=source,
        channel=channel,
        filename=filename[:255],
        sha256=sha256,
        received_by=by,
        received_at=timezone.now(),
    )


def _finish(batch: IngestionBatch, *, received: int, created: int, duplicates: int) -> IngestionResult:
    batch.rows_received, batch.rows_created, batch.rows_duplicate = received, created, duplicates
    batch.save(update_fields=["rows_received", "rows_created", "rows_duplicate"])
    return IngestionResult(batch=batch, received=received, created=created, duplicates=duplicates)


def _reject(errors: list[RowError], error_count: int) -> None:
    raise IngestionRejected(sorted(errors, key=lambda e: e.row), error_count=error_count)


def transactions_ingest(
    *,
    rows: Iterable[Mapping[str, Any]],
    source: str,
    by: User | None,
    channel: str = IngestionChannel.API,
    filename: str = "",
    first_row: int = 1,
    sha256: str = "",
    allow_same_file: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> IngestionResult:
    """Book a batch of rows (mappings of column → text), numbered from ``first_row``.

    Raises :class:`~revenue.ledger.errors.IngestionRejected` (nothing written) when
    any row is bad, ``NotPermitted`` when ``by`` may not book this way.
    """
    return transactions_ingest_numbered(
        rows=zip(itertools.count(first_row), rows),
        source=source,
        by=by,
        channel=channel,
        filename=filename,
        sha256=sha256,
        allow_same_file=allow_same_file,
        on_progress=on_progress,
    )


def transactions_ingest_numbered(
    *,
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    source: str,
    by: User | None,
    channel: str = IngestionChannel.API,
    filename: str = "",
    sha256: str = "",
    allow_same_file: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> IngestionResult:
    """:func:`transactions_ingest` for rows that carry their own numbers, as ``(number, row)``.

    ``sha256`` is the file's, when the rows come from a file: a file booked before is refused
    (:class:`~revenue.ledger.errors.SameFileIngested`) unless ``allow_same_file``. ``on_progress``
    is called with the number of rows received so far after each chunk (a command's progress bar).
    """
    _authorise(by, channel)
    source = _check_source(source)
    try:
        with transaction.atomic():
            _wait_for_other_batches_of(source)
            _check_same_file(sha256, allow_same_file=allow_same_file)
            batch = _new_batch(source=source, channel=channel, filename=filename, by=by, sha256=sha256)
            processor = ChunkProcessor(source=source, batch=batch)
            received = 0
            chunks = _chunks(rows, CHUNK_SIZE)
            while True:
                started = time.perf_counter()
                chunk = next(chunks, None)
                processor.seconds["read"] += time.perf_counter() - started
                if chunk is None:
                    break
                received += len(chunk)
                processor.process(chunk)
                if on_progress is not None:
                    on_progress(received)
            if processor.rejected:
                _reject(processor.errors, processor.error_count)
            result = _finish(batch, received=received, created=processor.created, duplicates=processor.duplicates)
            committing = time.perf_counter()
    except IngestionRejected as exc:
        ingestion_refused_count(channel=channel, rows=exc.error_count)
        raise
    except IntegrityError as exc:
        if not any(name in str(exc) for name in RACE_CONSTRAINTS):
            raise
        # Only where batches are not serialised (SQLite between processes): nothing of this batch was written.
        raise ConcurrentChange(
            _(
                "Another batch from this source booked some of these transactions at the same moment; nothing of "
                "this batch was booked. Send it again: what is booked now counts as duplicates."
            )
        ) from exc
    # The deferred foreign-key checks of every booked row run at the commit (nothing, inside an outer atomic).
    processor.seconds["commit"] += time.perf_counter() - committing
    _log_phases(result, processor.seconds)
    return result


def _wait_for_other_batches_of(source: str) -> None:
    """Book one source's batches one after another (PostgreSQL; on SQLite the rare race gets a clear refusal).

    A row sent twice at the same moment, or a second reversal of one event, then meets the committed
    first one as a later replay would: a duplicate, a conflict or "already reversed", never a unique
    violation. The lock is the transaction's and ends with it.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [SOURCE_BATCH_LOCK, source])


def _log_phases(result: IngestionResult, seconds: Mapping[str, float]) -> None:
    """One line saying where a batch's time went (reading, validation, look-ups, checks, writes)."""
    logger.info(
        "ingested %d rows of %s (batch %s): %s",
        result.received,
        result.batch.source_id,
        result.batch.pk,
        ", ".join(f"{phase} {value:.2f} s" for phase, value in seconds.items()),
    )


def transactions_ingest_csv(
    *,
    stream: IO[bytes],
    source: str,
    by: User | None,
    channel: str = IngestionChannel.FILE,
    filename: str = "",
    allow_same_file: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> IngestionResult:
    """Book a CSV file (UTF-8, a header row naming the columns), streamed.

    Read with the csv module chunk by chunk on every database. Line numbers in
    errors are the file's (the header is line 1; a row that spans lines is
    numbered by its first). A file booked before (same SHA-256) is refused
    unless ``allow_same_file``.
    """
    _authorise(by, channel)
    source = _check_source(source)
    sha256 = file_sha256(stream) if stream.seekable() else ""
    try:
        columns = _csv_header(stream)
    except IngestionRejected as exc:
        ingestion_refused_count(channel=channel, rows=exc.error_count)
        raise
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    return transactions_ingest_numbered(
        rows=_csv_rows(text, columns),
        source=source,
        by=by,
        channel=channel,
        filename=filename,
        sha256=sha256,
        allow_same_file=allow_same_file,
        on_progress=on_progress,
    )


def _csv_header(stream: IO[bytes]) -> list[str]:
    """The columns the header line names (lower case); a malformed or wrong header refuses the file."""
    header_line = stream.readline(HEADER_MAX_BYTES + 1)
    if len(header_line) > HEADER_MAX_BYTES:
        detail = _("the header line is longer than %(max)d bytes") % {"max": HEADER_MAX_BYTES}
        raise IngestionRejected([RowError(1, "", "malformed", {"detail": detail})])
    if header_line.startswith(BOM):
        header_line = header_line[len(BOM) :]
    try:
        header = next(csv.reader([header_line.decode("utf-8")]), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise IngestionRejected([RowError(1, "", "malformed", {"detail": _shown(str(exc), 200)})]) from exc
    columns = [c.strip(" ").lower() for c in header]
    problems = header_problems(columns)
    if problems:
        raise IngestionRejected(problems)
    return columns


def header_problems(columns: list[str]) -> list[RowError]:
    """A header must name known columns, each once, including the required ones."""
    problems = [
        RowError(
            1,
            _shown(column) or "?",
            "unknown_column",
            {"column": _shown(column) or "''", "columns": ", ".join(COLUMNS)},
        )
        for column in columns
        if column not in COLUMNS
    ]
    problems += [
        RowError(
            1,
            _shown(column),
            "malformed",
            {"detail": _("column %(column)s appears twice") % {"column": _shown(column)}},
        )
        for column in sorted({c for c in columns if columns.count(c) > 1})
    ]
    problems += [
        RowError(1, column, "missing_column", {"column": column})
        for column in REQUIRED_COLUMNS
        if column not in columns
    ]
    return problems


def _shown(text: str, limit: int = 64) -> str:
    """A file's text as an error message echoes it: cut short, so a hostile header cannot fill the page."""
    return text if len(text) <= limit else text[:limit] + "…"


def _csv_rows(text: IO[str], columns: list[str]) -> Iterator[tuple[int, dict[str, str | None]]]:
    """Rows of a CSV body as ``(line, row)``; a row with the wrong number of fields is reported, not guessed."""
    reader = csv.reader(text, strict=True)
    while True:
        line = reader.line_num + 2  # the header was line 1, read before this reader
        try:
            values = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            yield line, {MALFORMED: str(exc)}
            return
        if len(values) != len(columns):
            yield line, {MALFORMED: f"{len(values)} fields where the header has {len(columns)}"}
            continue
        yield line, dict(zip(columns, values, strict=True))


def _chunks(rows: Iterable[tuple[int, Mapping[str, Any]]], size: int) -> Iterator[list[tuple[int, Mapping[str, Any]]]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
