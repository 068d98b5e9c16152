#!/usr/bin/env python
"""Benchmark: a month-end settlement close of N attributions for M partners, next to one bare GROUP BY.

    DATABASE_URL=postgres://root@127.0.0.1:5432/bench_settle .venv/bin/python bench/settle/run.py \
        [--sizes 100000,1000000,3000000] [--partners 10000] [--repeat 3] [--workers 1,2]

For each size the database (its name must start with ``bench_``) is dropped,
created and migrated with the product's own migrations, so the ledger and
settlement tables, their indexes and triggers are exactly the real ones. Then,
with set-based SQL (``INSERT … SELECT generate_series``, for data generation
only; the ledger's insert triggers still check every statement):

* 40 branches, ``--partners`` active partners of the five types (VAT 6%, every
  seventh 3%), the demo catalogue and the default agreements of every type
  (percentage, fixed per transaction, progressive and retroactive tiers, floor,
  cap), and own agreements for one partner in a hundred;
* September 2026: a tenth of N attributions, closed (not timed);
* October 2026: N attributions (about 2% co-served by two partners, 1%
  reversals, 0.5% of inactive partners), plus 1% of N late events and
  reversals of September booked after its close (adjustments).

Timed, ``--repeat`` times each, best and median (the close is reset between
repetitions):

* the bare query: October's attributions ``GROUP BY partner_id, product_id``
  with ``sum(bank_revenue)``, timed right before each close so that the pair
  sees the machine in the same state (the ratio is the median of the pairs'
  ratios; the ratio of the medians is kept in the JSON too);
* the whole close of October (aggregation, lines, adjustments, settlements,
  carry-forward, conservation check, period closed), run in this process (which
  shares the chunks out over ``SETTLEMENT_CONNECTIONS`` connections, as
  workers would);
* the same close on real ``celery worker`` processes (``--concurrency`` 1 and
  2) on a Redis broker (``--broker``, default db 12) and a queue named after
  the database (``bench/settle/worker.py``), from the start call to the run's
  completion;
* its floor: the writes any design storing the same rows cannot avoid, each on
  its own and rolled back: the one aggregation into figure rows, a plain
  ``INSERT … SELECT`` copying the close's settlements and lines (all indexes,
  constraints and triggers, no computation) and the update freezing them.

Prints the ratio close / bare (target ≤ 4×), the peak RSS of the process that
ran the close and, over the sizes, the time per attribution (growth no faster
than N). Writes bench/results/settle.json (``--output``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://root@127.0.0.1:5432/bench_settle"
DEFAULT_BROKER = "redis://127.0.0.1:6379/12"
BRANCHES = 40
SEPTEMBER = dt.date(2026, 9, 1)
OCTOBER = dt.date(2026, 10, 1)
PRODUCT_CODES = ("ACCOUNT", "EQUIP_LOAN", "PAY_SETTLE", "SCF_LOAN", "WEALTH")
# Bank revenue as a share of the amount, per product (index as PRODUCT_CODES).
REVENUE_RATES = "ARRAY[0.004, 0.02, 0.006, 0.025, 0.003]::numeric[]"

BARE_QUERY = """
SELECT partner_id, product_id, sum(bank_revenue)
FROM ledger_transactionattribution
WHERE occurred_at >= %s AND occurred_at < %s
GROUP BY partner_id, product_id
"""


# ---- database and Django ------------------------------------------------------------------------


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not name.startswith("bench_"):
        sys.exit(f"refusing to drop {name!r}: the benchmark's database name starts with bench_")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str, broker: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["CELERY_BROKER_URL"] = broker
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    # A benchmark's own throwaway database and processes: a key of its own (the settings require one).
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-key-never-used-for-anything-else-0123456789")
    # A close queues the period's statements and scorecards as jobs of their own once it has
    # completed; they have benchmarks of their own (bench/statements, bench/scorecards).
    os.environ["SETTLEMENT_ISSUE_STATEMENTS"] = "false"
    os.environ["SETTLEMENT_BUILD_SCORECARDS"] = "false"
    import django

    django.setup()
    # This run's tasks go to a queue named after its database, which only this run's workers read.
    import bench.settle.worker  # noqa: F401


def step(label: str):
    class Step:
        def __enter__(self):
            self.start = time.perf_counter()
            print(f"  {label} …", end="", flush=True)

        def __exit__(self, *exc):
            print(f" {time.perf_counter() - self.start:.1f} s", flush=True)

    return Step()


def eager(on: bool) -> None:
    """Run tasks in this process (True) or send them to the broker's workers (False)."""
    from config.celery import app

    app.conf.task_always_eager = on
    app.conf.task_eager_propagates = on


# ---- data -------------------------------------------------------------------------------------


def seed(partners: int) -> None:
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection, transaction

    from demo.revenue import revenue_demo_setup
    from organisation.models import Branch, User
    from organisation.roles import Role
    from revenue.ledger.models import Product
    from revenue.ledger.services import agreement_create, agreement_version_create, source_system_register

    with step("migrate"):
        call_command("migrate", verbosity=0)
    with step(f"{BRANCHES} branches, catalogue and default agreements of every partner type"):
        Branch.objects.create(code="HQ", name="总行", is_head_office=True)
        for n in range(1, BRANCHES + 1):
            branch = Branch.objects.create(code=f"B{n:02d}", name=f"第{n:02d}分行")
            rm = User(username=f"rm{n:02d}", branch=branch, is_staff=True)
            rm.set_unusable_password()
            rm.save()
            rm.groups.set(Group.objects.filter(name=Role.BRANCH_RM.value))
        revenue_demo_setup()
        source_system_register(code="bench", name="基准数据", by=None)
    with step(f"{partners:,} active partners"), connection.cursor() as cursor, transaction.atomic():
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
                   'low', 'standard', CASE WHEN k %% 7 = 0 THEN 0.03 ELSE 0.06 END, 'active', now(), now(),
                   b.id, u.id, 'staff'
            FROM generate_series(0, %(last)s) AS k
            JOIN organisation_branch b ON b.code = 'B' || lpad((1 + k %% %(branches)s)::text, 2, '0')
            JOIN organisation_user u ON u.branch_id = b.id
            ORDER BY k
            """,
            {"last": partners - 1, "branches": BRANCHES},
        )
        cursor.execute(
            "INSERT INTO onboarding_partneractiveperiod (partner_id, started_at, ended_at) "
            "SELECT id, '2026-01-01T00:00:00+08:00', NULL FROM onboarding_partner"
        )
        cursor.execute(
            "CREATE TEMP TABLE pm AS SELECT (row_number() OVER (ORDER BY id) - 1)::int AS idx, id, branch_id "
            "FROM onboarding_partner"
        )
        cursor.execute("CREATE UNIQUE INDEX ON pm (idx)")
        cursor.execute("ANALYZE pm")
    with step("own agreements for one partner in a hundred"):
        from onboarding.models import Partner

        pay = Product.objects.get(code="PAY_SETTLE")
        for partner in Partner.objects.order_by("pk")[: max(1, partners // 100)]:
            agreement = agreement_create(product=pay, partner=partner, by=None)
            agreement_version_create(
                agreement=agreement, valid_from=dt.date(2026, 1, 1), rule_kind="percentage", rate="0.350000", by=None
            )


def insert_events(cursor, *, tag: str, month: dt.date, count: int, partners: int, batch_id: int, booked) -> None:
    """``count`` attributions' worth of events of a month (co-served, reversals, inactive), with attributions.

    ``booked`` is when they were booked (after the month for late events).
    """
    from core.periods import CHINA_TZ

    start = dt.datetime(month.year, month.month, 1, tzinfo=CHINA_TZ)
    seconds = int(((start + dt.timedelta(days=32)).replace(day=1) - start).total_seconds())
    # Every 50th event is co-served (two attributions): count ≈ events × 1.02.
    events = max(1, round(count / 1.02))
    normal = events - events // 100
    cursor.execute("DROP TABLE IF EXISTS g")
    cursor.execute(
        """
        CREATE TEMP TABLE g AS
        SELECT i, 'normal'::varchar AS kind, NULL::bigint AS reverses_i,
               (i * 7919) %% %(p)s AS p1, ((i * 7919) %% %(p)s + 1) %% %(p)s AS p2, i %% 50 = 0 AS co,
               i %% 200 <> 7 AS active,
               'SME' || lpad((((i * 7919) %% %(p)s) * 20 + (i / %(p)s) %% 20)::text, 7, '0') AS sme,
               (100 + (i * 37) %% 99900)::numeric / 100 * (1 + i %% 7) AS amount,
               (hashint8(i) & 2147483647) %% 5 AS product,
               %(start)s + ((i * 2654435761) %% %(seconds)s) * interval '1 second' AS occurred_at
        FROM generate_series(1::bigint, %(n)s) AS i
        """,
        {"p": partners, "n": normal, "start": start, "seconds": seconds - 7200},
    )
    # Reversals of every 99th event, an hour later (still in the month).
    cursor.execute(
        """
        INSERT INTO g
        SELECT %(n)s + row_number() OVER (ORDER BY i), 'reversal', i, p1, p2, co, active, sme, -amount, product,
               occurred_at + interval '1 hour'
        FROM g WHERE i %% 99 = 0 ORDER BY i LIMIT %(r)s
        """,
        {"n": normal, "r": events - normal},
    )
    cursor.execute("CREATE UNIQUE INDEX ON g (i)")
    cursor.execute("ANALYZE g")
    insert = f"""
        INSERT INTO ledger_transaction (
            source, external_id, kind, sme_id, sme_name, amount, bank_revenue, currency, occurred_at,
            booked_at, partner_active, content_hash, batch_id, branch_id, product_id, reverses_id)
        SELECT 'bench', %(tag)s || g.i, g.kind, g.sme, '', g.amount,
               round(g.amount * ({REVENUE_RATES})[1 + g.product], 2), 'CNY', g.occurred_at,
               greatest(g.occurred_at, %(booked)s), g.active, md5(%(tag)s || g.i)::uuid, %(batch)s, pm.branch_id,
               (SELECT array_agg(id ORDER BY code) FROM ledger_product)[1 + g.product], {{reverses}}
        FROM g JOIN pm ON pm.idx = g.p1 {{join}}
        WHERE g.kind = %(kind)s
        ORDER BY g.i
    """
    params = {"tag": tag, "batch": batch_id, "booked": booked}
    cursor.execute(insert.format(reverses="NULL", join=""), {**params, "kind": "normal"})
    cursor.execute(
        insert.format(
            reverses="o.id",
            join="JOIN ledger_transaction o ON o.source = 'bench' AND o.external_id = %(tag)s || g.reverses_i",
        ),
        {**params, "kind": "reversal"},
    )
    cursor.execute(
        """
        WITH t AS (
            SELECT t.id, t.amount, t.bank_revenue, t.product_id, t.occurred_at, t.kind, t.partner_active,
                   g.p1, g.p2, g.co
            FROM g JOIN ledger_transaction t ON t.source = 'bench' AND t.external_id = %(tag)s || g.i
        )
        INSERT INTO ledger_transactionattribution (
            occurred_at, is_reversal, weight, amount, bank_revenue, partner_active, partner_id, product_id,
            transaction_id)
        SELECT t.occurred_at, t.kind = 'reversal', 1, t.amount, t.bank_revenue, t.partner_active, pm.id,
               t.product_id, t.id
        FROM t JOIN pm ON pm.idx = t.p1 WHERE NOT t.co
        UNION ALL
        SELECT t.occurred_at, t.kind = 'reversal', 0.5, trunc(t.amount / 2, 2), trunc(t.bank_revenue / 2, 2),
               t.partner_active, pm.id, t.product_id, t.id
        FROM t JOIN pm ON pm.idx = t.p1 WHERE t.co
        UNION ALL
        SELECT t.occurred_at, t.kind = 'reversal', 0.5, t.amount - trunc(t.amount / 2, 2),
               t.bank_revenue - trunc(t.bank_revenue / 2, 2), t.partner_active, pm.id, t.product_id, t.id
        FROM t JOIN pm ON pm.idx = t.p2 WHERE t.co
        ORDER BY 1
        """,
        {"tag": tag},
    )


def late_reversals(cursor, *, count: int, batch_id: int, booked) -> None:
    """Reversals of September events that happened in September but were booked after its close."""
    cursor.execute(
        """
        WITH o AS (
            SELECT t.* FROM ledger_transaction t
            WHERE t.source = 'bench' AND t.external_id LIKE 'S%%' AND t.kind = 'normal'
              AND NOT EXISTS (SELECT 1 FROM ledger_transaction r WHERE r.reverses_id = t.id)
              AND t.occurred_at < '2026-09-29T00:00:00+08:00'
            ORDER BY t.id DESC LIMIT %(n)s
        ), ins AS (
            INSERT INTO ledger_transaction (
                source, external_id, kind, sme_id, sme_name, amount, bank_revenue, currency, occurred_at,
                booked_at, partner_active, content_hash, batch_id, branch_id, product_id, reverses_id)
            SELECT 'bench', 'LR' || o.id, 'reversal', o.sme_id, '', -o.amount, -o.bank_revenue, 'CNY',
                   o.occurred_at + interval '1 day', %(booked)s, o.partner_active, md5('LR' || o.id)::uuid,
                   %(batch)s, o.branch_id, o.product_id, o.id
            FROM o ORDER BY o.id
            RETURNING id, reverses_id, amount, bank_revenue, occurred_at
        )
        INSERT INTO ledger_transactionattribution (
            occurred_at, is_reversal, weight, amount, bank_revenue, partner_active, partner_id, product_id,
            transaction_id)
        SELECT ins.occurred_at, true, a.weight, -a.amount, -a.bank_revenue, a.partner_active, a.partner_id,
               a.product_id, ins.id
        FROM ins JOIN ledger_transactionattribution a ON a.transaction_id = ins.reverses_id
        ORDER BY ins.id
        """,
        {"n": count, "batch": batch_id, "booked": booked},
    )


def generate(size: int, partners: int) -> dict:
    from django.db import connection, transaction

    from core.periods import CHINA_TZ, Period
    from revenue.ledger.models import IngestionBatch
    from revenue.settlement.choices import RunKind, RunTrigger
    from revenue.settlement.services import settlement_run_start

    seed(partners)
    batch = IngestionBatch.objects.create(
        source_id="bench", channel="generator", received_at=dt.datetime(2026, 11, 1, tzinfo=CHINA_TZ)
    )
    with step(f"September: {size // 10:,} attributions"), connection.cursor() as cursor, transaction.atomic():
        insert_events(
            cursor,
            tag="S",
            month=SEPTEMBER,
            count=size // 10,
            partners=partners,
            batch_id=batch.pk,
            booked=dt.datetime(2026, 9, 1, tzinfo=CHINA_TZ),
        )
    vacuum()
    with step("close September (in this process)"):
        eager(True)
        run = settlement_run_start(period=Period(2026, 9), kind=RunKind.CLOSE, by=None, trigger=RunTrigger.COMMAND)
        run.refresh_from_db()
        assert run.state == "completed", run.error
    late_at = dt.datetime(2026, 11, 2, tzinfo=CHINA_TZ)
    with (
        step(f"October: {size:,} attributions, and {size // 100:,} late events and reversals of September"),
        connection.cursor() as cursor,
        transaction.atomic(),
    ):
        insert_events(
            cursor,
            tag="O",
            month=OCTOBER,
            count=size,
            partners=partners,
            batch_id=batch.pk,
            booked=dt.datetime(2026, 10, 1, tzinfo=CHINA_TZ),
        )
        insert_events(
            cursor, tag="L", month=SEPTEMBER, count=size // 200, partners=partners, batch_id=batch.pk, booked=late_at
        )
        late_reversals(cursor, count=size // 200, batch_id=batch.pk, booked=late_at)
    vacuum()
    return {"september_run": run.pk}


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in (
            "ledger_transaction",
            "ledger_transactionattribution",
            "settlement_settlement",
            "settlement_settlementline",
            "onboarding_partner",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")


# ---- timing -----------------------------------------------------------------------------------


def reset_october() -> None:
    """Undo October's close (benchmark only: the closed-period and frozen-settlement guards are suspended for this).

    Only the guards are suspended: foreign keys still hold, so a close that came to write anything
    else referring to October's settlements or runs makes the reset fail rather than leave it behind.
    """
    from django.db import connection, transaction

    from core.migrations_sql import guards_suspended

    with guards_suspended(), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM settlement_settlementperiod WHERE start = %s", [OCTOBER])
        found = cursor.fetchone()
        if not found:
            return
        period_id = found[0]
        cursor.execute(
            "DELETE FROM settlement_settlementline WHERE settlement_id IN "
            "(SELECT id FROM settlement_settlement WHERE period_id = %s)",
            [period_id],
        )
        cursor.execute("DELETE FROM settlement_settlement WHERE period_id = %s", [period_id])
        runs = "(SELECT id FROM settlement_settlementrun WHERE period_id = %s)"
        cursor.execute(f"DELETE FROM settlement_settlementrunfigure WHERE run_id IN {runs}", [period_id])
        cursor.execute(f"DELETE FROM settlement_settlementrunchunk WHERE run_id IN {runs}", [period_id])
        cursor.execute("DELETE FROM settlement_settlementrun WHERE period_id = %s", [period_id])
        cursor.execute(
            "UPDATE settlement_settlementperiod SET state = 'open', close_watermark = NULL, closed_at = NULL, "
            "closed_by_id = NULL, lower_watermark = NULL WHERE id = %s",
            [period_id],
        )
    with connection.cursor() as cursor:
        for table in ("settlement_settlement", "settlement_settlementline", "settlement_settlementrunfigure"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def close_october() -> tuple[float, object, float]:
    """Reset October, time the bare query, then time October's close; (close s, the run, bare s).

    The bare query runs right before each close, so that each pair sees the machine in the same
    state (its speed drifts by a fifth from minute to minute): the ratio is taken pair by pair.
    """
    from core.periods import Period
    from revenue.settlement.choices import RunKind, RunTrigger
    from revenue.settlement.models import SettlementRun
    from revenue.settlement.services import settlement_run_start, settlement_run_wait

    reset_october()
    bare = bare_query()
    started = time.perf_counter()
    run = settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=None, trigger=RunTrigger.COMMAND)
    run = settlement_run_wait(run, poll=0.05)
    elapsed = time.perf_counter() - started
    assert run.state == "completed", run.error
    return elapsed, SettlementRun.objects.get(pk=run.pk), bare


class _RolledBack(Exception):
    pass


def floor_writes(run) -> dict[str, float]:
    """The work any design that stores the same rows cannot avoid, timed step by step and rolled back.

    On the completed close ``run``: its one aggregation into figure rows, then a plain
    ``INSERT … SELECT`` copying its settlements and then its lines (into a scratch period, with all
    their indexes, constraints and triggers; no computation), and the update that freezes them.
    """
    from django.db import connection, transaction

    from revenue.settlement import aggregation
    from revenue.settlement.models import SettlementPeriod
    from revenue.settlement.selectors import run_window
    from revenue.settlement.services.writers import LINE_COLUMNS, SETTLEMENT_COLUMNS

    window = run_window(run)
    settlement_columns = [c for c in SETTLEMENT_COLUMNS if c not in ("id", "period_id", "state")]
    line_columns = [c for c in LINE_COLUMNS if c != "settlement_id"]
    times: dict[str, float] = {}
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            aggregation.figures_insert(run_id=run.pk, window=window)
            times["aggregate"] = time.perf_counter() - started
            scratch = SettlementPeriod.objects.create(start=dt.date(2099, 1, 1))
            # The copies have no planner statistics yet: hash joins, as the product's chunks use.
            cursor.execute("SET LOCAL enable_nestloop = off")
            started = time.perf_counter()
            cursor.execute(
                f"INSERT INTO settlement_settlement (period_id, state, {', '.join(settlement_columns)}) "
                f"SELECT %s, 'draft', {', '.join(settlement_columns)} FROM settlement_settlement WHERE run_id = %s",
                [scratch.pk, run.pk],
            )
            times["settlements"] = time.perf_counter() - started
            started = time.perf_counter()
            cursor.execute(
                f"INSERT INTO settlement_settlementline (settlement_id, {', '.join(line_columns)}) "
                f"SELECT n.id, {', '.join('l.' + c for c in line_columns)} FROM settlement_settlementline l "
                "JOIN settlement_settlement o ON o.id = l.settlement_id "
                "JOIN settlement_settlement n ON n.partner_id = o.partner_id AND n.period_id = %s "
                "WHERE o.run_id = %s",
                [scratch.pk, run.pk],
            )
            times["lines"] = time.perf_counter() - started
            started = time.perf_counter()
            cursor.execute(
                "UPDATE settlement_settlement SET state = 'closed', closed_at = now() WHERE period_id = %s",
                [scratch.pk],
            )
            times["freeze"] = time.perf_counter() - started
            raise _RolledBack
    except _RolledBack:
        pass
    times["total"] = sum(times.values())
    return times


def bare_query() -> float:
    from django.db import connection

    from core.periods import Period

    period = Period(2026, 10)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(BARE_QUERY, [period.start, period.end])
        cursor.fetchall()
    return time.perf_counter() - started


def summary(times: list[float]) -> dict:
    return {
        "best": round(min(times), 3),
        "median": round(statistics.median(times), 3),
        "all": [round(t, 3) for t in times],
    }


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process and its children (a worker's pool), in MB."""
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            pids += [int(c) for c in children]
    except OSError:
        pass
    peak = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return round(peak / 1024, 1)


def start_worker(concurrency: int, url: str, broker: str) -> subprocess.Popen:
    from bench.settle.worker import app, queue_name

    env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": broker}
    # Named after this process, so that a ping is answered by this run's worker only.
    node = f"bench{concurrency}-{os.getpid()}"
    log = open(Path(tempfile.gettempdir()) / f"bench-settle-worker-{concurrency}-{os.getpid()}.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.settle.worker",
            "worker",
            "--loglevel=WARNING",
            f"--queues={queue_name(url)}",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{node}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"celery worker exited early; see {log.name}")
        if app.control.ping(timeout=1.0, destination=[f"{node}@{os.uname().nodename}"]):
            return proc
    proc.terminate()
    sys.exit("celery worker did not answer within 60 s")


def stop_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def measure(size: int, args, url: str) -> dict:
    from django.db import connection

    from config.celery import app

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM ledger_transactionattribution WHERE occurred_at >= %s AND occurred_at < %s",
            ["2026-10-01T00:00:00+08:00", "2026-11-01T00:00:00+08:00"],
        )
        (october,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM ledger_transactionattribution")
        (total,) = cursor.fetchone()
    print(f"data: {october:,} attributions in October 2026, {total:,} in all")
    bare_query()  # warm-up

    eager(True)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    bare, in_process, ratios, run = [], [], [], None
    for _ in range(args.repeat):
        elapsed, run, bare_s = close_october()
        bare.append(bare_s)
        in_process.append(elapsed)
        ratios.append(elapsed / bare_s)
        ratio = elapsed / bare_s
        print(f"  bare GROUP BY {bare_s:.3f} s, then the close in this process: {elapsed:.3f} s = {ratio:.2f}×")
        print(f"      {run.timings}")
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    floors = [floor_writes(run) for _ in range(args.repeat)]
    floor = {key: round(statistics.median(f[key] for f in floors), 3) for key in floors[0]}
    floor_ratio = floor["total"] / statistics.median(bare)
    print(f"  floor (same rows, no computation): {floor['total']:.3f} s = {floor_ratio:.2f}× bare  {floor}")
    result = {
        "size": size,
        "attributions_october": october,
        "attributions_total": total,
        "partners": args.partners,
        "bare_group_by_s": summary(bare),
        "close_in_process_s": summary(in_process),
        # The median of the pairs' ratios (each close over the bare query timed right before it),
        # and for comparison the ratio of the medians.
        "ratio_median": round(statistics.median(ratios), 2),
        "ratio_of_medians": round(statistics.median(in_process) / statistics.median(bare), 2),
        "floor_s": floor,
        "floor_ratio": round(floor_ratio, 2),
        "peak_rss_mb_in_process": round(rss_after, 1),
        "peak_rss_mb_before_close": round(rss_before, 1),
        "run": {
            "settlements": run.settlements_count,
            "lines": run.lines_count,
            "chunks": run.chunks_total,
            "attributions": run.attributions_count,
            "bank_revenue": str(run.bank_revenue_total),
            "shares": str(run.share_total),
            "retained": str(run.retained_total),
            "timings": run.timings,
        },
        "workers": {},
    }
    reference = (run.share_total, run.lines_count, run.settlements_count)
    if args.workers:
        eager(False)
        app.control.purge()
        for concurrency in args.workers:
            proc = start_worker(concurrency, url, args.broker)
            try:
                times, worker_ratios = [], []
                for _ in range(args.repeat):
                    elapsed, wrun, bare_s = close_october()
                    assert (wrun.share_total, wrun.lines_count, wrun.settlements_count) == reference, (
                        "the same totals whatever the number of workers"
                    )
                    times.append(elapsed)
                    worker_ratios.append(elapsed / bare_s)
                    print(
                        f"  bare GROUP BY {bare_s:.3f} s, then the close on {concurrency} worker process(es): "
                        f"{elapsed:.3f} s = {elapsed / bare_s:.2f}×"
                    )
                rss = peak_rss_mb(proc.pid)
            finally:
                stop_worker(proc)
            result["workers"][str(concurrency)] = {
                **summary(times),
                "ratio_median": round(statistics.median(worker_ratios), 2),
                "peak_rss_mb": rss,
            }
        eager(True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000", help="comma-separated N (attributions in the month)")
    parser.add_argument("--partners", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", default="1,2", help="worker concurrencies to time ('' for none)")
    parser.add_argument("--broker", default=DEFAULT_BROKER)
    parser.add_argument("--keep-data", action="store_true", help="reuse the data of a previous run (one size)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench/results/settle.json", help="where the figures go")
    args = parser.parse_args()
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    args.workers = [int(w) for w in args.workers.split(",") if w]
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not url.startswith("postgres"):
        sys.exit("the benchmark runs on PostgreSQL: set DATABASE_URL=postgres://…")
    print(f"database: {url}, broker: {args.broker}")
    if not args.keep_data:
        recreate_database(url)
    setup_django(url, args.broker)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        print(f"server: {cursor.fetchone()[0].split(',')[0]}, {os.cpu_count()} CPUs")
    results = []
    for n, size in enumerate(args.sizes):
        print(f"\n== N = {size:,} attributions, M = {args.partners:,} partners ==")
        if n > 0 or not args.keep_data:
            if n > 0:
                connection.close()
                recreate_database(url)
            print("generating:")
            generate(size, args.partners)
        results.append(measure(size, args, url))
    print("\n== summary ==")
    header = ("N", "bare s", "close s", "ratio", "µs/attr", "1 worker", "2 workers", "ratio 2w", "RSS MB")
    print("{:>10} {:>8} {:>8} {:>6} {:>8} {:>9} {:>10} {:>8} {:>7}".format(*header))
    for r in results:
        close = r["close_in_process_s"]["median"]
        per = close / r["attributions_october"] * 1e6
        workers = [r["workers"].get(str(c), {}).get("median", float("nan")) for c in (1, 2)]
        ratio_2w = r["workers"].get("2", {}).get("ratio_median", float("nan"))
        print(
            f"{r['size']:>10,} {r['bare_group_by_s']['median']:>8.3f} {close:>8.3f} {r['ratio_median']:>6.2f} "
            f"{per:>8.2f} {workers[0]:>9.3f} {workers[1]:>10.3f} {ratio_2w:>8.2f} {r['peak_rss_mb_in_process']:>7.1f}"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
