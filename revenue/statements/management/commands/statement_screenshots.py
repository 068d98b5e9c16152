"""``python manage.py statement_screenshots [--out docs/screenshots] [--settlement ID] [--dpi 80]``.

Renders a statement's pages to PNG for the documentation (``pdftoppm``, from
poppler, installed by bin/setup): by default the sample statement
(``revenue.statements.samples``) as ``statement-page1.png``, ``statement-page2.png``, …
(every page) and ``statement-nothing-payable.png``; with
``--settlement`` that settlement's statement as ``statement-<number>-<page>.png``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.console import ConsoleCommand
from revenue.settlement.models import Settlement
from revenue.statements.documents import statement_pdf_render
from revenue.statements.samples import sample_statement_data
from revenue.statements.services import statement_render


def _pages_to_png(pdf: bytes, out: Path, names: dict[int, str], dpi: int) -> list[Path]:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise CommandError(_("pdftoppm is missing: run bin/setup (poppler-utils)."))
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "statement.pdf"
        source.write_bytes(pdf)
        for page, name in names.items():
            prefix = out / Path(name).stem
            args = [pdftoppm, "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile", "-png"]
            subprocess.run([*args, str(source), str(prefix)], check=True)  # noqa: S603 - our own file names, no shell
            written.append(prefix.with_suffix(".png"))
    return written


class Command(ConsoleCommand):
    help = gettext_lazy("Render a statement's pages to PNG screenshots for the documentation.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--out", default=str(Path(settings.BASE_DIR) / "docs" / "screenshots"))
        parser.add_argument(
            "--settlement", type=int, help=gettext_lazy("A closed settlement's id (default: the sample).")
        )
        parser.add_argument("--dpi", type=int, default=80)

    def handle(self, *args, out: str, settlement: int | None, dpi: int, **options) -> None:
        directory = Path(out)
        directory.mkdir(parents=True, exist_ok=True)
        if settlement is not None:
            try:
                rendered = statement_render(settlement=Settlement.objects.get(pk=settlement))
            except Settlement.DoesNotExist as exc:
                raise CommandError(_("No settlement %(id)s.") % {"id": settlement}) from exc
            pages = rendered.pdf.count(b"/Type /Page\n")
            names = {n: f"statement-{rendered.data.number}-{n}.png" for n in range(1, max(pages, 1) + 1)}
            written = _pages_to_png(rendered.pdf, directory, names, dpi)
        else:
            sample = statement_pdf_render(sample_statement_data(lines=8))
            pages = sample.count(b"/Type /Page\n")
            written = _pages_to_png(
                sample, directory, {n: f"statement-page{n}.png" for n in range(1, max(pages, 1) + 1)}, dpi
            )
            written += _pages_to_png(
                statement_pdf_render(sample_statement_data(lines=3, nothing_payable=True)),
                directory,
                {1: "statement-nothing-payable.png"},
                dpi,
            )
        for path in written:
            self.say(str(path))
