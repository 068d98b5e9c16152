#!/usr/bin/env python
"""Ingestion benchmark: the large-file path next to a raw COPY of the same file, and the REST batch endpoint.

    python bench/ingest/run.py [--rows 1000000] [--partners 2000]

On PostgreSQL (``DATABASE_URL``, default postgres://root@127.0.0.1:5432/bench_ingest;
the database is dropped and re-created), with a migrated schema, 40 branches,
active partners and the demo catalogue:

1. generates a month of ``--rows`` transactions to a CSV (``generate_transactions``);
2. times a raw ``COPY`` of that file into a bare table (typed columns, no index,
   no constraint), fed block by block from Python as the product path is; and,
   for reference, the same ``COPY`` into a table with a key and an index on the
   external id (the least a ledger that recognises resent rows writes);
3. times the product path, ``manage.py ingest_transactions FILE`` in a child
   process (the ingestion itself, from the command's own clock, and its peak RSS);
   and again on a file a tenth the size, to show memory does not grow with the file;
4. times the ceiling of any checked design on the real ledger: the writes it cannot
   avoid (the file copied into a text staging table, the rows the product just
   booked inserted again, typed and resolved, with ``INSERT … SELECT`` into the
   migrated ledger tables, their indexes and triggers), then rolls them back;
5. posts batches of ``--api-rows`` (10,000) transactions to ``POST /api/v1/transactions/batch/``
   in-process (the test client, token authentication) and times them.

Prints rows per second of each, the ratio product / raw COPY (target ≥ 0.2),
the best ratio reachable (raw COPY / the ceiling) and peak RSS; writes the
figures to bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://root@127.0.0.1:5432/bench_ingest"
MONTH = "2026-10"
SOURCE, SMALL_SOURCE, API_SOURCE = "bench", "bench-small", "bench-api"


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not name.startswith("bench_"):
        raise SystemExit(f"the benchmark drops and re-creates its database: its name must start with bench_ ({name})")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    # A benchmark's own throwaway database and processes: a key of its own (the settings require one).
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-key-never-used-for-anything-else-0123456789")
    import django

    django.setup()


def seed(partners: int, branches: int) -> None:
    """Branches, one RM each, active partners spread over them and the types, the demo catalogue, the sources."""
    from django.core.management import call_command

    from core.periods import CHINA_TZ
    from demo.revenue import revenue_demo_setup
    from onboarding.models import AdmissionState, Partner, PartnerActivePeriod, PartnerType
    from onboarding.validators import uscc_check_character
    from organisation.models import Branch, User
    from revenue.ledger.services import source_system_register

    call_command("migrate", verbosity=0)
    Branch.objects.bulk_create(Branch(code=f"B{i:02d}", name=f"第{i}分行") for i in range(branches))
    branch_list = list(Branch.objects.order_by("code"))
    User.objects.bulk_create(User(username=f"rm{b.code}", branch=b, is_staff=True) for b in branch_list)
    rms = {u.branch_id: u for u in User.objects.filter(branch__isnull=False)}
    types = PartnerType.values
    rows = []
    for i in range(partners):
        body = f"9144{i % 100:02d}00{i:010d}"[:17]
        branch = branch_list[i % branches]
        rows.append(
            Partner(
                partner_type=types[i % len(types)],
                legal_name=f"基准服务商{i}有限公司",
                credit_code=body + uscc_check_character(body),
                legal_representative="张三",
                branch=branch,
                relationship_manager=rms[branch.pk],
                state=AdmissionState.ACTIVE,
            )
        )
    Partner.objects.bulk_create(rows, batch_size=1000)
    since = dt.datetime(2026, 1, 1, tzinfo=CHINA_TZ)
    PartnerActivePeriod.objects.bulk_create(
        (PartnerActivePeriod(partner_id=pk, started_at=since) for pk in Partner.objects.values_list("pk", flat=True)),
        batch_size=1000,
    )
    revenue_demo_setup()
    # The file's rows and the tenth-size file's come from sources of their own (external ids are unique
    # per source); the REST batches from a third, whose API account posts them (rest_batches).
    source_system_register(code=SOURCE, name="基准数据", by=None)
    source_system_register(code=SMALL_SOURCE, name="基准数据（十分之一）", by=None)


def checkpoint() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


def generate(path: Path, rows: int, seed_value: int) -> float:
    from django.core.management import call_command

    started = time.monotonic()
    call_command("generate_transactions", month=MONTH, count=rows, out=path, seed=seed_value, verbosity=0)
    return time.monotonic() - started


def raw_copy(path: Path) -> float:
    """COPY the file into a bare table of the same columns: typed, no index, no constraint."""
    from django.db import connection

    from revenue.ledger.ingestion.rows import COLUMNS

    types = {"amount": "numeric(18, 2)", "bank_revenue": "numeric(18, 2)", "occurred_at": "timestamptz"}
    columns = ", ".join(f"{c} {types.get(c, 'text')}" for c in COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_bare_copy")
        cursor.execute(f"CREATE TABLE bench_bare_copy ({columns})")
    checkpoint()
    started = time.monotonic()
    with connection.cursor() as cursor, path.open("rb") as stream:
        with cursor.copy("COPY bench_bare_copy FROM STDIN (FORMAT csv, HEADER true)") as copy:
            while block := stream.read(1 << 20):
                copy.write(block)
    elapsed = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_bare_copy")
    return elapsed


def indexed_copy(path: Path) -> float:
    """COPY the file once into a table with only what idempotency needs: a key and an index on the external id.

    No check, no resolution of partner or product codes, no second table: the least a ledger that
    recognises a resent row could write, for comparison with the bare COPY.
    """
    from django.db import connection

    from revenue.ledger.ingestion.rows import COLUMNS

    types = {"amount": "numeric(18, 2)", "bank_revenue": "numeric(18, 2)", "occurred_at": "timestamptz"}
    columns = ", ".join(f"{c} {types.get(c, 'text')}" for c in COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_indexed_copy")
        cursor.execute(f"CREATE TABLE bench_indexed_copy (id bigserial PRIMARY KEY, {columns})")
        # Not unique: the generated file repeats some ids on purpose (idempotent replays).
        cursor.execute("CREATE INDEX ON bench_indexed_copy (external_id)")
    checkpoint()
    started = time.monotonic()
    with connection.cursor() as cursor, path.open("rb") as stream:
        with cursor.copy(
            f"COPY bench_indexed_copy ({', '.join(COLUMNS)}) FROM STDIN (FORMAT csv, HEADER true)"
        ) as copy:
            while block := stream.read(1 << 20):
                copy.write(block)
    elapsed = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_indexed_copy")
    return elapsed


def ledger_ceiling(path: Path) -> dict:
    """The writes any checked design must make, timed on the real ledger tables, then rolled back.

    Whatever the checks cost, a design that checks in the database stages the
    file and then writes every booked row into the ledger. This times exactly
    that: COPY of the file into a temporary table of text (no line numbers, no
    ids), and ``INSERT … SELECT`` into the transactions and the attributions of
    the very rows the product path booked (read back beforehand, so typed and
    resolved: no check, no join, no digest), with the ledger's indexes, constraints
    and insert triggers. Run right after the product path, on an emptied ledger
    (TRUNCATE inside the transaction, undone by the rollback).
    """
    from django.db import connection, transaction

    from core.migrations_sql import guards_suspended
    from revenue.ledger.ingestion.rows import COLUMNS
    from revenue.ledger.models import Transaction, TransactionAttribution

    # Only the columns a writer gives: the database computes the generated ones (the integer fen) itself.
    written = {
        model._meta.db_table: ", ".join(f.column for f in model._meta.concrete_fields if not f.generated)
        for model in (Transaction, TransactionAttribution)
    }
    ledger = tuple(written)
    # The ledger refuses TRUNCATE; its guards are suspended for this rolled-back transaction only.
    with guards_suspended(), transaction.atomic(), connection.cursor() as cursor:
        for table, columns in written.items():
            cursor.execute(f"CREATE TEMP TABLE bench_resolved_{table} ON COMMIT DROP AS SELECT {columns} FROM {table}")
        cursor.execute(
            "SELECT (SELECT count(*) FROM ledger_transaction), (SELECT count(*) FROM ledger_transactionattribution)"
        )
        transactions, attributions = cursor.fetchone()
        cursor.execute(f"TRUNCATE {', '.join(ledger)}")
        cursor.execute(
            f"CREATE TEMP TABLE bench_ceiling_stage ({', '.join(f'{c} text' for c in COLUMNS)}) ON COMMIT DROP"
        )
        cursor.execute("CHECKPOINT")
        timings = {}
        started = time.monotonic()
        with path.open("rb") as stream:
            with cursor.copy("COPY bench_ceiling_stage FROM STDIN (FORMAT csv, HEADER true)") as copy:
                while block := stream.read(1 << 20):
                    copy.write(block)
        timings["copy"] = time.monotonic() - started
        for table, columns in written.items():
            started = time.monotonic()
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM bench_resolved_{table}")
            timings[table] = time.monotonic() - started
        transaction.set_rollback(True)
    return {
        "seconds": sum(timings.values()),
        "copy_seconds": timings["copy"],
        "insert_transactions_seconds": timings["ledger_transaction"],
        "insert_attributions_seconds": timings["ledger_transactionattribution"],
        "transactions": transactions,
        "attributions": attributions,
    }


def empty_ledger() -> None:
    """Back to an empty ledger for another timed run (benchmark only: the append-only guards are suspended)."""
    from django.db import connection

    from core.migrations_sql import guards_suspended

    with guards_suspended(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE ledger_transactionattribution, ledger_transaction, ledger_ingestionbatch")


def product_path(path: Path, source: str, url: str, workdir: Path) -> dict:
    """``manage.py ingest_transactions`` in a child process: its own clock, wall time and the child's peak RSS."""
    checkpoint()
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "INFO"}
    out_path, err_path = workdir / "ingest.out", workdir / "ingest.err"
    with out_path.open("w") as out, err_path.open("w") as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            # English output (parsed below) and -v 2, which lets the phase log line through to stderr.
            [
                sys.executable,
                "manage.py",
                "ingest_transactions",
                str(path),
                "--source",
                source,
                "--lang",
                "en",
                "-v",
                "2",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
        # wait4 reaps this very child and returns its own resource usage (peak RSS included).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = out_path.read_text(), err_path.read_text()
    if proc.returncode != 0:
        raise SystemExit(f"ingest_transactions failed:\n{out}\n{err[-5000:]}")
    match = re.search(r"(\d+) rows, (\d+) booked, (\d+) duplicates .* in ([\d.]+) s", out)
    phases = re.search(r"ingested .*?: (.*)$", err, re.MULTILINE)
    in_ledger = ledger_count(source)
    if in_ledger != int(match.group(2)):
        raise SystemExit(f"ingest_transactions said {match.group(2)} booked; the ledger holds {in_ledger} of {source}")
    return {
        "rows": int(match.group(1)),
        "booked": int(match.group(2)),
        "duplicates": int(match.group(3)),
        "seconds": float(match.group(4)),
        "wall_seconds": wall,
        "phases": phases.group(1) if phases else "",
        "peak_rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux
    }


def ledger_count(source: str) -> int:
    from revenue.ledger.models import Transaction

    return Transaction.objects.filter(source=source).count()


def rest_batches(batches: int, per_request: int = 10_000) -> dict:
    from rest_framework.test import APIClient

    from core.periods import Period
    from demo.generator import PartnerRef, ProductRef, generate_rows
    from demo.revenue import demo_products_by_partner_type
    from onboarding.models import AdmissionState, Partner
    from organisation.models import User
    from organisation.roles import Role
    from organisation.services import user_create
    from portal.services import api_token_issue
    from revenue.ledger.models import Product, SourceSystem
    from revenue.ledger.services import source_system_register

    user = User.objects.filter(username=API_SOURCE).first() or user_create(
        username=API_SOURCE, password=secrets.token_urlsafe(16), roles=[Role.SOURCE_SYSTEM]
    )
    # A source system posts with its own API account: the batches are booked under its code.
    if not SourceSystem.objects.filter(code=API_SOURCE).exists():
        source_system_register(code=API_SOURCE, name="基准接口", user=user, by=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=user, name='bench').key}")
    sold = demo_products_by_partner_type()
    partners = [
        PartnerRef(code, ptype, sold.get(ptype, ()))
        for code, ptype in Partner.objects.filter(state=AdmissionState.ACTIVE).values_list(
            "credit_code", "partner_type"
        )
    ]
    products = [ProductRef(c, k) for c, k in Product.objects.values_list("code", "revenue_kind")]
    rows = generate_rows(
        period=Period.parse(MONTH), count=batches * per_request, partners=partners, products=products, seed=99
    )
    timings = []
    for _ in range(batches):
        body = {"transactions": [next(rows) for _ in range(per_request)]}
        started = time.monotonic()
        response = client.post("/api/v1/transactions/batch/", body, format="json")
        timings.append(time.monotonic() - started)
        if response.status_code != 201:
            raise SystemExit(f"REST batch refused: {response.status_code} {response.content[:500]!r}")
    return {"requests": batches, "rows_per_request": per_request, "seconds": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=2_000)
    parser.add_argument("--branches", type=int, default=40)
    parser.add_argument("--api-requests", type=int, default=5, help="REST requests to time.")
    parser.add_argument("--api-rows", type=int, default=10_000, help="Rows per REST request.")
    parser.add_argument("--repeat", type=int, default=1, help="Time raw COPY and the product path N times each.")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "bench_ingest")
    parser.add_argument("--output", type=Path, default=ROOT / "bench/results/ingest.json", help="where the figures go")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the ingestion benchmark runs on PostgreSQL: set DATABASE_URL=postgres://…")
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"database {url}; {args.rows:,} rows over {args.partners:,} partners in {args.branches} branches")
    recreate_database(url)
    setup_django(url)
    seed(args.partners, args.branches)

    big, small = args.workdir / "month.csv", args.workdir / "month_small.csv"
    gen_seconds = generate(big, args.rows, 1)
    generate(small, max(args.rows // 10, 1), 2)
    print(f"generated {args.rows:,} rows ({big.stat().st_size / 2**20:.0f} MiB) in {gen_seconds:.1f} s")

    copy_runs, indexed_runs, product_runs, ceiling_runs = [], [], [], []
    for attempt in range(args.repeat):
        if attempt:
            empty_ledger()
        copy_runs.append(raw_copy(big))
        indexed_runs.append(indexed_copy(big))
        product_runs.append(product_path(big, SOURCE, url, args.workdir))
        ceiling_runs.append(ledger_ceiling(big))
    copy_seconds = statistics.median(copy_runs)
    product = sorted(product_runs, key=lambda r: r["seconds"])[len(product_runs) // 2]  # the median run
    ceiling = sorted(ceiling_runs, key=lambda r: r["seconds"])[len(ceiling_runs) // 2]
    small_product = product_path(small, SMALL_SOURCE, url, args.workdir)
    rss_big, rss_small = max(r["peak_rss_mb"] for r in product_runs), small_product["peak_rss_mb"]
    rest = rest_batches(args.api_requests, args.api_rows)

    copy_rate = args.rows / copy_seconds
    product_rate = product["rows"] / product["seconds"]
    rest_rate = rest["rows_per_request"] * rest["requests"] / sum(rest["seconds"])
    figures = {
        "rows": args.rows,
        "partners": args.partners,
        "generate_seconds": round(gen_seconds, 2),
        "runs": args.repeat,
        "raw_copy_seconds": round(copy_seconds, 2),
        "raw_copy_seconds_all": [round(x, 2) for x in copy_runs],
        "product_seconds_all": [round(r["seconds"], 2) for r in product_runs],
        "raw_copy_rows_per_second": round(copy_rate),
        "product_seconds": round(product["seconds"], 2),
        "product_wall_seconds": round(product["wall_seconds"], 2),
        "product_rows_per_second": round(product_rate),
        "product_booked": product["booked"],
        "product_duplicates": product["duplicates"],
        "product_phases": product["phases"],
        "ratio": round(product_rate / copy_rate, 3),
        "ceiling_seconds": round(ceiling["seconds"], 2),
        "ceiling_seconds_all": [round(r["seconds"], 2) for r in ceiling_runs],
        "ceiling_phases": {
            "copy to text staging": round(ceiling["copy_seconds"], 2),
            "insert transactions": round(ceiling["insert_transactions_seconds"], 2),
            "insert attributions": round(ceiling["insert_attributions_seconds"], 2),
        },
        "ceiling_rows": {"transactions": ceiling["transactions"], "attributions": ceiling["attributions"]},
        "best_ratio_reachable": round(copy_seconds / ceiling["seconds"], 3),
        "indexed_copy_seconds": round(statistics.median(indexed_runs), 2),
        "indexed_copy_seconds_all": [round(x, 2) for x in indexed_runs],
        "indexed_copy_ratio": round(copy_seconds / statistics.median(indexed_runs), 3),
        "peak_rss_mb": round(rss_big, 1),
        "peak_rss_mb_tenth_file": round(rss_small, 1),
        "rest_request_seconds": [round(s, 2) for s in rest["seconds"]],
        "rest_rows_per_second": round(rest_rate),
    }
    if args.repeat > 1:
        print(
            f"medians of {args.repeat} runs (raw COPY {', '.join(f'{x:.2f}' for x in copy_runs)} s; "
            f"product {', '.join(f'{seconds:.2f}' for seconds in figures['product_seconds_all'])} s; "
            f"ceiling {', '.join(f'{seconds:.2f}' for seconds in figures['ceiling_seconds_all'])} s)"
        )
    print(f"raw COPY into a bare table : {copy_seconds:7.2f} s  {copy_rate:>10,.0f} rows/s")
    print(
        f"ingest_transactions        : {product['seconds']:7.2f} s  {product_rate:>10,.0f} rows/s"
        f"  ({product['booked']:,} booked, {product['duplicates']:,} duplicates; {product['wall_seconds']:.1f} s wall)"
    )
    print(f"  phases: {product['phases']}")
    print(f"ratio product / raw COPY   : {figures['ratio']:.2f}  (target ≥ 0.2)")
    print(
        f"ceiling, writes alone      : {ceiling['seconds']:7.2f} s  "
        f"(copy to text staging {ceiling['copy_seconds']:.2f} s, "
        f"insert {ceiling['transactions']:,} transactions {ceiling['insert_transactions_seconds']:.2f} s, "
        f"{ceiling['attributions']:,} attributions {ceiling['insert_attributions_seconds']:.2f} s)"
    )
    print(f"best ratio reachable       : {figures['best_ratio_reachable']:.2f}  (raw COPY / ceiling)")
    print(
        f"one unchecked COPY with a key and an external-id index: {figures['indexed_copy_seconds']:.2f} s, "
        f"ratio {figures['indexed_copy_ratio']:.2f} (runs {', '.join(f'{x:.2f}' for x in indexed_runs)} s)"
    )
    print(
        f"peak RSS of the product path: {rss_big:.0f} MB for {args.rows:,} rows, "
        f"{rss_small:.0f} MB for {small_product['rows']:,} rows"
    )
    print(
        f"REST batch endpoint        : {rest['requests']} × {rest['rows_per_request']:,} rows, "
        f"{rest_rate:,.0f} rows/s (per request: {', '.join(f'{s:.2f} s' for s in rest['seconds'])})"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
