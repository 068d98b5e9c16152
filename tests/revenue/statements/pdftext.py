"""Reading statements back with poppler (installed by bin/setup): what a reader's tools extract."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PDFTOTEXT = shutil.which("pdftotext")
PDFFONTS = shutil.which("pdffonts")


def pdf_text(pdf: bytes, *, layout: bool = False) -> str:
    """The PDF's text as pdftotext extracts it (pages end with a form feed)."""
    assert PDFTOTEXT, "pdftotext is missing: run bin/setup"
    args = [PDFTOTEXT, "-enc", "UTF-8", *(["-layout"] if layout else []), "-", "-"]
    return subprocess.run(args, input=pdf, capture_output=True, check=True).stdout.decode()


def pdf_fonts(pdf: bytes) -> list[str]:
    """pdffonts' rows, one per font of the PDF."""
    assert PDFFONTS, "pdffonts is missing: run bin/setup"
    out = subprocess.run([PDFFONTS, "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return [row for row in out.splitlines()[2:] if row.strip()]


PDFTOPPM = shutil.which("pdftoppm")


@dataclass(frozen=True)
class Word:
    page: int
    text: str
    x_min: float
    y_min: float
    x_max: float
    y_max: float

    def overlaps(self, other: Word, *, tolerance: float = 0.5) -> bool:
        """Whether the two boxes share more than ``tolerance`` points both across and down (one printed over the
        other)."""
        across = min(self.x_max, other.x_max) - max(self.x_min, other.x_min)
        down = min(self.y_max, other.y_max) - max(self.y_min, other.y_min)
        return across > tolerance and down > tolerance


_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


def pdf_words(pdf: bytes) -> list[list[Word]]:
    """Each page's words with their boxes, as ``pdftotext -bbox`` finds them."""
    assert PDFTOTEXT, "pdftotext is missing: run bin/setup"
    args = [PDFTOTEXT, "-enc", "UTF-8", "-bbox", "-", "-"]
    out = subprocess.run(args, input=pdf, capture_output=True, check=True).stdout.decode()
    pages = []
    for number, page in enumerate(out.split("<page ")[1:], start=1):
        pages.append(
            [
                Word(number, html.unescape(text), float(a), float(b), float(c), float(d))
                for a, b, c, d, text in _WORD.findall(page)
            ]
        )
    return pages


def pdf_page_png(pdf: bytes, page: int, directory: Path, *, dpi: int = 150) -> Path:
    """One page rendered to PNG by pdftoppm."""
    assert PDFTOPPM, "pdftoppm is missing: run bin/setup"
    source = directory / "document.pdf"
    source.write_bytes(pdf)
    prefix = directory / f"page{page}"
    subprocess.run(
        [PDFTOPPM, "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile", "-png", source, prefix],
        check=True,
    )
    return prefix.with_suffix(".png")
