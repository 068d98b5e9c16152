"""The PostgreSQL fast path: COPY into a staging table, set-based checks, ``INSERT … SELECT`` into the ledger.

1. The rows are streamed with ``COPY`` (psycopg's ``cursor.copy``) into a
   temporary staging table of text columns: a file block by block, request
   rows serialised chunk by chunk. Each row gets its line number and a ledger
   id drawn from the transactions' sequence.
2. Set-based passes pick the rows that are plainly good: a normal event of
   one known partner, or of known partners with exactly written weights
   (co-served, split to the fen in SQL), a known product, well-formed amounts
   and time, an external id that occurs once in the batch or only in copies of
   the very same text (the first is booked, the copies are duplicates). Those
   rows are resolved (partners, product, branch, active periods) and digested
   into a second temporary table. The SQL checks are a strict subset of
   :func:`revenue.ingestion.rows.row_parse`: a row the SQL does not accept
   outright is not rejected here but handed to step 4.
3. Rows already booked with the same digest are duplicates; with another
   digest they go to step 4 (which reports the conflict). The rest are
   inserted into the ledger and its attributions with two ``INSERT … SELECT``.
4. Every remaining row (reversals, other repeated ids, conflicts, odd
   spellings, bad rows) is read back in line order through a
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
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from django.db import connection

from revenue.ingestion.processor import ChunkProcessor, Original
from revenue.ingestion.rows import COLUMNS, MALFORMED, RowError, as_text, unknown_fields
from revenue.models import IngestionBatch, Transaction

logger = logging.getLogger("revenue.ingestion")

STAGE = "revenue_ingest_stage"
GOOD = "revenue_ingest_good"
PERIODS = "revenue_ingest_periods"
CO_SHARES = "revenue_ingest_co_shares"
REPEATED_IDS = "revenue_ingest_repeated"
COPY_BLOCK = 1 << 20
ROWS_PER_WRITE = 5_000
SLOW_PATH_CHUNK = 5_000
# After booking this many rows in one go, refresh the ledger's statistics before the slow path's
# look-ups: a table the planner still believes small is scanned whole for each of them.
ANALYZE_AFTER = 50_000

# Where PostgreSQL says a COPY failed ("COPY revenue_ingest_stage, line 3, column amount: …").
COPY_LINE_RE = re.compile(r"line (\d+)")

# Active periods of every partner merged into disjoint islands, so that a row joins at most one.
MERGED_PERIODS = f"""
CREATE TEMP TABLE {PERIODS} ON COMMIT DROP AS
WITH p AS (
    SELECT partner_id, started_at, coalesce(ended_at, 'infinity'::timestamptz) AS ended_at
    FROM onboarding_partneractiveperiod
), reach AS (
    SELECT *, max(ended_at) OVER (PARTITION BY partner_id ORDER BY started_at, ended_at
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
    FROM p
), islands AS (
    SELECT *, count(*) FILTER (WHERE before IS NULL OR started_at > before)
                  OVER (PARTITION BY partner_id ORDER BY started_at, ended_at) AS island
    FROM reach
)
SELECT partner_id, min(started_at) AS started_at, max(ended_at) AS ended_at FROM islands GROUP BY partner_id, island
"""

# The canonical times the fast path takes (anything else is read by the slow path), with their
# ranges: 2026-10-08T14:30:00+08:00 (any offset up to ±14:59, or Z), or without an offset (Beijing).
_T = "s.occurred_at"
TIME_RE = (
    r"'^2[0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])?$'"
)
# The 29th to 31st exist only in some months (text comparisons on the two digits the pattern vouched for).
TIME_OK = f"""CASE WHEN {_T} ~ {TIME_RE} THEN
        substr({_T}, 9, 2) <= '28' COLLATE "C"
        OR (substr({_T}, 6, 2) = '02' AND substr({_T}, 9, 2) = '29'
            AND left({_T}, 4)::int % 4 = 0 AND (left({_T}, 4)::int % 100 <> 0 OR left({_T}, 4)::int % 400 = 0))
        OR (substr({_T}, 6, 2) IN ('04', '06', '09', '11') AND substr({_T}, 9, 2) <= '30' COLLATE "C")
        OR substr({_T}, 6, 2) IN ('01', '03', '05', '07', '08', '10', '12')
    ELSE false END"""
# Text the fast path stores as it is: nothing to trim, and short enough in bytes (so in characters too).
TEXT_OK = "({c} NOT LIKE ' %' AND {c} NOT LIKE '% ' AND octet_length({c}) <= {octets})"
AMOUNT_OK = "({c} ~ '^[0-9]+(\\.[0-9][0-9]?)?$' AND length(split_part({c}, '.', 1)) <= 16)"

# A row's own fields (everything but its partners) as the fast path takes them: a normal event with
# exact text, plain amounts and a canonical time. The checks are a strict subset of
# revenue.ingestion.rows; a row they do not accept outright goes to the slow path, which has the last word.
ROW_OK = f"""(s.kind IS NULL OR s.kind = 'normal') AND s.reverses IS NULL
      AND {TEXT_OK.format(c="s.external_id", octets=64)} AND octet_length(s.external_id) > 0
      AND {TEXT_OK.format(c="s.sme_id", octets=64)} AND octet_length(s.sme_id) > 0
      AND (s.sme_name IS NULL OR {TEXT_OK.format(c="s.sme_name", octets=128)})
      AND (s.currency IS NULL OR s.currency = 'CNY')
      AND {AMOUNT_OK.format(c="s.amount")} AND {AMOUNT_OK.format(c="s.bank_revenue")}
      AND {TIME_OK}"""
EPOCH_MICROSECONDS = "round(date_part('epoch', v.occurred_at) * 1000000)::bigint::text"


def _digest(shares: str) -> str:
    """The content digest of revenue.ingestion.rows.content_digest for a normal event, given its canonical shares."""
    return f"""md5(concat_ws(chr(31), 'normal', '', {shares}, v.sme_id, v.sme_name, v.product,
                     coalesce(v.branch, ''), v.amount::text, v.bank_revenue::text, 'CNY',
                     {EPOCH_MICROSECONDS}))::uuid"""


# Plainly good single-partner rows, resolved and digested (step 2). CASE keeps each cast behind its
# checks (PostgreSQL does not promise to evaluate AND operands in order). A co-served row has
# partner_id NULL here: its partners are in CO_SHARES.
SELECT_GOOD = f"""
CREATE TEMP TABLE {GOOD} ON COMMIT DROP AS
SELECT v.line, v.id, v.external_id, pa.id AS partner_id, pr.id AS product_id,
       coalesce(b.id, pa.branch_id) AS branch_id, v.sme_id, v.sme_name,
       v.amount, v.bank_revenue, v.occurred_at,
       ap.partner_id IS NOT NULL AS partner_active,
       {_digest("v.partner || ':1.000000'")} AS content_hash,
       coalesce(v.line > rp.first_line, false) AS duplicate
FROM (
    SELECT s.line, s.id, s.external_id, s.partner, s.product, s.branch, s.sme_id, coalesce(s.sme_name, '') AS sme_name,
           s.amount::numeric(18, 2) AS amount, s.bank_revenue::numeric(18, 2) AS bank_revenue,
           s.occurred_at::timestamptz AS occurred_at
    FROM {STAGE} s
    WHERE {ROW_OK}
    OFFSET 0  -- a fence: each cast is computed once per row, not once per use
) v
JOIN onboarding_partner pa ON pa.credit_code = v.partner
JOIN revenue_product pr ON pr.code = v.product
LEFT JOIN organisation_branch b ON b.code = v.branch
LEFT JOIN {PERIODS} ap ON ap.partner_id = pa.id AND ap.started_at <= v.occurred_at AND ap.ended_at > v.occurred_at
LEFT JOIN {REPEATED_IDS} rp ON rp.external_id = v.external_id
WHERE (v.branch IS NULL OR b.id IS NOT NULL) AND (rp.external_id IS NULL OR rp.identical)
"""

# Co-served rows written exactly ("CODE:0.5;CODE:0.5": known codes, each once, weights of at most
# six decimals in (0, 1] adding up to 1), split like revenue.calculations.split_exact: each partner
# the floor of its exact share in fen, the fen left over one each to the largest remainders (ties
# to the partner named first). Any other spelling goes to the slow path.
SELECT_CO_SHARES = f"""
CREATE TEMP TABLE {CO_SHARES} ON COMMIT DROP AS
WITH v AS (
    SELECT s.line, s.partner, s.amount::numeric(18, 2) AS amount, s.bank_revenue::numeric(18, 2) AS bank_revenue,
           s.occurred_at::timestamptz AS occurred_at
    FROM {STAGE} s
    WHERE s.partner LIKE '%;%' AND octet_length(s.partner) <= 1000 AND {ROW_OK}
    OFFSET 0
), parts AS (
    SELECT v.line, p.ord, p.part, split_part(p.part, ':', 1) AS code, split_part(p.part, ':', 2) AS weight_text,
           v.amount, v.bank_revenue, v.occurred_at
    FROM v CROSS JOIN LATERAL unnest(string_to_array(v.partner, ';')) WITH ORDINALITY AS p(part, ord)
), shares AS (
    SELECT parts.line, parts.ord, pa.id AS partner_id, pa.credit_code, pa.branch_id, parts.amount,
           parts.bank_revenue, parts.occurred_at,
           CASE WHEN parts.weight_text ~ '^[0-9](\\.[0-9]{{1,6}})?$'
                     AND parts.part = parts.code || ':' || parts.weight_text
                THEN parts.weight_text::numeric(7, 6) END AS weight
    FROM parts LEFT JOIN onboarding_partner pa ON pa.credit_code = parts.code
), good AS (
    SELECT line FROM shares GROUP BY line
    HAVING bool_and(partner_id IS NOT NULL AND weight IS NOT NULL AND weight > 0 AND weight <= 1) AND sum(weight) = 1
       AND count(DISTINCT partner_id) = count(*)
), exact AS (
    SELECT sh.*, sh.amount * 100 * sh.weight AS amount_exact, sh.bank_revenue * 100 * sh.weight AS revenue_exact
    FROM shares sh JOIN good USING (line)
), floors AS (
    SELECT e.*, floor(e.amount_exact) AS amount_fen, floor(e.revenue_exact) AS revenue_fen,
           e.amount * 100 - sum(floor(e.amount_exact)) OVER (PARTITION BY e.line) AS amount_left,
           e.bank_revenue * 100 - sum(floor(e.revenue_exact)) OVER (PARTITION BY e.line) AS revenue_left,
           row_number() OVER (PARTITION BY e.line ORDER BY e.amount_exact - floor(e.amount_exact) DESC, e.ord)
               AS amount_rank,
           row_number() OVER (PARTITION BY e.line ORDER BY e.revenue_exact - floor(e.revenue_exact) DESC, e.ord)
               AS revenue_rank
    FROM exact e
)
SELECT f.line, f.ord, f.partner_id, f.credit_code, f.branch_id, f.weight,
       f.amount AS total_amount, f.bank_revenue AS total_revenue, f.occurred_at,
       ((f.amount_fen + (f.amount_rank <= f.amount_left)::int) / 100)::numeric(18, 2) AS amount,
       ((f.revenue_fen + (f.revenue_rank <= f.revenue_left)::int) / 100)::numeric(18, 2) AS bank_revenue,
       ap.partner_id IS NOT NULL AS partner_active
FROM floors f
LEFT JOIN {PERIODS} ap
    ON ap.partner_id = f.partner_id AND ap.started_at <= f.occurred_at AND ap.ended_at > f.occurred_at
"""

# The co-served rows' transactions: branch by default the first partner's, active when all partners are.
INSERT_GOOD_CO_SERVED = f"""
INSERT INTO {GOOD}
SELECT v.line, v.id, v.external_id, NULL, pr.id, coalesce(b.id, c.first_branch_id), v.sme_id, v.sme_name,
       v.amount, v.bank_revenue, v.occurred_at, c.partner_active,
       {_digest("c.shares")}, coalesce(v.line > rp.first_line, false)
FROM (
    SELECT line, bool_and(partner_active) AS partner_active, min(branch_id) FILTER (WHERE ord = 1) AS first_branch_id,
           string_agg(credit_code || ':' || weight::text, ';' ORDER BY credit_code COLLATE "C") AS shares
    FROM {CO_SHARES} GROUP BY line
) c
JOIN (
    SELECT s.line, s.id, s.external_id, s.product, s.branch, s.sme_id, coalesce(s.sme_name, '') AS sme_name,
           c.amount, c.bank_revenue, c.occurred_at
    FROM {STAGE} s
    JOIN (SELECT DISTINCT line, total_amount AS amount, total_revenue AS bank_revenue, occurred_at FROM {CO_SHARES}) c
        USING (line)
) v ON v.line = c.line
JOIN revenue_product pr ON pr.code = v.product
LEFT JOIN organisation_branch b ON b.code = v.branch
LEFT JOIN {REPEATED_IDS} rp ON rp.external_id = v.external_id
WHERE (v.branch IS NULL OR b.id IS NOT NULL) AND (rp.external_id IS NULL OR rp.identical)
"""

# An external id named twice in the batch: when every occurrence is the very same text, the first is
# booked if good and the others are duplicates of it (as when booking in order); otherwise all its rows
# take the slow path, in order. Found before the checks, which then pick and flag those rows.
REPEATED = f"""
CREATE TEMP TABLE {REPEATED_IDS} ON COMMIT DROP AS
WITH r AS (SELECT btrim(external_id) AS external_id FROM {STAGE} GROUP BY 1 HAVING count(*) > 1)
SELECT r.external_id, min(s.line) AS first_line,
       count(DISTINCT ({", ".join("s." + c for c in COLUMNS)})) = 1 AS identical
FROM r JOIN {STAGE} s ON btrim(s.external_id) = r.external_id
GROUP BY r.external_id
"""
MARK_DUPLICATES = f"""
UPDATE {GOOD} g SET duplicate = true FROM revenue_transaction t
WHERE t.source = %(source)s AND t.external_id = g.external_id AND t.content_hash = g.content_hash AND NOT g.duplicate
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
# A single-partner row gives its one attribution; a co-served row one per partner, in the order named.
INSERT_ATTRIBUTIONS = f"""
INSERT INTO revenue_transactionattribution (transaction_id, partner_id, product_id, occurred_at, is_reversal, weight,
    amount, bank_revenue, partner_active)
SELECT id, partner_id, product_id, occurred_at, false, 1, amount, bank_revenue, partner_active
FROM {GOOD} WHERE NOT duplicate AND partner_id IS NOT NULL
UNION ALL (
    SELECT g.id, c.partner_id, g.product_id, g.occurred_at, false, c.weight, c.amount, c.bank_revenue, c.partner_active
    FROM {CO_SHARES} c JOIN {GOOD} g ON g.line = c.line
    WHERE NOT g.duplicate AND g.partner_id IS NULL
    ORDER BY c.line, c.ord
)
"""
FAST_DUPLICATES = f"SELECT count(*) FROM {GOOD} WHERE duplicate"
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

    TXN_COLUMNS = (
        "id",
        "batch_id",
        "source",
        "external_id",
        "kind",
        "reverses_id",
        "sme_id",
        "sme_name",
        "product_id",
        "branch_id",
        "amount",
        "bank_revenue",
        "currency",
        "occurred_at",
        "booked_at",
        "partner_active",
        "content_hash",
    )
    ATTRIBUTION_COLUMNS = (
        "transaction_id",
        "partner_id",
        "product_id",
        "occurred_at",
        "is_reversal",
        "weight",
        "amount",
        "bank_revenue",
        "partner_active",
    )

    def insert(self, items) -> None:
        """Book a chunk with two COPYs, ids drawn from the sequence first (no ORM per-row work)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Transaction._meta.db_table, len(items)],
            )
            for item, (pk,) in zip(items, cursor.fetchall(), strict=True):
                item.txn.id = pk
            for item in items:
                if item.reverses is not None:
                    item.txn.reverses_id = item.reverses.txn.id
            with cursor.copy(f"COPY revenue_transaction ({', '.join(self.TXN_COLUMNS)}) FROM STDIN") as copy:
                for item in items:
                    copy.write_row([getattr(item.txn, c) for c in self.TXN_COLUMNS])
            with cursor.copy(
                f"COPY revenue_transactionattribution ({', '.join(self.ATTRIBUTION_COLUMNS)}) FROM STDIN"
            ) as copy:
                for item in items:
                    for attribution in item.attributions:
                        attribution.transaction_id = item.txn.id
                        copy.write_row([getattr(attribution, c) for c in self.ATTRIBUTION_COLUMNS])


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
        self.timings: dict[str, float] = {}
        self._clock = time.monotonic()
        self.last_number = 0

    def _lap(self, phase: str) -> None:
        now = time.monotonic()
        self.timings[phase] = self.timings.get(phase, 0.0) + now - self._clock
        self._clock = now

    # ---- staging ---------------------------------------------------------------------------

    def _create_stage(self, cursor, *, first_line: int) -> None:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')::regclass::oid", [Transaction._meta.db_table])
        # The sequence by oid: resolving its name for every row would cost more than the COPY itself.
        sequence = int(cursor.fetchone()[0])
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGE}")
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{GOOD}")
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{PERIODS}")
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{CO_SHARES}")
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{REPEATED_IDS}")
        # More memory for the hash joins and aggregates over the stage.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        columns = ", ".join(f"{c} text" for c in COLUMNS)
        cursor.execute(
            f"""CREATE TEMP TABLE {STAGE} (
                line bigint GENERATED BY DEFAULT AS IDENTITY (START WITH {int(first_line)}),
                id bigint NOT NULL DEFAULT nextval({sequence}::regclass),
                {columns}
            ) ON COMMIT DROP"""
        )

    def stage_file(self, stream: IO[bytes], columns: Sequence[str]) -> None:
        """COPY a CSV body (the header already read) whose first data line is line 2."""
        self._clock = time.monotonic()
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
        self._lap("copy")

    def stage_rows(self, rows: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
        """COPY rows given as ``(number, {column: value})``."""
        self._clock = time.monotonic()
        with connection.cursor() as cursor:
            self._create_stage(cursor, first_line=1)
            try:
                self._copy_rows(cursor, rows)
            except Exception as exc:  # e.g. text PostgreSQL cannot store; the transaction is now aborted
                self.errors.append(RowError(self.last_number, "", "malformed", {"detail": str(exc).splitlines()[0]}))
                self.aborted = True
        self._lap("copy")

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
            cursor.execute(MERGED_PERIODS)
            cursor.execute(f"ANALYZE {PERIODS}")
            self._lap("analyze")
            cursor.execute(REPEATED)
            self._lap("repeated ids")
            # Naive times in the rows are Beijing time, for this statement only: Django reads
            # timestamps assuming the session's zone is UTC. And the many checks make the planner
            # expect a handful of rows and pick nested loops over the reference tables, where hash
            # joins are right for a batch of any size.
            cursor.execute("SELECT current_setting('TimeZone'), current_setting('enable_nestloop')")
            session = cursor.fetchone()
            cursor.execute(
                "SELECT set_config('TimeZone', 'Asia/Shanghai', true), set_config('enable_nestloop', 'off', true)"
            )
            try:
                cursor.execute(SELECT_GOOD)
                # Unnesting the partners of co-served rows takes a nested loop: refused, the planner would
                # price the plan so high that it compiles it (JIT), which costs seconds for a single row.
                cursor.execute("SELECT set_config('enable_nestloop', %s, true)", [session[1]])
                cursor.execute(SELECT_CO_SHARES)
                cursor.execute(f"ANALYZE {CO_SHARES}")
                cursor.execute(INSERT_GOOD_CO_SERVED)
            finally:
                cursor.execute(
                    "SELECT set_config('TimeZone', %s, true), set_config('enable_nestloop', %s, true)", session
                )
            self._lap("check")
            cursor.execute(DROP_CONFLICTS, params)
            cursor.execute(MARK_DUPLICATES, params)
            cursor.execute(FAST_DUPLICATES)
            self.fast_duplicates = cursor.fetchone()[0]
            self._lap("duplicates")
            cursor.execute(INSERT_TRANSACTIONS, params)
            self.fast_created = cursor.rowcount
            self._lap("insert transactions")
            cursor.execute(INSERT_ATTRIBUTIONS, params)
            self._lap("insert attributions")
            if self.fast_created >= ANALYZE_AFTER:
                cursor.execute(f"SELECT (SELECT count(*) FROM {STAGE}) > (SELECT count(*) FROM {GOOD})")
                if cursor.fetchone()[0]:  # some rows are left for the slow path
                    cursor.execute("ANALYZE revenue_transaction, revenue_transactionattribution")
                self._lap("analyze ledger")
        self._slow_path()
        self._lap("slow path")
        self.errors.sort(key=lambda e: e.row)
        logger.info(
            "ingested %s rows (%s fast, %s slow path): %s",
            self.received,
            self.fast_created + self.fast_duplicates,
            self.processor.created + self.processor.duplicates + self.processor.error_count,
            ", ".join(f"{phase} {seconds:.2f} s" for phase, seconds in self.timings.items()),
        )

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
