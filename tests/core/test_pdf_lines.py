"""Line breaking for literal text: between Chinese characters and at spaces, never inside a number or word."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from reportlab.pdfbase.pdfmetrics import stringWidth

from core.pdf import FONT_NAME, break_lines, register_fonts

register_fonts()

# Amounts as printed: set off by spaces or Chinese text (two amounts never touch).
amounts = st.integers(min_value=0, max_value=10**15).map(lambda fen: f" {fen // 100:,}.{fen % 100:02d} ")
pieces = st.one_of(
    amounts,
    st.sampled_from(
        ["按银行收入", "阶梯", "以上", "元", "，", "。", "（", "）", " ", "tiered", "of", "bank revenue", "30.00%"]
    ),
)
texts = st.lists(pieces, min_size=1, max_size=30).map("".join)


def test_an_amount_stays_whole_where_cjk_wrapping_would_cut_it():
    text = "按银行收入阶梯：100,000.00 元以下 30.00%，以上 25.00%"
    for width in range(40, 200, 5):
        lines = break_lines(text, width, 8)
        assert any("100,000.00" in line for line in lines), (width, lines)


@given(texts, st.integers(min_value=60, max_value=300))
def test_lines_fit_keep_every_character_and_never_cut_a_number(text, width):
    lines = break_lines(text, width, 8)
    # Nothing lost but the spaces a line was broken at.
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for line in lines:
        tokens = line.split()
        too_wide = stringWidth(line, FONT_NAME, 8) > width
        # Only a single run wider than the line (or hanging punctuation) may overflow.
        assert not too_wide or len(tokens) == 1 or line[-1] in "，。）", (line, width)
    # Every amount of the text is whole on one line (amounts are far narrower than 60 points).
    for amount in re.findall(r"\d[\d,]*\.\d{2}", text.replace(" ", "")):
        if stringWidth(amount, FONT_NAME, 8) <= width:
            assert any(amount in line.replace(" ", "") for line in lines), (amount, lines)


def test_newlines_start_new_lines():
    assert break_lines("第一行\n第二行", 500, 8) == ("第一行", "第二行")
