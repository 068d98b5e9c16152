"""Every statement starts with the same font subset: built once per process, and the bytes are those of a fresh one.

A statement's characters are given their codes in the order they are first
printed, and reportlab writes them as TrueType subsets of 256. The layout's
own characters (``PRIMER``) are given the first codes, so the first subset no
longer depends on the partner's name and is built and compressed once.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pypdf
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from core.pdf.fonts import FONT_NAME, prime, register_fonts
from revenue.statements.documents import PRIMER, statement_pdf_render
from tests.revenue.statements.pdftext import pdf_text
from tests.revenue.statements.test_documents import line, statement

REPO_ROOT = Path(__file__).resolve().parents[3]


def font_files(pdf: bytes) -> dict[str, bytes]:
    """Each embedded subset's TrueType file, by its subset tag (AAAAAA, AAAAAB …)."""
    files = {}
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            tag = str(font["/BaseFont"]).lstrip("/").split("+")[0]
            files[tag] = font["/FontDescriptor"].get_object()["/FontFile2"].get_object().get_data()
    return files


def test_statements_of_different_partners_share_their_first_subset():
    one = statement(partner_name="深圳云账房科技有限公司", lines=[line(1)])
    other = statement(
        partner_name="嘉兴鸿鹄智造供应链管理股份有限公司", branch_name="嘉兴分行", lines=[line(1), line(2)]
    )
    first, second = font_files(statement_pdf_render(one)), font_files(statement_pdf_render(other))
    assert first["AAAAAA"] == second["AAAAAA"]
    assert first != second  # the names' own characters are in the later subsets


def test_the_primer_fills_the_first_subset():
    register_fonts()
    canvas = Canvas(io.BytesIO())
    prime(canvas._doc, PRIMER)
    state = pdfmetrics.getFont(FONT_NAME).state[canvas._doc]
    assert len(state.subsets[0]) == 256  # every code of the first subset taken by the layout's characters
    assert len(set(PRIMER)) == len(PRIMER)


def test_a_statement_prints_nearly_every_character_of_the_primer():
    text = pdf_text(statement_pdf_render(statement(lines=[line(1), line(2)])))
    printed = [ch for ch in PRIMER if ch in text]
    # The primer is the layout's text: a few characters (the capitals of digits an amount lacks) may go unprinted.
    assert len(printed) >= 0.9 * len(PRIMER)


def test_a_statement_rendered_after_others_is_the_one_a_fresh_process_renders():
    for name in ("甲公司", "乙公司", "丙公司"):
        statement_pdf_render(statement(partner_name=name, lines=[line(1)]))
    here = statement_pdf_render(statement(lines=[line(1), line(2)]))
    script = (
        "import django, sys; django.setup(); "
        "from revenue.statements.documents import statement_pdf_render; "
        "from tests.revenue.statements.test_documents import line, statement; "
        "sys.stdout.buffer.write(statement_pdf_render(statement(lines=[line(1), line(2)])))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.test")}
    fresh = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    assert hashlib.sha256(fresh.stdout).hexdigest() == hashlib.sha256(here).hexdigest()
