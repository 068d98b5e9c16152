"""Reading statements back with poppler (installed by bin/setup): what a reader's tools extract."""

from __future__ import annotations

import shutil
import subprocess

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
