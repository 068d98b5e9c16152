"""``python manage.py ingest_transactions FILE --source payments``: book a large CSV file, all or nothing.

Streams the file in chunks through the one ingestion engine. On rejection every bad line is printed
(up to the reporting cap) and the
command fails; nothing is written.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from revenue.ledger.choices import IngestionChannel
from revenue.ledger.errors import ApplicationError, IngestionRejected
from revenue.ledger.services import transactions_ingest_csv


class Command(BaseCommand):
    help = "Book a CSV file of transactions (a header row naming the columns), all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--source", required=True, help="The registered source system the file comes from, e.g. payments."
        )
        parser.add_argument(
            "--allow-same-file",
            action="store_true",
            help="Book the file even if the very same file (by SHA-256) was booked before.",
        )

    def handle(self, *args, file: Path, source: str, allow_same_file: bool, **options):
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
                    allow_same_file=allow_same_file,
                )
        except IngestionRejected as exc:
            for error in exc.errors:
                self.stderr.write(f"line {error}")
            if exc.error_count > len(exc.errors):
                self.stderr.write(f"… and {exc.error_count - len(exc.errors)} more")
            raise CommandError(str(exc.message)) from exc
        except ApplicationError as exc:  # an unknown source, the same file, a batch booked at the same moment
            raise CommandError(str(exc.message)) from exc
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"{file.name}: {result.received} rows, {result.created} booked, {result.duplicates} duplicates "
                f"(batch {result.batch.pk}) in {elapsed:.1f} s"
            )
        )
