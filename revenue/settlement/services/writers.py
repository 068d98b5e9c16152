"""The settlement writers: a chunk's earlier drafts deleted set-based, its settlements and lines written in bulk.

On PostgreSQL the rows go through ``COPY`` (settlement ids drawn from their
sequence first, so the lines can name them); elsewhere through ``bulk_create``.
Both write the same rows, column for column (:data:`SETTLEMENT_COLUMNS`,
:data:`LINE_COLUMNS`).
"""

from __future__ import annotations

from django.db import connection

from revenue.settlement.aggregation import Window
from revenue.settlement.choices import SettlementState
from revenue.settlement.compute import SettlementDraft
from revenue.settlement.models import Settlement, SettlementLine, SettlementRun
from revenue.settlement.services.computation import PartnerRange


def drafts_delete(period_id: int, partners: PartnerRange) -> None:
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
    "reversal_count",
    "coserved_count",
    "coserved_net_count",
    "share_limit",
    "tier_reached",
    "tier_basis_figure",
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
                figures.reversal_count,
                figures.coserved_count,
                figures.coserved_net_count,
                line.share_limit,
                line.tier_reached,
                line.tier_basis_figure,
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
