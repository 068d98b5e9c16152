"""Benchmark: issue the PDF statements of a closed month of 10,000 partners, next to a bare reportlab document.

    DATABASE_URL=postgres://root@127.0.0.1:5432/bench_statements .venv/bin/python bench/statements/run.py

The database (its name must start with ``bench_``) is dropped and created and
migrated with the product's own migrations (the real settlement tables,
constraints and PostgreSQL triggers). Then, with set-based SQL (for data
generation only, bypassing the close): 40 branches, ``--partners`` partners,
and a closed 2026-10 with one settlement per partner — five product lines
and, for every third partner, an adjustment of 2026-09 — whose totals add up
as the close writes them (net, 6% VAT, payable).

Measured, in turn:

1. **Rendering, one process** (``--sample`` settlements, after a warm-up): the
   product's renderer (``revenue.statements.documents.statement_pdf_render``:
   embedded CJK font subset, page header and "page x of y", bilingual labels,
   the lines table, totals, verification code) against a bare reportlab
   document holding the same content — page 1's summary (payable in capitals,
   dates), invoicing instructions, issuer, the verification link beside the
   same QR code, the lines and the totals, the same cells and font in plain
   ``Table``s in a ``SimpleDocTemplate``: no header, footer, page numbers or
   label layout. Their rates and ratio. Target: the product at least half the bare rate.
2. **Issuing every statement, ``--workers`` processes**: the product's whole
   path, as the close's tasks run it (``statements_issue`` per chunk of
   ``--chunk`` settlements: read the settlements and their lines, render each,
   SHA-256, store the PDF files, insert the statement rows and their
   ``statement.ready`` events and queue their e-mail tasks — e-mails and webhook
   deliveries are tasks of their own, not timed here), the chunks split
   between the worker processes. Wall time,
   statements per second and each worker's peak RSS. Target: 10,000 in under 120 s.

Figures go to ``bench/results/statements.json`` (``--output``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://root@127.0.0.1:5432/bench_statements"
RESULTS = ROOT / "bench" / "results" / "statements.json"

BRANCHES = 40
MONTH = dt.date(2026, 10, 1)
PRODUCTS = [
    ("PAY_SETTLE", "支付结算", "fee", "0.3000"),
    ("ACCOUNT", "对公账户开立", "fee", "0.2500"),
    ("SCF_LOAN", "供应链贷款", "interest_margin", "0.2000"),
    ("EQUIP_LOAN", "设备贷款", "interest_margin", "0.1500"),
    ("WEALTH", "理财代销", "commission", "0.2500"),
]


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


def setup_django(url: str, media_root: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    # A benchmark's own throwaway database and processes: a key of its own (the settings require one).
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-key-never-used-for-anything-else-0123456789")
    os.environ["DJANGO_MEDIA_ROOT"] = media_root
    # As on the workers of a deployment, each issued statement's e-mail and webhooks are queued as tasks of
    # their own (here to an in-memory broker: not sent, not timed); mail would go nowhere anyway.
    os.environ["CELERY_BROKER_URL"] = "memory://localhost/"
    os.environ["CELERY_RESULT_BACKEND"] = "cache+memory://"
    os.environ["DJANGO_EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
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


def generate(partners: int) -> None:
    """A closed month: one settlement per partner with five product lines and, for a third, an adjustment."""
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection, transaction

    from core.periods import CHINA_TZ
    from organisation.models import Branch, User
    from organisation.roles import Role
    from revenue.ledger.models import Product

    with step("migrate"):
        call_command("migrate", verbosity=0)
    closed_at = dt.datetime(2026, 11, 1, 2, 0, tzinfo=CHINA_TZ)
    with step(f"{BRANCHES} branches and RMs, {len(PRODUCTS)} products"):
        Branch.objects.create(code="HQ", name="总行", is_head_office=True)
        for n in range(1, BRANCHES + 1):
            branch = Branch.objects.create(code=f"B{n:02d}", name=f"第{n:02d}分行")
            rm = User(username=f"rm{n:02d}", branch=branch, is_staff=True)
            rm.set_unusable_password()
            rm.save()
            rm.groups.set(Group.objects.filter(name=Role.BRANCH_RM.value))
        for code, name, kind, _ in PRODUCTS:
            Product.objects.create(code=code, name=name, revenue_kind=kind)
    with connection.cursor() as cursor, transaction.atomic():
        with step(f"{partners:,} partners"):
            cursor.execute(
                """
                INSERT INTO onboarding_partner (
                    partner_type, legal_name, credit_code, legal_representative, registered_capital, contact_name,
                    contact_phone, contact_email, settlement_account_name, settlement_bank, settlement_account_no,
                    risk_rating, tier, vat_rate, state, created_at, updated_at, branch_id, relationship_manager_id,
                    origin)
                SELECT (ARRAY['internet_platform','software_data','hardware','supply_chain','pe_vc'])[1 + k %% 5],
                       '基准服务商' || k || '号科技有限公司', 'BENCH' || lpad(k::text, 13, '0'), '张三', 1000000,
                       '李四', '13800000000', 'p' || k || '@bench.example', '基准服务商' || k || '号科技有限公司',
                       '本行' || b.name || '营业部', '6222' || lpad(k::text, 12, '0'),
                       'low', 'standard', 0.0600, 'active', now(), now(), b.id, u.id, 'staff'
                FROM generate_series(0, %(last)s) AS k
                JOIN organisation_branch b ON b.code = 'B' || lpad((1 + k %% %(branches)s)::text, 2, '0')
                JOIN organisation_user u ON u.branch_id = b.id
                ORDER BY k
                """,
                {"last": partners - 1, "branches": BRANCHES},
            )
        with step("closed 2026-10: settlements and lines"):
            cursor.execute(
                "INSERT INTO settlement_settlementperiod (start, state) VALUES ('2026-09-01', 'open'), "
                "('2026-10-01', 'open')"
            )
            cursor.execute("SELECT id FROM settlement_settlementperiod WHERE start = '2026-10-01'")
            period_id = cursor.fetchone()[0]
            cursor.execute(
                "CREATE TEMP TABLE rules (position int, code text, rate numeric) ON COMMIT DROP; "
                "INSERT INTO rules VALUES "
                + ", ".join(f"({n}, '{code}', {rate})" for n, (code, _, _, rate) in enumerate(PRODUCTS, start=1))
            )
            # Each line's figures: bank revenue in yuan (two places), its share at the product's rate.
            # (No parameters here: % is PostgreSQL's modulo, not a placeholder.)
            cursor.execute(
                """
                CREATE TEMP TABLE bl ON COMMIT DROP AS
                SELECT p.id AS partner_id, r.position, 'product'::varchar AS kind, pr.id AS product_id,
                       NULL::date AS corrects, 10 + (p.id * 7 + r.position * 13) % 400 AS cnt,
                       round((100 + (p.id * 7919 + r.position * 104729) % 5000000 / 100.0)::numeric, 2) AS br,
                       r.rate
                FROM onboarding_partner p CROSS JOIN rules r JOIN ledger_product pr ON pr.code = r.code
                UNION ALL
                SELECT p.id, 6, 'adjustment', pr.id, DATE '2026-09-01', -1 - p.id % 3,
                       round(-(10 + (p.id * 31) % 20000 / 100.0)::numeric, 2), 0.3
                FROM onboarding_partner p JOIN ledger_product pr ON pr.code = 'PAY_SETTLE'
                WHERE p.id % 3 = 0
                """
            )
            cursor.execute("ALTER TABLE bl ADD COLUMN share numeric; UPDATE bl SET share = round(br * rate, 2)")
            cursor.execute(
                """
                INSERT INTO settlement_settlement (
                    partner_id, period_id, state, watermark_from, watermark_to, transaction_count, bank_revenue,
                    share_total, adjustment_total, carried_in, net, vat_rate, vat, payable, carried_forward,
                    computed_at, closed_at, payment_reference)
                SELECT partner_id, %(period)s, 'draft', 0, 0, sum(abs(cnt)), sum(br), st, adj, 0, st + adj, 0.06,
                       round((st + adj) * 0.06, 2), st + adj + round((st + adj) * 0.06, 2), false,
                       %(at)s, %(at)s, ''
                FROM (SELECT *, sum(share) FILTER (WHERE kind = 'product') OVER w AS st,
                             coalesce(sum(share) FILTER (WHERE kind = 'adjustment') OVER w, 0) AS adj
                      FROM bl WINDOW w AS (PARTITION BY partner_id)) x
                GROUP BY partner_id, st, adj
                ORDER BY partner_id
                """,
                {"period": period_id, "at": closed_at},
            )
            cursor.execute(
                """
                INSERT INTO settlement_settlementline (
                    settlement_id, position, kind, product_id, corrects_period, transaction_count, net_count, volume,
                    bank_revenue, rule_description, effective_rate, share, description, reversal_count,
                    coserved_count, coserved_net_count, share_limit, previous_share)
                SELECT s.id, bl.position, bl.kind, bl.product_id, bl.corrects, abs(bl.cnt), bl.cnt, bl.br * 160,
                       bl.br, (bl.rate * 100)::numeric(5, 2) || '%% of bank revenue', bl.rate, bl.share, '',
                       -- a reversal in every 25 events, a co-served event in every 10 (half each), a cap now and then
                       CASE WHEN bl.cnt < 0 THEN abs(bl.cnt) ELSE bl.cnt / 25 END, abs(bl.cnt) / 10,
                       (abs(bl.cnt) / 10) * 0.5, CASE WHEN bl.position = 3 AND s.id %% 7 = 0 THEN 'cap' ELSE '' END,
                       CASE WHEN bl.kind = 'adjustment' THEN 1000.00 END
                FROM bl JOIN settlement_settlement s ON s.partner_id = bl.partner_id AND s.period_id = %s
                ORDER BY s.id, bl.position
                """,
                [period_id],
            )
            # As the close does: the drafts become closed, then the period.
            cursor.execute("UPDATE settlement_settlement SET state = 'closed' WHERE period_id = %s", [period_id])
            cursor.execute(
                "UPDATE settlement_settlementperiod SET state = 'closed', lower_watermark = 0, close_watermark = 0, "
                "closed_at = %s WHERE id = %s",
                [closed_at, period_id],
            )
        cursor.execute("ANALYZE")


def clear_statements() -> None:
    from django.db import connection

    from core.migrations_sql import guards_suspended

    # Issued statements are guarded by the database: the benchmark empties its own tables past the guard.
    tables = "statements_webhookdelivery, statements_partnerevent, statements_downloadevent, statements_statement"
    with guards_suspended(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables}")


# ---- the bare document ------------------------------------------------------------------------------------


def _bare_tables(data, *, lines_only: bool) -> list:
    """The statement's content as plain reportlab tables: page 1 (summary with the payable in capitals and the
    dates, invoicing instructions, issuer, the verification link beside its QR code), the lines, the totals.
    """
    from reportlab.lib.units import mm
    from reportlab.platypus import Table, TableStyle

    from core.money_words import amount_in_capitals
    from core.pdf import FONT_NAME, format_count, format_money, format_percent, register_fonts
    from revenue.statements.documents import (
        LINE_HEADER,
        LINE_WIDTHS,
        QR_SIZE,
        STATE_LABELS,
        _line_row,
        _qr,
        statement_code,
        verify_link,
    )

    register_fonts()
    style = TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT_NAME), ("FONTSIZE", (0, 0), (-1, -1), 8)])
    lines = [[f"{zh}\n{en}" for zh, en in LINE_HEADER], *(_line_row(line) for line in data.lines)]
    tables = [Table(lines, colWidths=LINE_WIDTHS, repeatRows=1, style=style)]
    if lines_only:
        return tables
    state = STATE_LABELS[data.state]
    code = statement_code(data)
    link = verify_link(data, code)
    summary = [
        ["服务商\nPartner", data.partner_name],
        ["结算期间\nPeriod", f"{data.period}（{data.period_first_day} – {data.period_last_day}）"],
        ["结算单号\nStatement no.", data.number],
        ["服务费（不含税）\nNet share before VAT", format_money(data.net)],
        [f"增值税\nVAT {format_percent(data.vat_rate)}", format_money(data.vat)],
        ["应付金额（元）\nPayable (CNY)", format_money(data.payable, symbol="¥")],
        ["金额大写\nPayable in words", f"人民币{amount_in_capitals(data.payable)}"],
        ["出具日期\nIssue date", f"{data.issued_on}"],
        ["付款到期日\nPayment due", f"{data.payment_due_on}"],
        ["争议截止日\nDispute deadline", f"{data.dispute_deadline}"],
        ["统一社会信用代码\nCredit code", data.credit_code],
        ["所属分行\nBranch", data.branch_name],
        ["结算账户\nSettlement account", f"{data.account_name}\n{data.account_bank} {data.account_no}"],
        ["结算状态（出具时）\nState at issue", f"{state[0]} {state[1]}"],
        ["关账时间\nClosed at", str(data.closed_at)],
        ["发票抬头（购买方）\nInvoice title (buyer)", data.invoice_title],
        ["纳税人识别号\nTaxpayer number", data.taxpayer_number],
        ["开票内容\nInvoice content", data.invoice_content],
        ["出具方\nIssued by", f"{data.bank_name} {data.bank_name_en}\n{data.bank_address} {data.bank_service_line}"],
    ]
    verification = [[_qr(link), f"验证码 Verification code: {code}\n{link}"]]
    totals = [
        ["归属交易笔数 Attributed transactions", format_count(data.transaction_count)],
        ["银行收入合计 Bank revenue", format_money(data.bank_revenue)],
        ["产品分润合计 Product shares", format_money(data.share_total)],
        ["调整合计 Adjustments", format_money(data.adjustment_total)],
        ["上期结转 Carried in", format_money(data.carried_in)],
        ["服务费（不含税） Service fee before VAT", format_money(data.net)],
        [f"增值税 VAT {format_percent(data.vat_rate)}", format_money(data.vat)],
        ["应付金额（元） Payable (CNY)", format_money(data.payable, symbol="¥")],
    ]
    return [
        Table(summary, colWidths=[42 * mm, 138 * mm], style=style),
        Table(verification, colWidths=[QR_SIZE + 4 * mm, 180 * mm - QR_SIZE - 4 * mm], style=style),
        *tables,
        Table(totals, colWidths=[75 * mm, 40 * mm], style=style),
    ]


def bare_render(data, *, lines_only: bool = False) -> bytes:
    """The statement's content (the same cells, font, page-1 summary and QR code) in a plain reportlab document: no
    page header or footer, no page numbers, no styling, no bilingual label layout — what rendering costs with
    nothing else.

    ``lines_only``: just the lines table.
    """
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, invariant=1)
    doc.build(_bare_tables(data, lines_only=lines_only))
    return buffer.getvalue()


def bare_lines_render(data) -> bytes:
    return bare_render(data, lines_only=True)


def compare(sample: int, repeat: int) -> dict:
    from revenue.settlement.models import Settlement
    from revenue.statements.documents import statement_pdf_render
    from revenue.statements.selectors import statement_data

    ids = list(Settlement.objects.order_by("pk").values_list("pk", flat=True)[:sample])
    with step(f"statement data of {len(ids)} settlements"):
        documents = [statement_data(settlement=Settlement(pk=pk)) for pk in ids]
    renderers = {"product": statement_pdf_render, "bare": bare_render, "bare_lines_table": bare_lines_render}
    for data in documents[:20]:  # warm-up: fonts, styles, caches
        for render in renderers.values():
            render(data)
    rates: dict[str, list[float]] = {label: [] for label in renderers}
    sizes = {}
    for _ in range(repeat):
        for label, render in renderers.items():
            # CPU time of this process: the machine is shared, wall time would count other work.
            start = time.process_time()
            total = sum(len(render(data)) for data in documents)
            rates[label].append(len(documents) / (time.process_time() - start))
            sizes[label] = total // len(documents)
    product, bare = statistics.median(rates["product"]), statistics.median(rates["bare"])
    lines_table = statistics.median(rates["bare_lines_table"])
    return {
        "sample": len(documents),
        "lines_per_statement": round(statistics.mean(len(d.lines) for d in documents), 2),
        "product_per_second": round(product, 1),
        "bare_per_second": round(bare, 1),
        "ratio": round(product / bare, 3),
        "bare_lines_table_per_second": round(lines_table, 1),
        "ratio_to_lines_table_only": round(product / lines_table, 3),
        "bytes": sizes,
        "runs": {label: [round(r, 1) for r in values] for label, values in rates.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


# ---- issuing with worker processes --------------------------------------------------------------------------


def _worker_init(url: str, media_root: str) -> None:
    setup_django(url, media_root)


def _issue(ids: list[int]) -> tuple[int, int, float]:
    from django.db import connection

    from revenue.statements.services import statements_issue

    start = time.process_time()
    size = sum(statement.size for statement in statements_issue(settlement_ids=ids))
    connection.close()
    return len(ids), size, time.process_time() - start


def issue_all(url: str, media_root: str, workers: int, chunk: int) -> dict:
    from revenue.settlement.models import Settlement

    ids = list(Settlement.objects.order_by("pk").values_list("pk", flat=True))
    chunks = [ids[i : i + chunk] for i in range(0, len(ids), chunk)]
    context = multiprocessing.get_context("spawn")
    issued = size = 0
    cpu = 0.0
    start = time.perf_counter()
    with context.Pool(workers, initializer=_worker_init, initargs=(url, media_root)) as pool:
        for count, nbytes, seconds in pool.imap_unordered(_issue, chunks):
            issued += count
            size += nbytes
            cpu += seconds
            if issued % 2000 < chunk:
                print(f"    {issued:,} issued, {time.perf_counter() - start:.0f} s", flush=True)
        pool.close()
        pool.join()
    wall = time.perf_counter() - start
    children_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "statements": issued,
        "workers": workers,
        "wall_seconds": round(wall, 1),
        "per_second": round(issued / wall, 1),
        "worker_cpu_seconds": round(cpu, 1),
        "mean_pdf_bytes": size // max(issued, 1),
        "peak_worker_rss_mb": round(children_rss, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partners", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample", type=int, default=500, help="settlements rendered for the comparison")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=50, help="settlements per task (STATEMENT_ISSUE_CHUNK)")
    parser.add_argument("--keep-data", action="store_true", help="reuse the generated month")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the figures go")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        sys.exit("the benchmark runs on PostgreSQL: set DATABASE_URL=postgres://…/bench_statements")
    media_root = tempfile.mkdtemp(prefix="bench-statements-")
    try:
        print("Data")
        if not args.keep_data:
            recreate_database(url)
        setup_django(url, media_root)
        if not args.keep_data:
            generate(args.partners)
        clear_statements()
        print("Rendering, one process: product vs bare reportlab")
        comparison = compare(args.sample, args.repeat)
        print(
            f"  product {comparison['product_per_second']}/s, bare (same tables) {comparison['bare_per_second']}/s: "
            f"ratio {comparison['ratio']} (target ≥ 0.5); bare lines table alone "
            f"{comparison['bare_lines_table_per_second']}/s: ratio {comparison['ratio_to_lines_table_only']}; "
            f"peak RSS {comparison['peak_rss_mb']} MB"
        )
        print(f"Issuing every statement, {args.workers} worker processes")
        issued = issue_all(url, media_root, args.workers, args.chunk)
        print(
            f"  {issued['statements']:,} statements in {issued['wall_seconds']} s = {issued['per_second']}/s "
            f"(target: 10,000 in < 120 s); peak worker RSS {issued['peak_worker_rss_mb']} MB, "
            f"mean PDF {issued['mean_pdf_bytes']:,} bytes"
        )
        result = {
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "render": comparison,
            "issue": issued,
        }
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
        print(f"Figures written to {args.output}")
    finally:
        shutil.rmtree(media_root, ignore_errors=True)


if __name__ == "__main__":
    main()
