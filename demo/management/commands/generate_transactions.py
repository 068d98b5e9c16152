"""``python manage.py generate_transactions --month 2026-10 --count N [--out FILE] [--seed S]``.

A realistic synthetic month over the active partners and the products their
types have agreements for (see :mod:`demo.generator`), with duplicates,
reversals, co-served, late and inactive-partner events. With ``--out`` it
writes a CSV for ``ingest_transactions``; without, it books the month through
the ingestion service. Streams either way: memory does not grow with N.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.periods import Period
from demo.generator import PartnerRef, ProductRef, generate_rows
from demo.revenue import demo_products_by_partner_type, revenue_demo_setup
from onboarding.models import AdmissionState, Partner
from revenue.ledger.choices import IngestionChannel
from revenue.ledger.errors import IngestionRejected
from revenue.ledger.ingestion.rows import COLUMNS
from revenue.ledger.models import Product
from revenue.ledger.services import transactions_ingest

# Partners that may still report events although they no longer (or not yet) earn a share.
INACTIVE_STATES = (AdmissionState.SUSPENDED, AdmissionState.TERMINATED, AdmissionState.CONTRACTED)


class Command(BaseCommand):
    help = "Generate a synthetic month of transactions (to a CSV file, or booked directly)."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="YYYY-MM, e.g. 2026-10.")
        parser.add_argument("--count", type=int, required=True, help="Number of rows.")
        parser.add_argument("--out", type=Path, help="Write a CSV here instead of booking the rows.")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--source", default="demo", help="Source system of the rows (default: demo).")

    def handle(self, *args, month: str, count: int, out: Path | None, seed: int, source: str, **options):
        try:
            period = Period.parse(month)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if count < 1:
            raise CommandError("--count must be at least 1")
        revenue_demo_setup()  # the demo catalogue and defaults, if missing
        sold = demo_products_by_partner_type()
        partners = [
            PartnerRef(code, ptype, sold.get(ptype, ()))
            for code, ptype in Partner.objects.filter(state=AdmissionState.ACTIVE)
            .order_by("pk")
            .values_list("credit_code", "partner_type")
        ]
        if not partners:
            raise CommandError("No active partners: activate some (or load the demo data) first.")
        inactive = [
            PartnerRef(code, ptype, sold.get(ptype, ()))
            for code, ptype in Partner.objects.filter(state__in=INACTIVE_STATES)
            .order_by("pk")
            .values_list("credit_code", "partner_type")
        ]
        products = [ProductRef(code, kind) for code, kind in Product.objects.values_list("code", "revenue_kind")]
        rows = generate_rows(
            period=period, count=count, partners=partners, products=products, inactive_partners=inactive, seed=seed
        )
        started = time.monotonic()
        if out is not None:
            with out.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(COLUMNS)
                writer.writerows([row[c] for c in COLUMNS] for row in rows)
            self.stdout.write(
                self.style.SUCCESS(f"{count} rows for {period} written to {out} in {time.monotonic() - started:.1f} s")
            )
            return
        try:
            result = transactions_ingest(rows=rows, source=source, by=None, channel=IngestionChannel.GENERATOR)
        except IngestionRejected as exc:
            for error in exc.errors[:20]:
                self.stderr.write(str(error))
            raise CommandError(str(exc.message)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{period}: {result.received} rows, {result.created} booked, {result.duplicates} duplicates "
                f"in {time.monotonic() - started:.1f} s"
            )
        )
