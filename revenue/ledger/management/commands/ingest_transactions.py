"""``python manage.py ingest_transactions FILE --source payments``: book a large CSV file, all or nothing.

Streams the file in chunks through the one ingestion engine, showing how much of the file is read.
On rejection every bad line is printed to stderr (up to the reporting cap) and the command fails;
nothing is written.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.console import ConsoleCommand, megabytes
from revenue.ledger.choices import IngestionChannel
from revenue.ledger.errors import ApplicationError, IngestionRejected
from revenue.ledger.services import transactions_ingest_csv


class Command(ConsoleCommand):
    help = gettext_lazy("Book a CSV file of transactions (a header row naming the columns), all or nothing.")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--source",
            required=True,
            help=gettext_lazy("The registered source system the file comes from, e.g. payments."),
        )
        parser.add_argument(
            "--allow-same-file",
            action="store_true",
            help=gettext_lazy("Book the file even if the very same file (by SHA-256) was booked before."),
        )

    def handle(self, *args, file: Path, source: str, allow_same_file: bool, **options):
        if not file.is_file():
            raise CommandError(_("No such file: %(file)s") % {"file": file})
        started = time.monotonic()
        try:
            with (
                file.open("rb") as stream,
                self.progress(total=file.stat().st_size, label=_("Booking"), show=megabytes) as bar,
            ):
                result = transactions_ingest_csv(
                    stream=stream,
                    source=source,
                    by=None,
                    channel=IngestionChannel.FILE,
                    filename=file.name,
                    allow_same_file=allow_same_file,
                    # How far into the file the rows booked so far reach.
                    on_progress=lambda _rows: bar.update(stream.tell()),
                )
        except IngestionRejected as exc:
            for error in exc.errors:
                self.stderr.write(_("line %(error)s") % {"error": error})
            if exc.error_count > len(exc.errors):
                self.stderr.write(_("… and %(count)s more") % {"count": exc.error_count - len(exc.errors)})
            raise CommandError(str(exc.message)) from exc
        except ApplicationError as exc:  # an unknown source, the same file, a batch booked at the same moment
            raise CommandError(str(exc.message)) from exc
        self.say(
            _(
                "%(file)s: %(received)s rows, %(created)s booked, %(duplicates)s duplicates "
                "(batch %(batch)s) in %(seconds).1f s"
            )
            % {
                "file": file.name,
                "received": result.received,
                "created": result.created,
                "duplicates": result.duplicates,
                "batch": result.batch.pk,
                "seconds": time.monotonic() - started,
            },
            self.style.SUCCESS,
        )
