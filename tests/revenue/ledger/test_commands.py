"""The commands: a generated month (file or booked), the large-file ingestion, the demo catalogue."""

from __future__ import annotations

import csv
import hashlib
import io
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from core.periods import Period
from demo.generator import PartnerRef, ProductRef, generate_rows
from demo.revenue import DEMO_DEFAULTS, DEMO_PRODUCTS, revenue_demo_setup
from onboarding.models import AdmissionState, Partner
from revenue.ledger.ingestion.rows import COLUMNS
from revenue.ledger.models import Agreement, AgreementVersion, IngestionBatch, Product, Transaction
from tests.revenue.factories import active_partner, beijing, txn_row


@pytest.fixture
def demo_partners(db):
    """Six active partners of different types and one suspended one."""
    from onboarding.models import PartnerType

    partners = [active_partner(partner_type=t) for t in PartnerType.values]
    partners.append(active_partner(partner_type=PartnerType.SOFTWARE_DATA))
    suspended = active_partner(partner_type=PartnerType.HARDWARE)
    Partner.objects.filter(pk=suspended.pk).update(state=AdmissionState.SUSPENDED)
    suspended.active_periods.update(ended_at=beijing(2026, 9, 1))
    return partners, suspended


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_demo_catalogue_is_created_once(db):
    first = revenue_demo_setup()
    assert first == {
        "products": len(DEMO_PRODUCTS),
        "agreements": sum(len(v) for v in DEMO_DEFAULTS.values()),
        "source systems": 1,
    }
    assert revenue_demo_setup() == {"products": 0, "agreements": 0, "source systems": 0}
    assert Product.objects.count() == len(DEMO_PRODUCTS)
    assert AgreementVersion.objects.count() == Agreement.objects.count() == first["agreements"]
    kinds = set(AgreementVersion.objects.values_list("rule_kind", flat=True))
    assert kinds == {"percentage", "fixed_per_transaction", "tiered_progressive", "tiered_retroactive"}
    call_command("setup_revenue_demo", stdout=io.StringIO())


def test_a_generated_month_has_the_realistic_mix(tmp_path, demo_partners):
    _, suspended = demo_partners
    out = tmp_path / "october.csv"
    call_command("generate_transactions", month="2026-10", count=6000, out=out, seed=7, stdout=io.StringIO())

    rows = read_csv(out)
    assert len(rows) == 6000 and list(rows[0]) == list(COLUMNS)
    ids = Counter(r["external_id"] for r in rows)
    assert 0 < sum(n - 1 for n in ids.values()) < 100  # ~0.5% sent twice
    reversals = [r for r in rows if r["kind"] == "reversal"]
    assert 20 < len(reversals) < 120  # ~1%
    by_id = {r["external_id"]: r for r in rows if r["kind"] == "normal"}
    for reversal in reversals:
        original = by_id[reversal["reverses"]]
        assert reversal["amount"] in (f"-{original['amount']}", "0.00") and reversal["partner"] == original["partner"]
        assert reversal["occurred_at"] >= original["occurred_at"][:7]
    assert len({r["reverses"] for r in reversals}) == len(reversals)  # each reversed once
    assert 40 < sum(";" in r["partner"] for r in rows) < 250  # ~2% co-served
    assert 20 < sum(r["occurred_at"].startswith("2026-09") for r in rows) < 150  # ~1% late
    assert any(r["partner"].startswith(suspended.credit_code) for r in rows)  # ~0.5% of an inactive partner
    assert {r["product"] for r in rows} <= set(Product.objects.values_list("code", flat=True))

    again = tmp_path / "again.csv"
    call_command("generate_transactions", month="2026-10", count=6000, out=again, seed=7, stdout=io.StringIO())
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(again.read_bytes()).digest()


def test_a_generated_file_books_through_the_large_file_command(tmp_path, demo_partners):
    _, suspended = demo_partners
    out = tmp_path / "october.csv"
    call_command("generate_transactions", month="2026-10", count=3000, out=out, seed=3, stdout=io.StringIO())
    rows = read_csv(out)
    repeated = sum(n - 1 for n in Counter(r["external_id"] for r in rows).values())

    stdout = io.StringIO()
    call_command("ingest_transactions", str(out), source="demo", stdout=stdout)

    assert f"3000 rows, {3000 - repeated} booked, {repeated} duplicates" in stdout.getvalue()
    assert Transaction.objects.count() == 3000 - repeated
    batch = IngestionBatch.objects.get()
    assert (batch.channel, batch.filename, batch.received_by) == ("file", "october.csv", None)
    assert Transaction.objects.filter(kind="reversal").count() == sum(r["kind"] == "reversal" for r in rows)
    assert not Transaction.objects.get(
        external_id=next(r["external_id"] for r in rows if r["partner"] == suspended.credit_code)
    ).partner_active

    # The very same file again is refused, naming the earlier batch; asked for explicitly, it is all duplicates.
    with pytest.raises(CommandError, match=f"already booked as batch {batch.pk}"):
        call_command("ingest_transactions", str(out), source="demo", stdout=io.StringIO())
    replay = io.StringIO()
    call_command("ingest_transactions", str(out), source="demo", allow_same_file=True, stdout=replay)
    assert "3000 rows, 0 booked, 3000 duplicates" in replay.getvalue()


def test_generating_without_a_file_books_the_month(demo_partners):
    stdout = io.StringIO()
    call_command("generate_transactions", month="2026-10", count=1500, seed=5, stdout=stdout)
    batch = IngestionBatch.objects.get()
    assert batch.channel == "generator" and batch.rows_received == 1500
    assert batch.rows_created + batch.rows_duplicate == 1500 and batch.rows_duplicate > 0
    assert Transaction.objects.count() == batch.rows_created


def test_generating_needs_active_partners(db):
    with pytest.raises(CommandError, match="No active partners"):
        call_command("generate_transactions", month="2026-10", count=10, stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("generate_transactions", month="October", count=10, stdout=io.StringIO())


def test_a_file_with_bad_lines_is_rejected_whole_with_their_line_numbers(tmp_path, pay, active_x):
    good = txn_row(active_x, "F-1")
    path = tmp_path / "bad.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(good))
        writer.writeheader()
        writer.writerow(good)
        writer.writerow({**good, "external_id": "F-2", "amount": "12,5"})
        writer.writerow({**good, "external_id": "F-3"})
        writer.writerow({**good, "external_id": "F-4", "partner": "NOPE", "occurred_at": "2026-10-32T00:00:00"})

    stderr = io.StringIO()
    with pytest.raises(CommandError, match="2 bad rows"):
        call_command("ingest_transactions", str(path), source="payments", stderr=stderr, stdout=io.StringIO())

    assert stderr.getvalue().splitlines() == [
        "line 3 amount: Not an amount: use at most 13 digits before the point and two after it, e.g. 1234.50.",
        "line 5 occurred_at: Not a date and time between 2000 and 2999: use ISO 8601, e.g. 2026-10-08T14:30:00+08:00.",
    ]
    assert not Transaction.objects.exists() and not IngestionBatch.objects.exists()


def test_a_malformed_csv_is_rejected_with_the_line(tmp_path, pay, active_x):
    path = tmp_path / "broken.csv"
    good = txn_row(active_x, "M-1")
    path.write_text(
        ",".join(good) + "\n" + ",".join(good.values()) + "\n" + ",".join([*good.values(), "extra"]) + "\n",
        encoding="utf-8",
    )
    stderr = io.StringIO()
    with pytest.raises(CommandError):
        call_command("ingest_transactions", str(path), source="payments", stderr=stderr, stdout=io.StringIO())
    assert stderr.getvalue().startswith("line 3")
    assert not Transaction.objects.exists()


def test_a_file_without_header_columns_or_not_at_all(tmp_path, db):
    path = tmp_path / "nohead.csv"
    path.write_text("partner,amount\nX,1\n", encoding="utf-8")
    stderr = io.StringIO()
    with pytest.raises(CommandError):
        call_command("ingest_transactions", str(path), source="payments", stderr=stderr, stdout=io.StringIO())
    assert "line 1 external_id: The file has no column external_id." in stderr.getvalue()
    with pytest.raises(CommandError, match="No such file"):
        call_command("ingest_transactions", str(tmp_path / "missing.csv"), source="payments")


def test_a_utf8_bom_and_windows_line_ends_are_fine(tmp_path, pay, active_x):
    good = txn_row(active_x, "W-1")
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (",".join(good) + "\r\n" + ",".join(good.values()) + "\r\n").encode())
    call_command("ingest_transactions", str(path), source="payments", stdout=io.StringIO())
    assert Transaction.objects.get().sme_name == good["sme_name"]


def test_the_generator_streams_in_bounded_memory():
    partners = [PartnerRef(f"9144030000000{i:04d}X", "software_data") for i in range(50)]
    products = [ProductRef("PAY_SETTLE", "fee"), ProductRef("SCF_LOAN", "interest_margin")]

    def peak(count: int) -> int:
        tracemalloc.start()
        for _ in generate_rows(period=Period(2026, 10), count=count, partners=partners, products=products):
            pass
        peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak_bytes

    small, large = peak(30_000), peak(120_000)
    assert large < small * 1.5, (small, large)
