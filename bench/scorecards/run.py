"""Benchmark: build all branch scorecards for a month of 1,000,000 transactions, next to one bare SQL query.

    DATABASE_URL=postgres://root@127.0.0.1:5432/bench_scorecards .venv/bin/python bench/scorecards/run.py \
        [--partners 10000] [--transactions 1000000] [--repeat 5]

The database (its name must start with ``bench_``) is dropped and created, and
migrated with the product's own migrations, so the ledger tables, their
indexes and triggers are exactly the real ones. Then, with set-based SQL
(``INSERT … SELECT generate_series``, bypassing the ingestion service, for
data generation only): 40 branches with an RM each, ``--partners`` partners
(10,000) with active periods, the registered source system ``bench``, one
month (2026-10) of ``--transactions`` transactions (1,000,000) — 99% events of
which every tenth is co-served by two partners, and 1% reversals — with their
attributions, and targets for five KPIs of every branch.

Timed in turn, each ``--repeat`` times after one warm-up, best and median printed:

* ``scorecards_build`` for the month (every KPI, scores, ranks, top partners, stored);
* the bare query: the month's transactions grouped by branch with the sum of
  volume, the sum of revenue and the count of distinct SMEs.

Target: the build within 4× the bare query.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://root@127.0.0.1:5432/bench_scorecards"

BRANCHES = 40
PARTNERS = 10_000
TRANSACTIONS = 1_000_000
SMES_PER_PARTNER = 20
MONTH = dt.date(2026, 10, 1)

BARE_QUERY = """
SELECT branch_id, SUM(amount), SUM(bank_revenue), COUNT(DISTINCT sme_id)
FROM ledger_transaction
WHERE occurred_at >= %s AND occurred_at < %s
GROUP BY branch_id
"""


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not name.startswith("bench_"):
        sys.exit(f"refusing to drop {name!r}: the benchmark's database name starts with bench_")
    with psycopg.connect(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or None,
        password=parsed.password or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    # A benchmark's own throwaway database and processes: a key of its own (the settings require one).
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-key-never-used-for-anything-else-0123456789")
    os.environ.setdefault("CELERY_BROKER_URL", "")
    import django

    django.setup()


def step(label: str):
    class Step:
        def __enter__(self):
            self.start = time.perf_counter()
            print(f"  {label} …", end="", flush=True)

        def __exit__(self, *exc):
            print(f" {time.perf_counter() - self.start:.1f} s", flush=True)

    return Step()


def generate(*, partners: int, transactions: int) -> None:
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection, transaction

    from core.periods import CHINA_TZ
    from organisation.models import Branch, User
    from organisation.roles import Role
    from revenue.ledger.models import IngestionBatch, Product
    from revenue.ledger.services import source_system_register

    with step("migrate"):
        call_command("migrate", verbosity=0)
    month_start = dt.datetime(MONTH.year, MONTH.month, 1, tzinfo=CHINA_TZ)
    with step(f"{BRANCHES} branches and RMs, products, batch"):
        Branch.objects.create(code="HQ", name="总行", is_head_office=True)
        for n in range(1, BRANCHES + 1):
            branch = Branch.objects.create(code=f"B{n:02d}", name=f"第{n:02d}分行")
            # Bench users never log in: no password (hashing forty would dominate the set-up).
            rm = User(username=f"rm{n:02d}", branch=branch, is_staff=True)
            rm.set_unusable_password()
            rm.save()
            rm.groups.set(Group.objects.filter(name=Role.BRANCH_RM.value))
        for code, kind in (("PAY_SETTLE", "fee"), ("SCF_LOAN", "interest_margin"), ("WEALTH", "commission")):
            Product.objects.create(code=code, name=code, revenue_kind=kind)
        source = source_system_register(code="bench", name="基准数据", by=None)
        batch = IngestionBatch.objects.create(
            source=source, channel="generator", received_at=month_start + dt.timedelta(days=33)
        )
    with connection.cursor() as cursor, transaction.atomic():
        with step(f"{partners:,} partners with active periods"):
            cursor.execute(
                """
                INSERT INTO onboarding_partner (
                    partner_type, legal_name, credit_code, legal_representative, registered_capital, contact_name,
                    contact_phone, contact_email, settlement_account_name, settlement_bank, settlement_account_no,
                    risk_rating, tier, vat_rate, state, created_at, updated_at, branch_id, relationship_manager_id,
                    origin)
                SELECT (ARRAY['internet_platform','software_data','hardware','supply_chain','pe_vc'])[1 + k %% 5],
                       '基准服务商' || k || '有限公司', 'BENCH' || lpad(k::text, 13, '0'), '张三', 1000000, '李四',
                       '13800000000', 'p' || k || '@bench.example', '基准服务商' || k, '本行', lpad(k::text, 16, '0'),
                       'low', 'standard', 0.0600, 'active', now(), now(), b.id, u.id, 'staff'
                FROM generate_series(0, %(last)s) AS k
                JOIN organisation_branch b ON b.code = 'B' || lpad((1 + k %% %(branches)s)::text, 2, '0')
                JOIN organisation_user u ON u.branch_id = b.id
                ORDER BY k
                """,
                {"last": partners - 1, "branches": BRANCHES},
            )
            # One in twenty partners was onboarded during the month; the rest since January.
            cursor.execute(
                """
                INSERT INTO onboarding_partneractiveperiod (partner_id, started_at, ended_at)
                SELECT id, CASE WHEN id %% 20 = 0 THEN %s + (id %% 28) * interval '1 day' ELSE %s END, NULL
                FROM onboarding_partner
                """,
                [month_start, month_start.replace(month=1)],
            )
            cursor.execute(
                "CREATE TEMP TABLE pm AS SELECT (row_number() OVER (ORDER BY id) - 1)::int AS idx, id, branch_id "
                "FROM onboarding_partner WHERE credit_code LIKE 'BENCH%%'"
            )
            cursor.execute("CREATE UNIQUE INDEX ON pm (idx)")
            cursor.execute("ANALYZE pm")
        reversals = transactions // 100
        normal = transactions - reversals
        with step(f"{transactions:,} transactions ({reversals:,} reversals)"):
            # i: the event; p1 its partner, every tenth co-served with p2; amounts in fen.
            cursor.execute(
                """
                CREATE TEMP TABLE g AS
                SELECT i, 'normal'::varchar AS kind, NULL::int AS reverses_i,
                       (i * 7919) %% %(p)s AS p1, ((i * 7919) %% %(p)s + 1) %% %(p)s AS p2, i %% 10 = 0 AS co,
                       'SME' || lpad((((i * 7919) %% %(p)s) * %(s)s + (i / %(p)s) %% %(s)s)::text, 7, '0') AS sme,
                       (100 + (i * 37) %% 99900)::numeric / 100 * (1 + i %% 7) AS amount,
                       i %% 3 AS product,
                       %(start)s + ((i::bigint * 2654435761) %% 2674800) * interval '1 second' AS occurred_at
                FROM generate_series(1::bigint, %(n)s) AS i
                """,
                {"p": partners, "s": SMES_PER_PARTNER, "n": normal, "start": month_start},
            )
            cursor.execute(
                """
                INSERT INTO g
                SELECT %(n)s + row_number() OVER (ORDER BY i), 'reversal', i, p1, p2, co, sme, -amount, product,
                       occurred_at + interval '1 hour'
                FROM g WHERE i %% 99 = 0 ORDER BY i LIMIT %(r)s
                """,
                {"n": normal, "r": reversals},
            )
            cursor.execute("CREATE UNIQUE INDEX ON g (i)")
            cursor.execute("ANALYZE g")
            products = {code: pk for pk, code in Product.objects.values_list("pk", "code")}
            insert = """
                INSERT INTO ledger_transaction (
                    source, external_id, kind, sme_id, sme_name, amount, bank_revenue, currency, occurred_at,
                    booked_at, partner_active, content_hash, batch_id, branch_id, product_id, reverses_id)
                SELECT 'bench', 'B' || g.i, g.kind, g.sme, '', g.amount, round(g.amount * 0.006, 2), 'CNY',
                       g.occurred_at, g.occurred_at + interval '2 hours', true, md5(g.i::text)::uuid, %(batch)s,
                       pm.branch_id, (ARRAY[%(p0)s, %(p1)s, %(p2)s]::bigint[])[1 + g.product], {reverses}
                FROM g JOIN pm ON pm.idx = g.p1 {join}
                WHERE g.kind = %(kind)s
                ORDER BY g.i
            """
            params = {"batch": batch.pk, "p0": products["PAY_SETTLE"], "p1": products["SCF_LOAN"]}
            params["p2"] = products["WEALTH"]
            cursor.execute(insert.format(reverses="NULL", join=""), {**params, "kind": "normal"})
            cursor.execute(
                insert.format(
                    reverses="o.id",
                    join="JOIN ledger_transaction o ON o.source = 'bench' AND o.external_id = 'B' || g.reverses_i",
                ),
                {**params, "kind": "reversal"},
            )
        with step("attributions"):
            # All attributions in one statement: the ledger's trigger checks that each transaction's add back.
            cursor.execute(
                """
                WITH t AS (
                    SELECT t.id, t.amount, t.bank_revenue, t.product_id, t.occurred_at, t.kind, g.p1, g.p2, g.co
                    FROM g JOIN ledger_transaction t ON t.source = 'bench' AND t.external_id = 'B' || g.i
                )
                INSERT INTO ledger_transactionattribution (
                    occurred_at, is_reversal, weight, amount, bank_revenue, partner_active, partner_id, product_id,
                    transaction_id)
                SELECT t.occurred_at, t.kind = 'reversal', 1, t.amount, t.bank_revenue, true, pm.id, t.product_id, t.id
                FROM t JOIN pm ON pm.idx = t.p1 WHERE NOT t.co
                UNION ALL
                SELECT t.occurred_at, t.kind = 'reversal', 0.5, trunc(t.amount / 2, 2), trunc(t.bank_revenue / 2, 2),
                       true, pm.id, t.product_id, t.id
                FROM t JOIN pm ON pm.idx = t.p1 WHERE t.co
                UNION ALL
                SELECT t.occurred_at, t.kind = 'reversal', 0.5, t.amount - trunc(t.amount / 2, 2),
                       t.bank_revenue - trunc(t.bank_revenue / 2, 2), true, pm.id, t.product_id, t.id
                FROM t JOIN pm ON pm.idx = t.p2 WHERE t.co
                """
            )
        with step("targets for every branch"):
            cursor.execute(
                """
                INSERT INTO performance_branchtarget (period_kind, period_start, kpi, target_value, weight, updated_at,
                                                      branch_id)
                SELECT 'month', %s, k.kpi, round(k.base * (0.8 + (b.id %% 9) * 0.05), 2), k.weight, now(), b.id
                FROM organisation_branch b
                CROSS JOIN (VALUES ('partners_onboarded', 12, 0.1), ('active_partners', 240, 0.2),
                                   ('smes_reached', 4000, 0.2), ('transaction_volume', 60000000, 0.25),
                                   ('bank_revenue', 360000, 0.25)) AS k(kpi, base, weight)
                WHERE NOT b.is_head_office
                """,
                [MONTH],
            )
    with step("vacuum analyze"), connection.cursor() as cursor:
        for table in (
            "ledger_transaction",
            "ledger_transactionattribution",
            "onboarding_partner",
            "onboarding_partneractiveperiod",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")


def timed_alternately(first, second, repeat: int) -> tuple[list[float], list[float]]:
    """Time two functions in turn, so that both see the same load on a shared machine."""
    first(), second()  # warm-up: caches, plans
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for func, out in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            func()
            out.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partners", type=int, default=PARTNERS)
    parser.add_argument("--transactions", type=int, default=TRANSACTIONS, help="transactions in the month")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep-data", action="store_true", help="reuse the data of a previous run")
    parser.add_argument("--explain", action="store_true", help="print the plans of both queries")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not url.startswith("postgres"):
        sys.exit("the benchmark runs on PostgreSQL: set DATABASE_URL=postgres://…")
    print(f"database: {url}")
    if not args.keep_data:
        recreate_database(url)
    setup_django(url)

    from django.db import connection

    from core.periods import CHINA_TZ
    from performance.periods import ReportingPeriod
    from performance.selectors import ledger_one_pass_sql
    from performance.services import scorecards_build

    if not args.keep_data:
        print("generating:")
        generate(partners=args.partners, transactions=args.transactions)
    period = ReportingPeriod("month", MONTH)
    as_of = dt.datetime(2026, 11, 5, tzinfo=CHINA_TZ)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM ledger_transaction WHERE occurred_at >= %s AND occurred_at < %s",
            [period.start_at, period.end_at],
        )
        (month_rows,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM ledger_transactionattribution")
        (attributions,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM onboarding_partner")
        (partners,) = cursor.fetchone()
        cursor.execute("SELECT count(DISTINCT sme_id) FROM ledger_transaction")
        (smes,) = cursor.fetchone()
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
    print(
        f"data: {partners:,} partners, {month_rows:,} transactions in {period}, {attributions:,} attributions, "
        f"{smes:,} SMEs"
    )
    print(f"server: {version.split(',')[0]}")

    def bare():
        with connection.cursor() as cursor:
            cursor.execute(BARE_QUERY, [period.start_at, period.end_at])
            return cursor.fetchall()

    def build():
        return scorecards_build(period_kind=period.kind, period_start=period.start, as_of=as_of)

    bare_rows = bare()
    result = build()
    assert len(bare_rows) == BRANCHES and len(result.scorecards) == BRANCHES, "every branch has business and targets"
    # Co-served events count for each partner's branch, so branches differ from the bare query's
    # (which uses the transaction's branch), but the month's totals are the same.
    from performance.models import ScorecardKPILine

    volumes = ScorecardKPILine.objects.filter(scorecard__in=result.scorecards, kpi="transaction_volume")
    built_total = sum(volumes.values_list("actual_value", flat=True))
    bare_total = sum(row[1] for row in bare_rows)
    assert built_total == bare_total, (built_total, bare_total)
    print(f"month's volume: {bare_total:,} CNY in both")

    if args.explain:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN ANALYZE " + ledger_one_pass_sql(), [period.start_at, period.end_at, as_of])
            print("\nplan of the ledger query (branches and partners):\n" + "\n".join(r[0] for r in cursor.fetchall()))
            cursor.execute("EXPLAIN ANALYZE " + BARE_QUERY, [period.start_at, period.end_at])
            print("\nplan of the bare query:\n" + "\n".join(row[0] for row in cursor.fetchall()))

    bare_times, build_times = timed_alternately(bare, build, args.repeat)
    best_ratio = min(build_times) / min(bare_times)
    median_ratio = statistics.median(build_times) / statistics.median(bare_times)
    print(
        f"\nscorecards_build ({BRANCHES} branches, month {period}): "
        f"best {min(build_times):.3f} s, median {statistics.median(build_times):.3f} s"
    )
    print(
        f"bare GROUP BY query over the month's transactions: "
        f"best {min(bare_times):.3f} s, median {statistics.median(bare_times):.3f} s"
    )
    print(
        f"ratio: best {best_ratio:.2f}×, median {median_ratio:.2f}× (target ≤ 4×): "
        f"{'OK' if median_ratio <= 4 else 'ABOVE TARGET'}"
    )


if __name__ == "__main__":
    main()
