"""The PostgreSQL fast path: COPY into a staging table, set-based checks, ``INSERT … SELECT`` into the ledger.

1. The rows are streamed with ``COPY`` (psycopg's ``cursor.copy``) into a
   temporary staging table of text columns: a file block by block, request
   rows serialised chunk by chunk. Each row gets its line number and a ledger
   id drawn from the transactions' sequence.
2. One set-based pass picks the rows that are plainly good: a normal event
   of one known partner and product, well-formed amounts and time, an
   external id that occurs once in the batch. Those rows are resolved
   (partner, product, branch, the partner's active period) and digested in
   the same pass into a second temporary table. The SQL checks are a strict
   subset of :func:`revenue.ingestion.rows.row_parse`: a row the SQL does not
   accept outright is not rejected here but handed to step 4.
3. Rows already booked with the same digest are duplicates; with another
   digest they go to step 4 (which reports the conflict). The rest are
   inserted into the ledger and its attributions with two ``INSERT … SELECT``.
4. Every remaining row (reversals, co-served events, ids repeated in the
   batch, conflicts, bad rows) is read back in line order through a
   server-side cursor and handled by the same :class:`ChunkProcessor` as on
   SQLite, so the verdict and every error message are the same on both.

Nothing here commits: the caller's transaction rolls everything back when
any row was bad. Memory stays flat: the file is streamed, the staging lives
in the database and step 4 reads in chunks.
"""

# The SQL here is assembled from this module's constant identifiers; values are always bound parameters.
# ruff: noqa: S608

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from django.db import connection

from revenue.ingestion.processor import ChunkProcessor, Original
from revenue.ingestion.rows import COLUMNS, MALFORMED, RowError, as_text, unknown_fields
from revenue.models import IngestionBatch, Transaction

STAGE = "revenue_ingest_stage"
GOOD = "revenue_ingest_good"
COPY_BLOCK = 1 << 20
ROWS_PER_WRITE = 5_000
SLOW_PATH_CHUNK = 2_000

# The same shapes as revenue.ingestion.rows (POSIX classes, [0-9] only).
AMOUNT_SQL = r"'^[0-9]{1,16}(\.[0-9]{1,2})?$'"
TIMESTAMP_SQL = (
    r"'^(2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]"
    r"(:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)?$'"
)
COPY_LINE_RE = re.compile(r"line (\d+)")

_TRIMMED = ", ".join(f"nullif(btrim({c}), '') AS {c}" for c in COLUMNS if c != "partner")

# Plainly good rows, resolved and digested (step 2). CASE keeps the casts behind their
# shape checks: PostgreSQL does not promise to evaluate AND operands in order.
SELECT_GOOD = f"""
CREATE TEMP TABLE {GOOD} AS
WITH t AS (
    SELECT line, id, upper(nullif(btrim(partner), '')) AS partner, {_TRIMMED}
    FROM {STAGE}
)
SELECT t.line, t.id, t.external_id, pa.id AS partner_id, pr.id AS product_id,
       coalesce(b.id, pa.branch_id) AS branch_id, t.sme_id, coalesce(t.sme_name, '') AS sme_name,
       t.amount::numeric(18, 2) AS amount, t.bank_revenue::numeric(18, 2) AS bank_revenue,
       t.occurred_at::timestamptz AS occurred_at,
       EXISTS (SELECT 1 FROM onboarding_partneractiveperiod ap
               WHERE ap.partner_id = pa.id AND ap.started_at <= t.occurred_at::timestamptz
                 AND (ap.ended_at IS NULL OR ap.ended_at > t.occurred_at::timestamptz)) AS partner_active,
       md5(concat_ws(chr(31), 'normal', '', t.partner || ':1.000000', t.sme_id, coalesce(t.sme_name, ''),
                     t.product, coalesce(t.branch, ''), t.amount::numeric(18, 2)::text,
                     t.bank_revenue::numeric(18, 2)::text, 'CNY',
                     (extract(epoch FROM t.occurred_at::timestamptz) * 1000000)::bigint::text))::uuid
           AS content_hash,
       false AS duplicate
FROM t
JOIN onboarding_partner pa ON pa.credit_code = t.partner
JOIN revenue_product pr ON pr.code = t.product
LEFT JOIN organisation_branch b ON b.code = t.branch
WHERE (t.kind IS NULL OR t.kind = 'normal') AND t.reverses IS NULL
  AND t.external_id IS NOT NULL AND length(t.external_id) <= 64
  AND t.sme_id IS NOT NULL AND length(t.sme_id) <= 64 AND coalesce(length(t.sme_name), 0) <= 128
  AND (t.branch IS NULL OR b.id IS NOT NULL)
  AND (t.currency IS NULL OR t.currency = 'CNY')
  AND t.amount ~ {AMOUNT_SQL} AND t.bank_revenue ~ {AMOUNT_SQL}
  AND CASE WHEN t.occurred_at ~ {TIMESTAMP_SQL}
           THEN substr(t.occurred_at, 9, 2)::int
                <= extract(day FROM (substr(t.occurred_at, 1, 7) || '-01')::date + interval '1 month - 1 day')
           ELSE false END
"""

# An external id named twice in the batch: all its rows take the slow path, in order.
DROP_REPEATED = f"""
DELETE FROM {GOOD} g USING (
    SELECT btrim(external_id) AS external_id FROM {STAGE} GROUP BY 1 HAVING count(*) > 1
) r WHERE g.external_id = r.external_id
"""
MARK_DUPLICATES = f"""
UPDATE {GOOD} g SET duplicate = true FROM revenue_transaction t
WHERE t.source = %(source)s AND t.external_id = g.external_id AND t.content_hash = g.content_hash
"""
DROP_CONFLICTS = f"""
DELETE FROM {GOOD} g USING revenue_transaction t
WHERE t.source = %(source)s AND t.external_id = g.external_id AND t.content_hash <> g.content_hash
"""
INSERT_TRANSACTIONS = f"""
INSERT INTO revenue_transaction (id, batch_id, source, external_id, kind, reverses_id, sme_id, sme_name, product_id,
    branch_id, amount, bank_revenue, currency, occurred_at, booked_at, partner_active, content_hash)
SELECT id, %(batch)s, %(source)s, external_id, 'normal', NULL, sme_id, sme_name, product_id,
    branch_id, amount, bank_revenue, 'CNY', occurred_at, %(booked_at)s, partner_active, content_hash
FROM {GOOD} WHERE NOT duplicate
"""
INSERT_ATTRIBUTIONS = f"""
INSERT INTO revenue_transactionattribution (transaction_id, partner_id, product_id, occurred_at, is_reversal, weight,
    amount, bank_revenue, partner_active)
SELECT id, partner_id, product_id, occurred_at, false, 1, amount, bank_revenue, partner_active
FROM {GOOD} WHERE NOT duplicate
"""
SLOW_ROWS = f"""
SELECT s.line, {", ".join("s." + c for c in COLUMNS)} FROM {STAGE} s
WHERE NOT EXISTS (SELECT 1 FROM {GOOD} g WHERE g.line = s.line)
ORDER BY s.line
"""


class _StagedProcessor(ChunkProcessor):
    """The slow path: like on SQLite, except that fast-path rows are already booked.

    A reversal may only name an event booked before the batch or earlier in
    it; the fast path books good rows ahead of the slow ones, so a target that
    comes later in the file is hidden from the reversal, as it would be when
    booking strictly in order.
    """

    def originals(self, external_ids: Sequence[str], *, before_row: Mapping[str, int]) -> dict[str, Original]:
        found = super().originals(external_ids, before_row=before_row)
        if not found:
            return found
        by_id = {original.id: ext for ext, original in found.items()}
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, line FROM {GOOD} WHERE id = ANY(%s)", [list(by_id)])
            for pk, line in cursor.fetchall():
                ext = by_id[pk]
                if line > before_row[ext]:
                    del found[ext]
        return found


class PostgresCopyEngine:
    """One batch through COPY and set-based SQL; see the module docstring."""

    def __init__(self, *, source: str, batch: IngestionBatch) -> None:
        self.source = source
        self.batch = batch
        self.errors: list[RowError] = []
        self.received = 0
        self.fast_created = 0
        self.fast_duplicates = 0
        self.processor: _StagedProcessor | None = None
        # A COPY that failed leaves the transaction aborted: nothing more can run in it.
        self.aborted = False
        self.last_number = 0

    # ---- staging ---------------------------------------------------------------------------

    def _create_stage(self, cursor, *, first_line: int) -> None:
        seq = Transaction._meta.db_table
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGE}")
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{GOOD}")
        # More memory for the hash joins and aggregates over the stage.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        columns = ", ".join(f"{c} text" for c in COLUMNS)
        cursor.execute(
            f"""CREATE TEMP TABLE {STAGE} (
                line bigint GENERATED BY DEFAULT AS IDENTITY (START WITH {int(first_line)}),
                id bigint NOT NULL DEFAULT nextval(pg_get_serial_sequence('{seq}', 'id')),
                {columns}
            ) ON COMMIT DROP"""
        )

    def stage_file(self, stream: IO[bytes], columns: Sequence[str]) -> None:
        """COPY a CSV body (the header already read) whose first data line is line 2."""
        with connection.cursor() as cursor:
            self._create_stage(cursor, first_line=2)
            try:
                with cursor.copy(f"COPY {STAGE} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy:
                    while block := stream.read(COPY_BLOCK):
                        copy.write(block)
            except Exception as exc:
                self.errors.append(_copy_error(exc, header_lines=1))
                self.aborted = True
                return
            cursor.execute(f"SELECT count(*) FROM {STAGE}")
            self.received = cursor.fetchone()[0]

    def stage_rows(self, rows: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
        """COPY rows given as ``(number, {column: value})``."""
        with connection.cursor() as cursor:
            self._create_stage(cursor, first_line=1)
            try:
                self._copy_rows(cursor, rows)
            except Exception as exc:  # e.g. text PostgreSQL cannot store; the transaction is now aborted
                self.errors.append(RowError(self.last_number, "", "malformed", {"detail": str(exc).splitlines()[0]}))
                self.aborted = True

    def _copy_rows(self, cursor, rows: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        columns = ", ".join(COLUMNS)
        with cursor.copy(f"COPY {STAGE} (line, {columns}) FROM STDIN (FORMAT csv)") as copy:
            for number, raw in rows:
                self.last_number = number
                self.received += 1
                if MALFORMED in raw:
                    self.errors.append(RowError(number, "", "malformed", {"detail": raw[MALFORMED]}))
                    continue
                values = [as_text(raw.get(c)) for c in COLUMNS]
                problems = [RowError(number, key, "unknown_field", {"columns": columns}) for key in unknown_fields(raw)]
                problems += [
                    RowError(number, c, "invalid_text")
                    for c, v in zip(COLUMNS, values, strict=True)
                    if v is not None and "\x00" in v
                ]
                if problems:
                    # Rows the database cannot hold are reported here and kept out of the stage.
                    self.errors.extend(problems)
                    continue
                writer.writerow([number, *values])
                if self.received % ROWS_PER_WRITE == 0:
                    copy.write(buffer.getvalue())
                    buffer.seek(0)
                    buffer.truncate()
            copy.write(buffer.getvalue())

    # ---- checking and booking --------------------------------------------------------------

    def run(self) -> None:
        if self.aborted:
            return
        params = {"source": self.source, "batch": self.batch.pk, "booked_at": self.batch.received_at}
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {STAGE}")
            # Naive times in the rows are Beijing time. Only for this statement: Django reads
            # timestamps assuming the session's zone is UTC.
            cursor.execute("SELECT current_setting('TimeZone'), set_config('TimeZone', 'Asia/Shanghai', true)")
            session_zone = cursor.fetchone()[0]
            try:
                cursor.execute(SELECT_GOOD)
            finally:
                cursor.execute("SELECT set_config('TimeZone', %s, true)", [session_zone])
            cursor.execute(DROP_REPEATED)
            cursor.execute(MARK_DUPLICATES, params)
            self.fast_duplicates = cursor.rowcount
            cursor.execute(DROP_CONFLICTS, params)
            cursor.execute(INSERT_TRANSACTIONS, params)
            self.fast_created = cursor.rowcount
            cursor.execute(INSERT_ATTRIBUTIONS, params)
        self._slow_path()
        self.errors.sort(key=lambda e: e.row)

    def _slow_path(self) -> None:
        processor = self.processor = _StagedProcessor(source=self.source, batch=self.batch)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {STAGE} WHERE btrim(kind) = 'reversal')")
            if cursor.fetchone()[0]:
                # Reversals look their originals' lines up by id (see _StagedProcessor).
                cursor.execute(f"CREATE INDEX ON {GOOD} (id)")
        raw_conn = connection.connection
        with raw_conn.cursor(name="revenue_ingest_slow") as named:
            named.itersize = SLOW_PATH_CHUNK
            named.execute(SLOW_ROWS)
            while rows := named.fetchmany(SLOW_PATH_CHUNK):
                processor.process([(row[0], dict(zip(COLUMNS, row[1:], strict=True))) for row in rows])
        self.errors.extend(processor.errors)

    @property
    def created(self) -> int:
        return self.fast_created + (self.processor.created if self.processor else 0)

    @property
    def duplicates(self) -> int:
        return self.fast_duplicates + (self.processor.duplicates if self.processor else 0)

    @property
    def error_count(self) -> int:
        extra = self.processor.error_count - len(self.processor.errors) if self.processor else 0
        return len(self.errors) + extra


def _copy_error(exc: Exception, *, header_lines: int) -> RowError:
    """A file PostgreSQL cannot read as CSV: where and why, as a row error."""
    diag = getattr(exc, "diag", None) or getattr(getattr(exc, "__cause__", None), "diag", None)
    detail = (diag.message_primary if diag else None) or str(exc).splitlines()[0]
    context = (diag.context if diag else None) or ""
    match = COPY_LINE_RE.search(context)
    row = int(match.group(1)) + header_lines if match else header_lines
    return RowError(row, "", "malformed", {"detail": detail})
