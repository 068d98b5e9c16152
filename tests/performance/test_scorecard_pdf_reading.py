"""The PDF scorecard read back with ``pdftotext``: the dashboard's KPI names and title, the internal marking on
every page, value labels and the 100 % line on the bar chart, a twelve-period trend (or a note), metadata."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
from decimal import Decimal as D

import pytest
from django.utils import translation
from pypdf import PdfReader

from performance.documents import TrendPointData, scorecard_pdf_render
from performance.vocabulary import KPI, SCORECARD_TITLE, bilingual
from tests.performance.test_scorecard_pdf import DOCUMENT

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (pdftotext)")


def pdftotext(pdf: bytes, *, mode: str = "-layout") -> list[str]:
    """The text of each page, as poppler lays it out (``-raw`` keeps the tilted axis labels too)."""
    args = ["pdftotext", mode, "-", "-"]
    text = subprocess.run(args, input=pdf, capture_output=True, check=True).stdout.decode()
    return text.split("\f")[:-1]


def test_kpi_names_and_title_are_the_dashboard_s():
    pages = pdftotext(scorecard_pdf_render(DOCUMENT))
    text = "\n".join(pages)
    for line in DOCUMENT.lines:
        zh, en = bilingual(KPI(line.kpi).label)
        assert zh in text and en in text
    with translation.override("zh-hans"):
        title = str(SCORECARD_TITLE) % {"branch": "深圳分行", "period": "2026-10"}
    assert title in pages[0]


def test_every_page_is_marked_internal():
    pages = pdftotext(scorecard_pdf_render(DOCUMENT))
    assert len(pages) >= 2
    assert all("内部资料" in page and "INTERNAL" in page for page in pages)


def test_bars_carry_their_values_and_the_100_percent_line():
    text = "\n".join(pdftotext(scorecard_pdf_render(DOCUMENT)))
    # The rates above the bars, as on the web chart (one decimal), and the target line's label.
    assert "105.0%" in text and "150.0%" in text
    assert "100% 目标 target" in text


def test_a_twelve_period_trend_is_drawn_with_its_points_labelled():
    trend = tuple(TrendPointData(f"2025-{m:02d}", D(90 + m), 1) for m in range(1, 13))
    text = "\n".join(pdftotext(scorecard_pdf_render(dataclasses.replace(DOCUMENT, trend=trend)), mode="-raw"))
    assert all(f"2025-{m:02d}" in text for m in range(1, 13))
    assert "91.0" in text and "102.0" in text
    assert "期中有" not in text  # all twelve scored: no note


def test_a_single_period_gives_a_note_not_a_dot():
    one = dataclasses.replace(DOCUMENT, trend=(TrendPointData("2026-10", D("105.00"), 3),))
    text = "\n".join(pdftotext(scorecard_pdf_render(one), mode="-raw"))
    assert "仅 1 期有记分卡" in text and "a trend needs at least 2" in text


def test_metadata_names_title_and_author():
    doc = dataclasses.replace(DOCUMENT, author="开放联盟银行 Open Alliance Bank")
    info = PdfReader(io.BytesIO(scorecard_pdf_render(doc))).metadata
    assert info.title.startswith("深圳分行 2026-10 计分卡")
    assert info.author == "开放联盟银行 Open Alliance Bank"
    assert "内部资料" in info.subject
