"""``python manage.py generate_transactions --month 2026-10 --count N [--out FILE] [--seed S]``.

A realistic synthetic month over the active partners and the products their
types have agreements for (see :mod:`demo.generator`), with duplicates,
reversals, co-served, late and inactive-partner events. With ``--out`` it
writes a CSV for ``ingest_transactions``; without, it books the month through
the ingestion service. Streams either way: memory does not grow with N; the
progress is the rows written or booked.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.console import ConsoleCommand
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


class Command(ConsoleCommand):
    help = gettext_lazy("Generate a synthetic month of transactions (to a CSV file, or booked directly).")

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help=gettext_lazy("YYYY-MM, e.g. 2026-10."))
        parser.add_argument("--count", type=int, required=True, help=gettext_lazy("Number of rows."))
        parser.add_argument("--out", type=Path, help=gettext_lazy("Write a CSV here instead of booking the rows."))
        parser.add_argument("--seed", type=int, default=1, help=gettext_lazy("Seed of the generator (default: 1)."))
        parser.add_argument("--source", default="demo", help=gettext_lazy("Source system of the rows (default: demo)."))

    def handle(self, *args, month: str, count: int, out: Path | None, seed: int, source: str, **options):
        try:
            period = Period.parse(month)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if count < 1:
            raise CommandError(_("--count must be at least 1."))
        revenue_demo_setup()  # the demo catalogue and defaults, if missing
        sold = demo_products_by_partner_type()
        partners = [
            PartnerRef(code, ptype, sold.get(ptype, ()))
            for code, ptype in Partner.objects.filter(state=AdmissionState.ACTIVE)
            .order_by("pk")
            .values_list("credit_code", "partner_type")
        ]
        if not partners:
            raise CommandError(_("No active partners: activate some (or load the demo data) first."))
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
            with (
                out.open("w", newline="", encoding="utf-8") as handle,
                self.progress(total=count, label=_("Writing")) as bar,
            ):
                writer = csv.writer(handle)
                writer.writerow(COLUMNS)
                for written, row in enumerate(rows, start=1):
                    writer.writerow([row[c] for c in COLUMNS])
                    if written % 1000 == 0:
                        bar.update(written)
            self.say(
                _("%(count)s rows for %(period)s written to %(file)s in %(seconds).1f s")
                % {"count": count, "period": period, "file": out, "seconds": time.monotonic() - started},
                self.style.SUCCESS,
            )
            return
        try:
            with self.progress(total=count, label=_("Booking")) as bar:
                result = transactions_ingest(
                    rows=rows, source=source, by=None, channel=IngestionChannel.GENERATOR, on_progress=bar.update
                )
        except IngestionRejected as exc:
            for error in exc.errors[:20]:
                self.stderr.write(_("line %(error)s") % {"error": error})
            raise CommandError(str(exc.message)) from exc
        self.say(
            _("%(period)s: %(received)s rows, %(created)s booked, %(duplicates)s duplicates in %(seconds).1f s")
            % {
                "period": period,
                "received": result.received,
                "created": result.created,
                "duplicates": result.duplicates,
                "seconds": time.monotonic() - started,
            },
            self.style.SUCCESS,
        )
