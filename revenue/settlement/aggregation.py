"""The set-based side of a settlement: one aggregation of a run's window, and the ledger totals it is checked against.

A run's *window* (see :mod:`revenue.settlement.models`) is

* regular: attributions that occurred in the period, ``id <= upper``;
* adjustments: attributions that occurred before ``adjust_before``, ``lower < id <= upper``.

Both parts are aggregated by one ``GROUP BY partner, product, corrected month,
active flag`` over the attribution table (which carries product, time and
flags, so no join). Money is summed as integer fen and the net count as
integer millionths, from the integer columns the database keeps on every
attribution: exact on PostgreSQL and on SQLite (which would sum decimals as
floating point), and on PostgreSQL integer sums cost a fraction of decimal
ones. The corrected month is the event's month in China time on both.
"""

from __future__ import annotations

# The SQL below is built from constant table names and vendor expressions; values are always parameters.
# ruff: noqa: S608
import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connection, transaction

from core.periods import Period
from onboarding.models import Partner
from revenue.ledger.models import TransactionAttribution
from revenue.settlement.models import Settlement, SettlementLine, SettlementPeriod, SettlementRunFigure

ATTRIBUTIONS = TransactionAttribution._meta.db_table
FIGURES = SettlementRunFigure._meta.db_table
LINES = SettlementLine._meta.db_table
SETTLEMENTS = Settlement._meta.db_table
PERIODS = SettlementPeriod._meta.db_table
PARTNERS = Partner._meta.db_table
FIGURE_COLUMNS = (
    "partner_id",
    "product_id",
    "corrects_period",
    "partner_active",
    "transaction_count",
    "net_count_micro",
    "volume_fen",
    "bank_revenue_fen",
    "reversal_count",
    "coserved_count",
    "coserved_net_micro",
)


@dataclass(frozen=True)
class Window:
    """The attributions a run settles (see the module docstring)."""

    period: Period
    lower: int
    upper: int
    # Adjustments are taken from attributions that occurred before this instant (None: no adjustments).
    adjust_before: dt.datetime | None

    @property
    def has_adjustments(self) -> bool:
        return self.adjust_before is not None and self.upper > self.lower


@dataclass(frozen=True)
class LedgerTotals:
    """Counts and bank revenue (fen) of a set of attributions, split by the partner's active flag."""

    active_count: int = 0
    active_fen: int = 0
    inactive_count: int = 0
    inactive_fen: int = 0

    def __add__(self, other: LedgerTotals) -> LedgerTotals:
        return LedgerTotals(
            self.active_count + other.active_count,
            self.active_fen + other.active_fen,
            self.inactive_count + other.inactive_count,
            self.inactive_fen + other.inactive_fen,
        )

    @property
    def count(self) -> int:
        return self.active_count + self.inactive_count

    @property
    def fen(self) -> int:
        return self.active_fen + self.inactive_fen


def _sql() -> dict[str, str]:
    """Vendor SQL: sums over the attributions' integer columns, and decimal sums of settlement lines as integers."""
    if connection.vendor == "postgresql":
        # ledger_int_sum (see the ledger migrations): a bigint sum in a bigint, which fails on overflow where
        # sum(bigint) would carry a 128-bit state into a numeric: a quarter of the aggregation's time.
        return {
            "revenue": "ledger_int_sum(bank_revenue_fen)",
            "volume": "ledger_int_sum(amount_fen)",
            "net_count": "ledger_int_sum(net_count_micro)",
            "fen": "(sum({}) * 100)::bigint",
            "micro": "(sum({}) * 1000000)::bigint",
            # Settlement lines' decimals as integers (exact: two and six places) summed in a bigint: for
            # groups of one or two lines, cheaper than a numeric sum's state per group.
            "line_sum": "ledger_int_sum({})",
            "line_fen": "ledger_int_sum(({} * 100)::bigint)",
            "line_micro": "ledger_int_sum(({} * 1000000)::bigint)",
            "month": "(date_trunc('month', occurred_at AT TIME ZONE 'Asia/Shanghai'))::date",
            # Whole counts of the rows' kinds, in the same pass: reversals, and co-served rows (weight below 1)
            # with what they add to the net count.
            "reversals": "count(*) FILTER (WHERE is_reversal)",
            "coserved": "count(*) FILTER (WHERE weight < 1)",
            "coserved_micro": "coalesce(ledger_int_sum(net_count_micro) FILTER (WHERE weight < 1), 0)",
            "no_month": "NULL::date",
        }
    # SQLite: integer fen per row, then an integer sum (exact, and an error on overflow); datetimes
    # are stored in UTC.
    return {
        "revenue": "sum(bank_revenue_fen)",
        "volume": "sum(amount_fen)",
        "net_count": "sum(net_count_micro)",
        "fen": "sum(CAST(ROUND({} * 100) AS INTEGER))",
        "micro": "sum(CAST(ROUND({} * 1000000) AS INTEGER))",
        "line_sum": "sum({})",
        "line_fen": "sum(CAST(ROUND({} * 100) AS INTEGER))",
        "line_micro": "sum(CAST(ROUND({} * 1000000) AS INTEGER))",
        "month": "date(occurred_at, '+8 hours', 'start of month')",
        "reversals": "sum(CASE WHEN is_reversal THEN 1 ELSE 0 END)",
        "coserved": "sum(CASE WHEN weight < 1 THEN 1 ELSE 0 END)",
        "coserved_micro": "sum(CASE WHEN weight < 1 THEN net_count_micro ELSE 0 END)",
        "no_month": "NULL",
    }


def _when(value: dt.datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _regular_select(window: Window, extra: str, extra_params: list) -> tuple[str, list]:
    sql = _sql()
    return (
        f"SELECT partner_id, product_id, {sql['no_month']}, partner_active, {_aggregates()} "
        f"FROM {ATTRIBUTIONS} WHERE occurred_at >= %s AND occurred_at < %s AND id <= %s{extra} "
        "GROUP BY partner_id, product_id, partner_active",
        [_when(window.period.start), _when(window.period.end), window.upper, *extra_params],
    )


def _aggregates() -> str:
    sql = _sql()
    return (
        f"count(*), {sql['net_count']}, {sql['volume']}, {sql['revenue']}, "
        f"{sql['reversals']}, {sql['coserved']}, {sql['coserved_micro']}"
    )


def figures_selects(
    window: Window, *, partner_id: int | None = None, partners: tuple[str, list] | None = None
) -> list[tuple[str, list]]:
    """The aggregation queries of a window (columns as :data:`FIGURE_COLUMNS`) with their parameters.

    Only one partner's figures with ``partner_id``, or a range's with ``partners`` (a condition on
    ``partner_id`` and its parameters). Regular and adjustment figures are two queries rather than
    one ``UNION ALL``: each is planned for its own part of the table (the month through the time
    index, the late events by id).
    """
    sql = _sql()
    if partner_id is not None:
        partners = ("partner_id = %s", [partner_id])
    extra, extra_params = (f" AND {partners[0]}", list(partners[1])) if partners else ("", [])
    aggregates = _aggregates()
    parts = [_regular_select(window, extra, extra_params)]
    if window.has_adjustments:
        parts.append(
            (
                f"SELECT partner_id, product_id, {sql['month']}, partner_active, {aggregates} "
                f"FROM {ATTRIBUTIONS} WHERE occurred_at < %s AND id > %s AND id <= %s{extra} "
                f"GROUP BY partner_id, product_id, {sql['month']}, partner_active",
                [_when(window.adjust_before), window.lower, window.upper, *extra_params],
            )
        )
    return parts


def figures_insert(*, run_id: int, window: Window, two_connections: bool = False) -> int:
    """Aggregate the window into the run's figure rows (``INSERT … SELECT``); returns the rows written.

    ``two_connections`` (PostgreSQL): the figures of the upper half of the partners are aggregated
    at the same time on a second connection, in a thread, and committed there (an ``INSERT`` never
    runs in parallel within PostgreSQL). That connection sees only committed rows, so the caller
    asks for it only when its own transaction is the outermost one; and if the caller's transaction
    then fails, the run's figures are deleted before they are written again.
    """
    if two_connections and connection.vendor == "postgresql":
        middle = _partner_id_middle()
        lower, upper = (
            figures_selects(window, partners=partner_range_sql("partner_id", after=after, upto=upto, only=None))
            for after, upto in ((0, middle), (middle, None))
        )
        with ThreadPoolExecutor(max_workers=1) as pool:
            other = pool.submit(_insert_committed, run_id, upper)
            written = _insert(run_id, lower)
            return written + other.result()
    return _insert(run_id, figures_selects(window))


def _insert(run_id: int, selects: list[tuple[str, list]]) -> int:
    columns = ", ".join(("run_id", *FIGURE_COLUMNS))
    written = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Enough memory to group in memory rather than sort on disk; no JIT: compiling the
            # expressions costs more than it saves on a million rows.
            cursor.execute("SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)")
        for select, params in selects:
            cursor.execute(f"INSERT INTO {FIGURES} ({columns}) SELECT %s, u.* FROM ({select}) u", [run_id, *params])
            written += cursor.rowcount
    return written


def _insert_committed(run_id: int, selects: list[tuple[str, list]]) -> int:
    """In a thread of its own: aggregations on the thread's own connection, committed, then closed."""
    try:
        with transaction.atomic():
            return _insert(run_id, selects)
    finally:
        connection.close()


def _partner_id_middle() -> int:
    """The median partner id: splits a month's attributions in two parts of about the same size."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY id) FROM {PARTNERS}")
        return int(cursor.fetchone()[0] or 0)


def figures_fetch(window: Window, *, partner_id: int | None = None) -> Iterator[tuple]:
    """The same aggregation, read instead of stored (dry runs): rows as :data:`FIGURE_COLUMNS`."""
    with connection.cursor() as cursor:
        for select, params in figures_selects(window, partner_id=partner_id):
            cursor.execute(select, params)
            while rows := cursor.fetchmany(5000):
                yield from _normalised(rows)


def _normalised(rows: list[tuple]) -> list[tuple]:
    """Figure rows with the same Python types on every database (PostgreSQL returns them so already)."""
    if connection.vendor == "postgresql":
        return rows
    return [_normalise(row) for row in rows]


def _normalise(row: tuple) -> tuple:
    partner_id, product_id, month, active, *figures = row
    if isinstance(month, str):  # SQLite returns the computed month as text
        month = dt.date.fromisoformat(month)
    elif isinstance(month, dt.datetime):
        month = month.date()
    return (partner_id, product_id, month, bool(active), *(int(value or 0) for value in figures))


def _totals(sql_text: str, params: list) -> LedgerTotals:
    with connection.cursor() as cursor:
        cursor.execute(sql_text, params)
        totals = LedgerTotals()
        for active, count, fen in cursor.fetchall():
            part = LedgerTotals(int(count), int(fen or 0)) if active else LedgerTotals(0, 0, int(count), int(fen or 0))
            totals = totals + part
        return totals


def run_figures_totals(run_id: int) -> tuple[LedgerTotals, LedgerTotals, list[dt.date]]:
    """Count and bank revenue of a run's window, regular and adjustments, and the months its adjustments correct.

    Summed from the run's stored figure rows: they are the window's one aggregation (every attribution
    of the window falls in exactly one row), so their sums are the ledger's totals of the window without
    scanning it a second time; the conservation check compares them with what the chunks wrote.
    """
    parts = {True: LedgerTotals(), False: LedgerTotals()}
    months: set[dt.date] = set()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT corrects_period, partner_active, sum(transaction_count), sum(bank_revenue_fen) "
            f"FROM {FIGURES} WHERE run_id = %s GROUP BY 1, 2",
            [run_id],
        )
        for month, active, count, fen in cursor.fetchall():
            count, fen = int(count or 0), int(fen or 0)
            part = LedgerTotals(count, fen) if active else LedgerTotals(0, 0, count, fen)
            parts[month is None] = parts[month is None] + part
            if month is not None:
                months.add(dt.date.fromisoformat(month) if isinstance(month, str) else month)
    return parts[True], parts[False], sorted(months)


def analyze_if_stale(*tables: str) -> None:
    """Fresh planner statistics for tables that grew several times over since the last ANALYZE.

    PostgreSQL only. A first close writes tens of thousands of rows into tables the planner still
    takes for empty, and then chooses nested loops for the conservation check (seconds instead of
    milliseconds). Later closes add a fraction of the table: autovacuum keeps up, nothing to do here.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            "WHERE s.relname = ANY(%s) AND s.n_mod_since_analyze > 4 * greatest(c.reltuples, 1000)",
            [list(tables)],
        )
        stale = [row[0] for row in cursor.fetchall()]
        if stale:
            cursor.execute(f"ANALYZE {', '.join(stale)}")


def period_totals(period: Period, *, upper: int) -> LedgerTotals:
    """Count and bank revenue of a month's attributions with ``id <= upper`` (the per-period check)."""
    revenue = _sql()["revenue"]
    return _totals(
        f"SELECT partner_active, count(*), {revenue} FROM {ATTRIBUTIONS} "
        "WHERE occurred_at >= %s AND occurred_at < %s AND id <= %s GROUP BY partner_active",
        [_when(period.start), _when(period.end), upper],
    )


def watermark_take() -> int:
    """The highest attribution id with no insert in flight below it.

    On PostgreSQL the table is locked in SHARE mode for the duration of this
    (short) transaction: SHARE conflicts with the ROW EXCLUSIVE lock an INSERT
    or COPY holds, so this waits for ingestions in flight to commit and new
    ones wait a moment for it. Without it an ingestion that drew lower ids but
    committed after the read would put attributions below the watermark that
    this run never saw and no later run would pick up. SQLite serialises
    writers anyway. Call it inside ``transaction.atomic()``.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL lock_timeout = '120s'")
            cursor.execute(f"LOCK TABLE {ATTRIBUTIONS} IN SHARE MODE")
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {ATTRIBUTIONS}")
        return int(cursor.fetchone()[0])


def events_between(start: dt.datetime | None, end: dt.datetime) -> dt.datetime | None:
    """When the earliest attribution in ``[start, end)`` occurred (``start`` None: any time before ``end``)."""
    qs = TransactionAttribution.objects.filter(occurred_at__lt=end)
    if start is not None:
        qs = qs.filter(occurred_at__gte=start)
    return qs.order_by("occurred_at").values_list("occurred_at", flat=True).first()


def partner_range_sql(column: str, *, after: int, upto: int | None, only: int | None) -> tuple[str, list]:
    if only is not None:
        return f"{column} = %s", [only]
    if upto is None:
        return f"{column} > %s", [after]
    return f"{column} > %s AND {column} <= %s", [after, upto]


def written_sums(*, run_id: int, partners: tuple[str, list]) -> dict:
    """What a run wrote for a range of partners, read back: its lines summed and its settlements' totals.

    ``partners``: a SQL condition on ``partner_id`` and its parameters. Returns (JSON-ready)
    ``{"lines": [[kind, corrected month or None, version id or None, lines, attributions, bank
    revenue fen, share fen, product lines beyond their revenue], ...], "settlements": [settlements,
    attributions, bank revenue fen]}``. The lines are found through their settlements' ids (the
    line table's settlement index), never by scanning every line ever written.
    """
    condition, params = partners
    fen = _sql()["fen"]
    ids = f"SELECT id FROM {SETTLEMENTS} WHERE run_id = %s AND {condition}"
    among = f"= ANY(ARRAY({ids}))" if connection.vendor == "postgresql" else f"IN ({ids})"
    beyond = (
        "l.kind = 'product' AND ((l.bank_revenue >= 0 AND (l.share < 0 OR l.share > l.bank_revenue)) "
        "OR (l.bank_revenue < 0 AND (l.share > 0 OR l.share < l.bank_revenue)))"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.kind, l.corrects_period, l.agreement_version_id, count(*), sum(l.transaction_count), "
            f"{fen.format('l.bank_revenue')}, {fen.format('l.share')}, sum(CASE WHEN {beyond} THEN 1 ELSE 0 END) "
            f"FROM {LINES} l WHERE l.settlement_id {among} GROUP BY 1, 2, 3",
            [run_id, *params],
        )
        lines = [
            [kind, _month_text(month), version, *(int(value or 0) for value in figures)]
            for kind, month, version, *figures in cursor.fetchall()
        ]
        cursor.execute(
            f"SELECT count(*), sum(transaction_count), {fen.format('bank_revenue')} FROM {SETTLEMENTS} "
            f"WHERE run_id = %s AND {condition}",
            [run_id, *params],
        )
        settlements = [int(value or 0) for value in cursor.fetchone()]
    return {"lines": lines, "settlements": settlements}


def _month_text(month) -> str | None:
    if month is None or isinstance(month, str):
        return month
    return month.isoformat()


def run_figures_fetch(*, run_id: int, partners: tuple[str, list]) -> list[tuple]:
    """A run's stored figure rows of a range of partners (``partners``: a SQL condition on partner_id)."""
    condition, params = partners
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(FIGURE_COLUMNS)} FROM {FIGURES} WHERE run_id = %s AND {condition}", [run_id, *params]
        )
        return _normalised(cursor.fetchall())


def settled_before(*, partners: tuple[str, list], months: list[dt.date], before: dt.date) -> list[tuple]:
    """What closed settlements before ``before`` settled for each partner, month of ``months`` and product.

    Rows ``(partner, month, product, count, net count µ, volume fen, revenue fen, share fen)``: the
    product lines of those months and the adjustment lines correcting them, summed exactly.
    ``partners`` is a SQL condition on ``s.partner_id``. The lines are found through their
    settlements' ids (the line table's settlement index): those of the partners' closed settlements
    from the first of ``months`` on, never by scanning every line ever written.
    """
    if not months:
        return []
    sql = _sql()
    condition, params = partners
    marks = ", ".join(["%s"] * len(months))
    adapt = connection.ops.adapt_datefield_value
    days = [adapt(m) for m in months]
    postgresql = connection.vendor == "postgresql"
    among = "= ANY(ARRAY(SELECT id FROM s))" if postgresql else "IN (SELECT id FROM s)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH s AS {"MATERIALIZED " if postgresql else ""}(
                SELECT s.id, s.partner_id, p.start
                FROM {SETTLEMENTS} s JOIN {PERIODS} p ON p.id = s.period_id
                WHERE {condition} AND s.state IN ('closed', 'approved', 'paid') AND p.start >= %s AND p.start < %s
            )
            SELECT s.partner_id, COALESCE(l.corrects_period, s.start), l.product_id,
                   {sql["line_sum"].format("l.transaction_count")}, {sql["line_micro"].format("l.net_count")},
                   {sql["line_fen"].format("l.volume")}, {sql["line_fen"].format("l.bank_revenue")},
                   {sql["line_fen"].format("l.share")}
            FROM s JOIN {LINES} l ON l.settlement_id = s.id
            WHERE l.settlement_id {among}
              AND ((l.kind = 'product' AND s.start IN ({marks}))
                   OR (l.kind = 'adjustment' AND l.corrects_period IN ({marks})))
            GROUP BY 1, 2, 3
            """,
            [*params, adapt(min(months)), adapt(before), *days, *days],
        )
        rows = cursor.fetchall()
        if postgresql:
            return rows  # dates and bigints already
        out = []
        for partner_id, month, product_id, count, micro, volume, revenue, share in rows:
            if isinstance(month, str):
                month = dt.date.fromisoformat(month)
            out.append((partner_id, month, product_id, int(count), int(micro), int(volume), int(revenue), int(share)))
        return out
