"""Rendering with core.pdf: embedded Chinese font, literal text, page x of y, long tables, determinism."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest
from reportlab.lib.units import mm
from reportlab.platypus import Spacer

from core.pdf import (
    PageDecor,
    bar_chart,
    bilingual,
    format_money,
    line_chart,
    long_table,
    missing_glyphs,
    paragraph,
    render_pdf,
    simple_table,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PDFTOTEXT = shutil.which("pdftotext")
PDFFONTS = shutil.which("pdffonts")
# bin/setup installs poppler-utils; pypdf covers the same ground where it is absent.
needs_poppler = pytest.mark.skipif(not (PDFTOTEXT and PDFFONTS), reason="poppler-utils not installed")
EVIL = "<b>Evil</b> & Co <font size=40>"
PARTNER_NAME = "深圳前海云链数字科技有限公司"
HEADER = [("序号", "No."), ("摘要", "Description"), ("金额", "Amount")]
ALIGN = ["right", "left", "right"]
WIDTHS = [20 * mm, 110 * mm, 40 * mm]


def sample_rows(n: int) -> list[list[str]]:
    return [[str(i), f"交易（第{i}笔）：线上收单", format_money(Decimal(i) * Decimal("1.01"))] for i in range(1, n + 1)]


def sample_story(rows: int = 120, name: str = PARTNER_NAME) -> list:
    return [
        paragraph("服务商结算单", "title", bold=True),
        paragraph("Partner settlement statement 2026-10", "subtitle"),
        Spacer(1, 4 * mm),
        simple_table(
            [[("服务商名称", "Partner"), name], [("结算金额", "Settlement amount"), format_money(Decimal("1234.56"))]],
            col_widths=[45 * mm, 125 * mm],
        ),
        Spacer(1, 4 * mm),
        long_table(HEADER, sample_rows(rows), col_widths=WIDTHS, align=ALIGN, wrap_columns=[1]),
        bar_chart(["开户数", "交易量"], [[Decimal(10), 20], [12, Decimal("18.5")]], series_names=["目标", "实际"]),
    ]


def sample_pdf(rows: int = 120, name: str = PARTNER_NAME) -> bytes:
    decor = PageDecor(header_left="示例银行 Example Bank", header_right="服务商结算单", footer_left="验证码 0000-1111")
    return render_pdf(sample_story(rows, name), title="服务商结算单", decor=decor)


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def pdftotext(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run([PDFTOTEXT, str(path), "-"], check=True, capture_output=True, text=True).stdout


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- Chinese text and the embedded font ---------------------------------------------------------------------------

# 600 distinct Hanzi: more than one 256-glyph subset, so the round trip covers every subset's ToUnicode map.
MANY_HANZI = "".join(chr(cp) for cp in range(0x4E00, 0x4E00 + 600))
LINES = [MANY_HANZI[i : i + 40] for i in range(0, len(MANY_HANZI), 40)]


def many_hanzi_pdf() -> bytes:
    story = [paragraph("金额 ¥1,234.56（含税）：合计", "body"), *(paragraph(line) for line in LINES)]
    return render_pdf(story, title="字符")


def test_font_covers_what_documents_print():
    assert missing_glyphs("服务商结算单深圳分行¥（）：，。、0123456789 ABCxyz %-/.") == set()
    assert missing_glyphs(MANY_HANZI) == set()
    assert missing_glyphs("😀") == {"😀"}


def test_chinese_text_round_trips_through_pypdf():
    text = "".join(page_texts(many_hanzi_pdf()))
    assert "金额 ¥1,234.56（含税）：合计" in text
    assert MANY_HANZI in squash(text)


@needs_poppler
def test_chinese_text_round_trips_through_pdftotext(tmp_path):
    text = pdftotext(many_hanzi_pdf(), tmp_path)
    assert "金额 ¥1,234.56（含税）：合计" in text
    assert MANY_HANZI in squash(text)


def test_every_font_is_an_embedded_truetype_subset():
    reader = pypdf.PdfReader(io.BytesIO(many_hanzi_pdf()))
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            fonts[font["/BaseFont"]] = font
    assert len(fonts) >= 3  # 600+ glyphs need three 256-glyph subsets
    for base_font, font in fonts.items():
        assert font["/Subtype"] == "/TrueType", base_font  # not a Type0/CID font resolved by the reader
        assert re.fullmatch(r"/[A-Z]{6}\+WenQuanYiMicroHei.*", base_font), base_font
        descriptor = font["/FontDescriptor"].get_object()
        assert len(descriptor["/FontFile2"].get_object().get_data()) > 1000, base_font
        assert "/ToUnicode" in font, base_font


@needs_poppler
def test_pdffonts_lists_only_the_embedded_subset(tmp_path):
    path = tmp_path / "doc.pdf"
    path.write_bytes(sample_pdf(rows=5))
    out = subprocess.run([PDFFONTS, str(path)], check=True, capture_output=True, text=True).stdout
    rows = out.splitlines()[2:]
    assert rows
    for row in rows:
        name, kind, *_, emb, sub, uni, _obj, _gen = row.split()
        assert (name.split("+")[1], kind, emb, sub, uni) == ("WenQuanYiMicroHei-0", "TrueType", "yes", "yes", "yes")


# --- Page numbers and long tables ----------------------------------------------------------------------------------


def test_long_table_breaks_across_pages_with_header_on_each_and_page_x_of_y():
    texts = page_texts(sample_pdf(rows=150))
    total = len(texts)
    assert total >= 3
    for number, text in enumerate(texts, start=1):
        assert f"第 {number} 页 / 共 {total} 页" in text
        assert f"Page {number} of {total}" in text
        # The header row opens every page's share of the table, once.
        assert text.count("Description") == 1, number
        assert text.count("示例银行 Example Bank") == 1
    # Every row printed exactly once, in order, across the page breaks.
    printed = [int(n) for n in re.findall(r"交易（第(\d+)笔）", "".join(texts))]
    assert printed == list(range(1, 151))


def test_a_style_naming_one_row_follows_it_across_page_breaks():
    """A highlighted row (e.g. the branch's own line in a ranking) is styled on the page that holds it, and a
    page without it draws no highlight, whatever the row's place in the whole table."""
    from reportlab.lib import colors

    for highlighted in (3, 140):  # on the first page, on a later one
        table = long_table(
            HEADER,
            sample_rows(150),
            col_widths=WIDTHS,
            align=ALIGN,
            extra_style=[("BACKGROUND", (0, highlighted), (-1, highlighted), colors.yellow)],
        )
        pdf = render_pdf([Spacer(1, 200 * mm), table], title="高亮")
        texts = page_texts(pdf)
        printed = [int(n) for n in re.findall(r"交易（第(\d+)笔）", "".join(texts))]
        assert printed == list(range(1, 151))
        yellow_pages = [
            number
            for number, page in enumerate(pypdf.PdfReader(io.BytesIO(pdf)).pages, start=1)
            if b"1 1 0 rg" in page.get_contents().get_data()
        ]
        holding = [number for number, text in enumerate(texts, start=1) if f"交易（第{highlighted}笔）" in text]
        assert yellow_pages == holding


def test_long_text_in_a_wrap_column_breaks_into_lines_and_short_text_stays_on_one():
    long_name = "深圳前海云链数字科技有限公司跨境支付与线上收单综合服务" * 4
    rows = [["1", long_name, "1.00"], ["2", "短名称 Short", "2.00"]]
    text = page_texts(render_pdf([long_table(HEADER, rows, col_widths=WIDTHS, wrap_columns=[1])], title="t"))[0]
    assert long_name not in text and long_name in squash(text)  # broken over lines, nothing lost
    assert "短名称 Short" in text


def test_long_table_continuation_shares_the_rows():
    table = long_table(HEADER, sample_rows(200), col_widths=WIDTHS, align=ALIGN)
    first, rest = table.split(sum(WIDTHS), 300)
    assert len(first._cellvalues) - 1 == rest._start  # the page's share ends where the rest starts
    assert rest._rows is table._rows  # no copy of the remaining rows per page


def test_long_table_refuses_unformatted_numbers():
    with pytest.raises(TypeError, match="format numbers first"):
        long_table(HEADER, [["1", "x", Decimal("1.00")]], col_widths=WIDTHS)
    with pytest.raises(ValueError, match="row 1 has 2 cells"):
        long_table(HEADER, [["1", "x"]], col_widths=WIDTHS)


def test_five_thousand_rows_render_in_bounded_memory():
    rows = [[str(i), f"交易 {i}", format_money(Decimal(i))] for i in range(1, 5001)]
    tracemalloc.start()
    try:
        pdf = render_pdf([long_table(HEADER, rows, col_widths=WIDTHS, align=ALIGN)], title="5000")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) > 100
    last = reader.pages[-1].extract_text()
    assert "交易 5000" in last and format_money(Decimal(5000)) in last
    # Rows are held as plain strings and one Table per page is built and dropped (about 9 MiB measured).
    assert peak < 40 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


# --- Literal text ---------------------------------------------------------------------------------------------------


def test_markup_in_partner_text_is_printed_literally_everywhere(tmp_path):
    name = f"{EVIL} {PARTNER_NAME} &amp; <img src='http://127.0.0.1:9/logo.png'/>"
    story = [
        paragraph(name),
        bilingual(name, name),
        simple_table([[("名称", "Name"), name]], col_widths=[30 * mm, 140 * mm]),
        long_table(HEADER, [["1", name, "1.00"]], col_widths=WIDTHS, wrap_columns=[1]),
        long_table(HEADER, [["2", name, "2.00"]], col_widths=[20 * mm, 140 * mm, 10 * mm]),
    ]
    pdf = render_pdf(story, title=name, decor=PageDecor(header_left=name, footer_left=name))
    texts = [squash(page_texts(pdf)[0])]
    if PDFTOTEXT:
        texts.append(squash(pdftotext(pdf, tmp_path)))
    for text in texts:
        # header, paragraph, two in the bilingual label, key/value table, two long tables, footer
        assert text.count(squash(name)) == 8
    assert pypdf.PdfReader(io.BytesIO(pdf)).metadata.title == name


def test_newlines_in_text_become_line_breaks():
    text = page_texts(render_pdf([paragraph("第一行\n第二行")], title="t"))[0]
    assert "第一行\n第二行" in text


# --- Determinism ----------------------------------------------------------------------------------------------------


def test_same_data_renders_byte_identical_pdfs():
    first = sample_pdf()
    assert sample_pdf() == first
    assert sample_pdf(name=PARTNER_NAME + "二") != first


def test_rendering_is_identical_in_another_process():
    script = "import sys; from tests.core.test_pdf_render import sample_pdf; sys.stdout.buffer.write(sample_pdf())"
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
        digests.add(hashlib.sha256(out.stdout).hexdigest())
    digests.add(hashlib.sha256(sample_pdf()).hexdigest())
    assert len(digests) == 1


# --- Charts ---------------------------------------------------------------------------------------------------------


def test_charts_print_chinese_labels():
    story = [
        bar_chart(
            ["深圳分行", "杭州分行"],
            [[Decimal("100.5"), 80], [90, None]],
            series_names=["目标 Target", "实际 Actual"],
            title="分行业绩",
        ),
        line_chart([f"2026-{m:02d}" for m in range(1, 13)], [list(range(12))], series_names=["活跃服务商"]),
    ]
    text = page_texts(render_pdf(story, title="charts"))[0]
    for label in ("深圳分行", "杭州分行", "目标 Target", "实际 Actual", "分行业绩", "2026-12", "活跃服务商"):
        assert label in text


def test_charts_refuse_float_and_ragged_series():
    with pytest.raises(TypeError, match="Decimal, int or None"):
        bar_chart(["a"], [[1.5]])
    with pytest.raises(ValueError, match="2 values for 1 categories"):
        line_chart(["a"], [[1, 2]])
    with pytest.raises(ValueError, match="1 series names for 2 series"):
        bar_chart(["a"], [[1], [2]], series_names=["x"])
