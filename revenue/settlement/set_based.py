"""A chunk's settlements computed by PostgreSQL: the set-based twin of :mod:`revenue.settlement.compute`.

A month-end close writes tens of thousands of lines. Computing them one by one
in Python costs far more than the month's aggregation itself, so on PostgreSQL
a run's chunk computes and writes its settlements in one statement, straight
from the run's figure rows: product lines, adjustment lines, carried balances,
dispute resolutions, positions, totals, VAT and the carry-forward decision.
Which agreement version governs which partner and product is still decided in
Python (:func:`revenue.settlement.services.loading.rules_in_force`) and passed
in as a small table of version ids; the terms themselves are read from the
versions and their tiers.

The statement follows :func:`revenue.calculations.share_compute` and
:func:`revenue.settlement.compute.settlement_compute` rule for rule; the
tests run both on the same data and require identical rows.

Exactness
    Figures arrive as integer fen and millionths and become ``numeric`` by
    exact multiplication. Products of amounts and rates are exact in
    ``numeric``; the one division (a progressive tier's weighted rate over its
    basis) is carried to 50 decimal places, as Python carries it to 50
    significant digits. Neither can then land on the other side of a
    half-fen: that would take a basis with more than 35 digits. Rounding is
    ``round(x, 2)``, half away from zero, like :func:`core.money.round_money`.
"""

from __future__ import annotations

# The SQL below is built from constant table names; every value is a parameter.
# ruff: noqa: S608
import datetime as dt
import json
from collections.abc import Hashable

from django.db import connection

from core.periods import Period
from onboarding.models import Partner
from revenue.models import AgreementTier, AgreementVersion, Product
from revenue.settlement.choices import DisputeState, LineKind, SettlementState
from revenue.settlement.compute import texts_in_language
from revenue.settlement.models import (
    Settlement,
    SettlementDispute,
    SettlementLine,
    SettlementPeriod,
    SettlementRunFigure,
)
from revenue.settlement.services.loading import PartnerRange, last_day, rules_for_day

VERSIONS = AgreementVersion._meta.db_table
TIERS = AgreementTier._meta.db_table
PARTNERS = Partner._meta.db_table
PRODUCTS = Product._meta.db_table
FIGURES = SettlementRunFigure._meta.db_table
SETTLEMENTS = Settlement._meta.db_table
LINES = SettlementLine._meta.db_table
PERIODS = SettlementPeriod._meta.db_table
DISPUTES = SettlementDispute._meta.db_table
FROZEN_STATES = [SettlementState.CLOSED.value, SettlementState.APPROVED.value, SettlementState.PAID.value]


def share_sql(source: str, suffix: str = "") -> tuple[str, str]:
    """CTEs computing the share of every row of ``source``; returns ``(ctes, name of the last one)``.

    ``source`` has the columns ``version_id`` (null: no agreement, no share), ``revenue``, ``volume``,
    ``count`` and the partner's ``total_revenue`` and ``total_volume`` (all ``numeric``). The last CTE
    adds ``kind`` (null without a version), ``share`` (fen) and ``effective_rate`` (8 places).
    """
    s = suffix
    ctes = f"""
    rule{s} AS (
        SELECT src.*, v.rule_kind AS kind, v.rate, v.fixed_amount, v.floor, v.cap,
               CASE v.tier_basis WHEN 'product_volume' THEN src.volume WHEN 'total_volume' THEN src.total_volume
                    WHEN 'product_revenue' THEN src.revenue WHEN 'total_revenue' THEN src.total_revenue END AS basis
        FROM {source} src LEFT JOIN {VERSIONS} v ON v.id = src.version_id
    ),
    slab{s} AS MATERIALIZED (
        -- Tier lookups only for tiered rules (a small share of the rows): a subquery in a CASE branch
        -- runs only when the branch is taken. Materialised, so that each runs once per row: inlined,
        -- every later expression naming these columns would carry (and plan) its own copy of them.
        SELECT r.*,
               CASE WHEN r.kind IN ('tiered_progressive', 'tiered_retroactive') THEN (
                   SELECT coalesce(sum(t.rate * (least(r.basis, coalesce(t.upper_bound, r.basis)) - t.lower_bound))
                                       FILTER (WHERE r.basis > t.lower_bound), 0)
                   FROM {TIERS} t WHERE t.version_id = r.version_id
               ) ELSE 0 END AS weighted,
               CASE WHEN r.kind IN ('tiered_progressive', 'tiered_retroactive') THEN
                   CASE WHEN r.basis <= 0 THEN (
                            SELECT t.rate FROM {TIERS} t WHERE t.version_id = r.version_id
                            ORDER BY t.lower_bound LIMIT 1)
                        ELSE coalesce(
                            (SELECT t.rate FROM {TIERS} t
                             WHERE t.version_id = r.version_id AND (t.upper_bound IS NULL OR r.basis < t.upper_bound)
                             ORDER BY t.lower_bound LIMIT 1),
                            (SELECT t.rate FROM {TIERS} t WHERE t.version_id = r.version_id
                             ORDER BY t.lower_bound DESC LIMIT 1)) END
               END AS slab_rate
        FROM rule{s} r
    ),
    raw{s} AS (
        SELECT sl.*,
               CASE WHEN sl.kind IS NULL THEN NULL
                    WHEN sl.kind = 'percentage' THEN sl.revenue * sl.rate
                    WHEN sl.kind = 'fixed_per_transaction' THEN sl.count * sl.fixed_amount
                    WHEN sl.kind = 'tiered_retroactive' OR sl.basis <= 0 THEN sl.revenue * sl.slab_rate
                    ELSE round(sl.revenue * sl.weighted, 50) / sl.basis END AS raw_share,
               CASE WHEN sl.kind IS NULL OR sl.kind = 'fixed_per_transaction' THEN NULL
                    WHEN sl.kind = 'percentage' THEN round(sl.rate, 8)
                    WHEN sl.kind = 'tiered_retroactive' OR sl.basis <= 0 THEN round(sl.slab_rate, 8)
                    ELSE round(round(sl.weighted, 50) / sl.basis, 8) END AS effective_rate
        FROM slab{s} sl
    ),
    floored{s} AS (
        SELECT w.*,
               CASE WHEN w.floor IS NOT NULL AND w.revenue > 0 AND w.raw_share < w.floor THEN w.floor
                    ELSE w.raw_share END AS after_floor
        FROM raw{s} w
    ),
    capped{s} AS (
        SELECT f.*, CASE WHEN f.cap IS NOT NULL AND f.after_floor > f.cap THEN f.cap ELSE f.after_floor END AS after_cap
        FROM floored{s} f
    ),
    shared{s} AS (
        SELECT c.*,
               CASE WHEN c.kind IS NULL THEN 0.00
                    WHEN c.revenue >= 0 THEN round(least(greatest(c.after_cap, 0), c.revenue), 2)
                    ELSE round(least(greatest(c.after_cap, c.revenue), 0), 2) END AS share
        FROM capped{s} c
    )"""
    return ctes, f"shared{s}"


def _rules_json(months: list[dt.date], partners: PartnerRange, cache_key: Hashable | None) -> str:
    """The versions in force for each month: partner types' defaults and the range's partners' own."""
    rows = []
    for month in months:
        rules = rules_for_day(last_day(Period(month.year, month.month)), cache_key)
        for (partner_type, product_id), choice in rules.defaults.items():
            rows.append([month.isoformat(), None, partner_type, product_id, choice.version_id, choice.text])
        for (partner_id, product_id), choice in rules.own.items():
            if partners.contains(partner_id):
                rows.append([month.isoformat(), partner_id, None, product_id, choice.version_id, choice.text])
    keys = ("month", "partner_id", "partner_type", "product_id", "version_id", "description")
    return json.dumps([dict(zip(keys, row, strict=True)) for row in rows])


def _corrected_months(run_id: int, partners: tuple[str, list]) -> list[dt.date]:
    condition, params = partners
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT corrects_period FROM {FIGURES} "
            f"WHERE run_id = %s AND corrects_period IS NOT NULL AND partner_active AND {condition}",
            [run_id, *params],
        )
        return sorted(row[0] for row in cursor.fetchall())


def chunk_settle(
    *,
    run_id: int,
    period: Period,
    period_id: int,
    previous: SettlementPeriod | None,
    partners: PartnerRange,
    lower: int,
    upper: int,
    minimum_payout,
    computed_at: dt.datetime,
    language: str | None,
    cache_key: Hashable | None = None,
) -> tuple[int, int]:
    """Compute and write the draft settlements of a range of partners from the run's figures; (settlements, lines).

    Same rows as :func:`revenue.settlement.compute.settlement_compute` followed by
    :func:`revenue.settlement.services.runs.settlements_write`. PostgreSQL only.
    """
    figure_range = partners.sql("f.partner_id")
    months = _corrected_months(run_id, partners.sql("partner_id"))
    texts = texts_in_language(language)
    share_regular, regular_out = share_sql("regular_in", "_r")
    share_adjusted, adjusted_out = share_sql("adjusted_in", "_a")
    settlement_range = partners.sql("s.partner_id")
    member_range = partners.sql("p.id")
    sql = f"""
    WITH
    rules AS (
        SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r(
            month date, partner_id bigint, partner_type text, product_id bigint, version_id bigint, description text)
    ),
    members AS (
        SELECT p.id AS partner_id, p.partner_type, p.vat_rate FROM {PARTNERS} p WHERE {member_range[0]}
    ),
    figures AS (
        SELECT f.partner_id, f.product_id, f.corrects_period AS month, f.transaction_count,
               f.net_count_micro, f.volume_fen, f.bank_revenue_fen
        FROM {FIGURES} f WHERE f.run_id = %s AND f.partner_active AND {figure_range[0]}
    ),
    deltas AS (SELECT * FROM figures WHERE month IS NOT NULL),
    corrected AS (SELECT DISTINCT partner_id, month FROM deltas),
    earlier AS MATERIALIZED (
        -- The range's closed settlements that can hold lines of a corrected month: from the earliest on.
        SELECT s.id, s.partner_id, sp.start
        FROM {SETTLEMENTS} s JOIN {PERIODS} sp ON sp.id = s.period_id
        WHERE {settlement_range[0]} AND s.state = ANY(%s) AND sp.start < %s
          AND sp.start >= (SELECT min(month) FROM corrected) AND s.partner_id IN (SELECT partner_id FROM corrected)
    ),
    previous AS (
        -- What those closes settled for the corrected months (product and adjustment lines). The lines are
        -- found by their settlement index, not by scanning every line ever written.
        SELECT e.partner_id, coalesce(l.corrects_period, e.start) AS month, l.product_id,
               sum(l.transaction_count) AS transaction_count, (sum(l.net_count) * 1000000)::bigint AS net_count_micro,
               (sum(l.volume) * 100)::bigint AS volume_fen, (sum(l.bank_revenue) * 100)::bigint AS bank_revenue_fen,
               (sum(l.share) * 100)::bigint AS share_fen
        FROM {LINES} l JOIN earlier e ON e.id = l.settlement_id
        WHERE l.settlement_id = ANY(ARRAY(SELECT id FROM earlier))
          AND ((l.kind = 'product' AND e.start = ANY(%s::date[]))
               OR (l.kind = 'adjustment' AND l.corrects_period = ANY(%s::date[])))
        GROUP BY 1, 2, 3
    ),
    adjusted_figures AS (
        -- The corrected month as now known: everything settled for it before plus the new attributions.
        SELECT coalesce(d.partner_id, v.partner_id) AS partner_id, coalesce(d.product_id, v.product_id) AS product_id,
               coalesce(d.month, v.month) AS month,
               coalesce(v.transaction_count, 0) + coalesce(d.transaction_count, 0) AS transaction_count,
               coalesce(v.net_count_micro, 0) + coalesce(d.net_count_micro, 0) AS net_count_micro,
               coalesce(v.volume_fen, 0) + coalesce(d.volume_fen, 0) AS volume_fen,
               coalesce(v.bank_revenue_fen, 0) + coalesce(d.bank_revenue_fen, 0) AS bank_revenue_fen,
               coalesce(v.share_fen, 0) AS before_fen, d.partner_id IS NOT NULL AS has_delta,
               coalesce(d.transaction_count, 0) AS delta_count, coalesce(d.net_count_micro, 0) AS delta_micro,
               coalesce(d.volume_fen, 0) AS delta_volume, coalesce(d.bank_revenue_fen, 0) AS delta_revenue
        FROM deltas d
        FULL JOIN (SELECT v.* FROM previous v JOIN corrected c USING (partner_id, month)) v
          ON v.partner_id = d.partner_id AND v.month = d.month AND v.product_id = d.product_id
    ),
    ruled AS (
        -- A partner's own agreement for a product overrides its type's default.
        SELECT x.*, m.partner_type,
               CASE WHEN own.version_id IS NOT NULL THEN own.version_id ELSE dflt.version_id END AS version_id,
               CASE WHEN own.version_id IS NOT NULL THEN own.description
                    ELSE coalesce(dflt.description, %s) END AS rule_description
        FROM (
            SELECT partner_id, product_id, NULL::date AS month, transaction_count, net_count_micro, volume_fen,
                   bank_revenue_fen, 0::bigint AS before_fen, true AS has_delta,
                   transaction_count AS delta_count, net_count_micro AS delta_micro, volume_fen AS delta_volume,
                   bank_revenue_fen AS delta_revenue
            FROM figures WHERE month IS NULL
            UNION ALL
            SELECT * FROM adjusted_figures
        ) x
        JOIN members m USING (partner_id)
        LEFT JOIN rules own
          ON own.partner_id = x.partner_id AND own.product_id = x.product_id AND own.month = coalesce(x.month, %s)
        LEFT JOIN rules dflt
          ON dflt.partner_id IS NULL AND dflt.partner_type = m.partner_type AND dflt.product_id = x.product_id
         AND dflt.month = coalesce(x.month, %s)
    ),
    inputs AS (
        SELECT r.*, r.bank_revenue_fen * 0.01 AS revenue, r.volume_fen * 0.01 AS volume,
               r.net_count_micro * 0.000001 AS count,
               sum(r.bank_revenue_fen) OVER w * 0.01 AS total_revenue, sum(r.volume_fen) OVER w * 0.01 AS total_volume
        FROM ruled r
        WINDOW w AS (PARTITION BY r.partner_id, r.month)
    ),
    regular_in AS (SELECT * FROM inputs WHERE month IS NULL),
    adjusted_in AS (SELECT * FROM inputs WHERE month IS NOT NULL),
    {share_regular},
    {share_adjusted},
    lines AS (
        SELECT partner_id, 1 AS rank, product_id, NULL::date AS month, NULL::bigint AS carried_from_id,
               NULL::bigint AS dispute_id, '{LineKind.PRODUCT.value}' AS kind, delta_count, delta_micro,
               delta_volume, delta_revenue, version_id, rule_description, effective_rate,
               NULL::numeric AS previous_share, share, '' AS description
        FROM {regular_out}
        UNION ALL
        SELECT partner_id, 2, product_id, month, NULL, NULL, '{LineKind.ADJUSTMENT.value}', delta_count,
               delta_micro, delta_volume, delta_revenue, version_id, rule_description, effective_rate,
               before_fen * 0.01, share - before_fen * 0.01,
               left(replace(replace(replace(%s, '%%(period)s', to_char(month, 'YYYY-MM')),
                                    '%%(new)s', share::text), '%%(old)s', (before_fen * 0.01)::text), 255)
        FROM {adjusted_out}
        WHERE has_delta OR share <> before_fen * 0.01
        UNION ALL
        SELECT s.partner_id, 3, NULL, NULL, s.id, NULL, '{LineKind.CARRY_FORWARD.value}', 0, 0, 0, 0, NULL, '',
               NULL, NULL, s.net, %s
        FROM {SETTLEMENTS} s
        WHERE s.period_id = %s AND s.carried_forward AND {settlement_range[0]}
        UNION ALL
        SELECT s.partner_id, 4, NULL, NULL, NULL, d.id, '{LineKind.DISPUTE_RESOLUTION.value}', 0, 0, 0, 0, NULL, '',
               NULL, NULL, d.resolution_amount,
               left(replace(replace(%s, '%%(id)s', d.id::text), '%%(period)s', to_char(sp.start, 'YYYY-MM')), 255)
        FROM {DISPUTES} d
        JOIN {SETTLEMENTS} s ON s.id = d.settlement_id
        JOIN {PERIODS} sp ON sp.id = s.period_id
        WHERE d.adjust_period_id = %s AND d.state = '{DisputeState.RESOLVED.value}' AND d.resolution_amount <> 0
          AND {settlement_range[0]}
    ),
    positioned AS (
        SELECT l.*, row_number() OVER (
                   PARTITION BY l.partner_id
                   ORDER BY l.rank, l.month, pr.code, l.product_id, l.carried_from_id, l.dispute_id) AS position
        FROM lines l LEFT JOIN {PRODUCTS} pr ON pr.id = l.product_id
    ),
    sums AS (
        SELECT l.partner_id, m.vat_rate,
               sum(l.delta_count) FILTER (WHERE l.rank <= 2) AS transaction_count,
               coalesce(sum(l.delta_revenue) FILTER (WHERE l.rank <= 2), 0) * 0.01 AS bank_revenue,
               coalesce(sum(l.share) FILTER (WHERE l.rank = 1), 0) AS share_total,
               coalesce(sum(l.share) FILTER (WHERE l.rank IN (2, 4)), 0) AS adjustment_total,
               coalesce(sum(l.share) FILTER (WHERE l.rank = 3), 0) AS carried_in,
               sum(l.share) AS net
        FROM lines l JOIN members m USING (partner_id)
        GROUP BY l.partner_id, m.vat_rate
    ),
    decided AS (
        SELECT t.*, t.net <> 0 AND (t.net < 0 OR t.net < %s) AS carried_forward FROM sums t
    ),
    written AS (
        INSERT INTO {SETTLEMENTS} (
            partner_id, period_id, run_id, state, watermark_from, watermark_to, transaction_count, bank_revenue,
            share_total, adjustment_total, carried_in, net, vat_rate, vat, payable, carried_forward, computed_at,
            payment_reference)
        SELECT partner_id, %s, %s, '{SettlementState.DRAFT.value}', %s, %s, coalesce(transaction_count, 0),
               bank_revenue, share_total, adjustment_total, carried_in, net, vat_rate,
               CASE WHEN carried_forward OR net = 0 THEN 0 ELSE round(net * vat_rate, 2) END,
               CASE WHEN carried_forward OR net = 0 THEN 0 ELSE net + round(net * vat_rate, 2) END,
               carried_forward, %s, ''
        FROM decided ORDER BY partner_id
        RETURNING id, partner_id
    ),
    written_lines AS (
        INSERT INTO {LINES} (
            settlement_id, position, kind, product_id, corrects_period, carried_from_id, dispute_id,
            transaction_count, net_count, volume, bank_revenue, agreement_version_id, rule_description,
            effective_rate, previous_share, share, description)
        SELECT w.id, p.position, p.kind, p.product_id, p.month, p.carried_from_id, p.dispute_id, p.delta_count,
               p.delta_micro * 0.000001, p.delta_volume * 0.01, p.delta_revenue * 0.01, p.version_id,
               p.rule_description, p.effective_rate, p.previous_share, p.share, p.description
        FROM positioned p JOIN written w USING (partner_id)
        ORDER BY w.id, p.position
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM written), (SELECT count(*) FROM written_lines)
    """
    carried_text = ""
    if previous is not None:
        carried_text = texts["carried"] % {"period": str(previous.period)}
    month_params = [connection.ops.adapt_datefield_value(m) for m in months]
    params = [
        _rules_json([period.first_day, *months], partners, cache_key),
        *member_range[1],
        run_id,
        *figure_range[1],
        *settlement_range[1],
        FROZEN_STATES,
        period.first_day,
        month_params,
        month_params,
        texts["no_rule"],
        period.first_day,
        period.first_day,
        texts["adjustment"],
        carried_text,
        previous.pk if previous is not None else None,
        *settlement_range[1],
        texts["dispute"],
        period_id,
        *settlement_range[1],
        minimum_payout,
        period_id,
        run_id,
        lower,
        upper,
        computed_at,
    ]
    with connection.cursor() as cursor:
        # The run's figure rows are new, so the planner's statistics know nothing of them and take a
        # handful of rows for thousands: nested loops over the rules would cost seconds. Hash joins
        # are right at every size here (the tier lookups are subqueries by version: no join to plan). No
        # JIT: compiling a statement of this size costs seconds, executing it milliseconds.
        cursor.execute(
            "SELECT set_config('enable_nestloop', 'off', true), set_config('work_mem', '64MB', true), "
            "set_config('jit', 'off', true)"
        )
        cursor.execute(sql, params)
        settlements, lines = cursor.fetchone()
    return int(settlements), int(lines)
