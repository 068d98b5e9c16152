"""``python manage.py ingest_transactions FILE --source payments``: book a large CSV file, all or nothing.

Streams the file in chunks through the one ingestion engine. On rejection every bad line is printed
(up to the reporting cap) and the
command fails; nothing is written.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from revenue.choices import IngestionChannel
from revenue.errors import IngestionRejected
from revenue.services import transactions_ingest_csv


class Command(BaseCommand):
    help = "Book a CSV file of transactions (a header row naming the columns), all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--source", required=True, help="The source system the file comes from, e.g. payments.")

    def handle(self, *args, file: Path, source: str, **options):
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        started = time.monotonic()
        try:
            with file.open("rb") as stream:
                result = transactions_ingest_csv(
                    stream=stream,
                    source=source,
                    by=None,
                    channel=IngestionChannel.FILE,
                    filename=file.name,
                )
        except IngestionRejected as exc:
            for error in exc.errors:
                self.stderr.write(f"line {error}")
            if exc.error_count > len(exc.errors):
                self.stderr.write(f"… and {exc.error_count - len(exc.errors)} more")
            raise CommandError(str(exc.message)) from exc
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"{file.name}: {result.received} rows, {result.created} booked, {result.duplicates} duplicates "
                f"(batch {result.batch.pk}) in {elapsed:.1f} s"
            )
        )
