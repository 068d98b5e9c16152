"""``python manage.py export_screenshots [--out docs/screenshots] [--dpi 80] [--lang zh-hans|en]``.

Regenerates the documentation's pictures of what an accountant or a branch
manager downloads, from fixed sample data (no database needed):

* ``scorecard-page1.png``: page 1 of the sample branch scorecard PDF
  (``performance.samples``), rendered with ``pdftoppm`` (poppler-utils, from bin/setup);
* ``export-detail-xlsx.png`` and ``export-detail-dictionary.png``: the statement
  detail XLSX (sample rows, ``revenue.statements.exports``) as a spreadsheet
  program prints it — its data sheet and its column dictionary — converted by
  LibreOffice headless (``soffice --convert-to pdf``), then ``pdftoppm``.

LibreOffice is only needed here, not by the product or its tests: ``bin/setup --docs``
installs it (Debian's ``libreoffice-calc-nogui``, about 64 packages, ~300 MB);
without it the XLSX pictures are skipped with that hint and the scorecard is
still rendered.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.spreadsheets import xlsx_export
from performance.documents import scorecard_pdf_render
from performance.samples import sample_scorecard_document
from revenue.statements.exports import detail_export_columns, sample_detail_rows

LIBREOFFICE_HINT = "bin/setup --docs (Debian: apt-get install -y libreoffice-calc-nogui)"


def _tool(name: str) -> str | None:
    return shutil.which(name)


def pdf_pages_to_png(pdf: Path, out: Path, names: dict[int, str], dpi: int) -> list[Path]:
    """Pages of ``pdf`` (1-based) to the PNG files named in ``names``, in ``out``."""
    pdftoppm = _tool("pdftoppm")
    if pdftoppm is None:
        raise CommandError("pdftoppm is missing: run bin/setup (poppler-utils).")
    written = []
    for page, name in names.items():
        prefix = out / Path(name).stem
        args = [pdftoppm, "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile", "-png"]
        subprocess.run([*args, str(pdf), str(prefix)], check=True)  # noqa: S603 - our own file names, no shell
        written.append(prefix.with_suffix(".png"))
    return written


def xlsx_to_pdf(xlsx: Path, workdir: Path) -> Path:
    """The workbook printed to PDF by LibreOffice headless (every sheet, as its print settings lay it out)."""
    soffice = _tool("soffice") or _tool("libreoffice")
    if soffice is None:
        raise FileNotFoundError(LIBREOFFICE_HINT)
    # A profile of its own: no clash with a running LibreOffice, nothing written to the user's home.
    profile = (workdir / "lo-profile").as_uri()
    args = [soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf", "--outdir"]
    subprocess.run(  # noqa: S603 - our own file names, no shell
        [*args, str(workdir), str(xlsx)], check=True, capture_output=True, timeout=180
    )
    return workdir / f"{xlsx.stem}.pdf"


class Command(BaseCommand):
    help = "Render the scorecard PDF and the XLSX export, opened, to PNG screenshots for the documentation."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--out", default=str(Path(settings.BASE_DIR) / "docs" / "screenshots"))
        parser.add_argument("--dpi", type=int, default=80, help="of the scorecard page")
        parser.add_argument(
            "--xlsx-dpi", type=int, default=200, help="of the spreadsheet (printed to fit the page's width: small)"
        )
        parser.add_argument("--lang", default="zh-hans", choices=["zh-hans", "en"])

    def handle(self, *args, out: str, dpi: int, xlsx_dpi: int, lang: str, **options) -> None:
        directory = Path(out)
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            scorecard = workdir / "scorecard.pdf"
            scorecard.write_bytes(scorecard_pdf_render(sample_scorecard_document()))
            written = pdf_pages_to_png(scorecard, directory, {1: "scorecard-page1.png"}, dpi)

            xlsx = workdir / "statement-detail.xlsx"
            with xlsx_export(detail_export_columns(), sample_detail_rows(), language=lang, title="2026-10") as handle:
                xlsx.write_bytes(handle.read())
            try:
                printed = xlsx_to_pdf(xlsx, workdir)
            except FileNotFoundError:
                self.stderr.write(f"LibreOffice is missing, the XLSX screenshots are skipped: {LIBREOFFICE_HINT}")
            except subprocess.SubprocessError as exc:
                raise CommandError(f"LibreOffice could not convert the XLSX: {exc}") from exc
            else:
                # Page 1: the data sheet (40 rows fit one landscape page); the last: the column dictionary.
                pages = _page_count(printed)
                names = {1: "export-detail-xlsx.png", pages: "export-detail-dictionary.png"}
                for path in pdf_pages_to_png(printed, directory, names, xlsx_dpi):
                    trim_margins(path)
                    written.append(path)
        for path in written:
            self.stdout.write(str(path))


def trim_margins(png: Path, *, pad: int = 12) -> None:
    """Crop the blank page around the printed cells, so the picture is the spreadsheet, not the paper."""
    from PIL import Image, ImageChops

    with Image.open(png) as image:
        page = image.convert("RGB")
    blank = Image.new("RGB", page.size, (255, 255, 255))
    box = ImageChops.difference(page, blank).getbbox()
    if box is None:
        return
    left, top, right, bottom = box
    page.crop(
        (max(left - pad, 0), max(top - pad, 0), min(right + pad, page.width), min(bottom + pad, page.height))
    ).save(png, optimize=True)


def _page_count(pdf: Path) -> int:
    pdfinfo = _tool("pdfinfo")
    if pdfinfo is None:
        return 1
    info = subprocess.run([pdfinfo, str(pdf)], capture_output=True, text=True, check=True).stdout  # noqa: S603
    for line in info.splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    return 1
