"""Paragraphs whose text is always literal, and the product's paragraph styles.

reportlab's ``Paragraph`` parses its text as markup: ``<font size=40>``,
``<img src=...>`` or ``&nbsp;`` in a partner's name would change the document
(or make reportlab open a file). Every piece of text therefore goes through
:func:`safe_text`, and the helpers here only ever add markup of their own
around escaped text.
"""

from __future__ import annotations

import re
from functools import lru_cache

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle, StyleSheet1
from reportlab.platypus import Paragraph

from .fonts import FAKE_BOLD_STROKE, FONT_NAME, register_fonts

# C0 controls other than tab and newline, and DEL: they have no glyph and some
# break reportlab's parser; they never belong in a printed name.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f]")

MUTED_HEX = "#555555"
MUTED = colors.HexColor(MUTED_HEX)
RULE = colors.HexColor("#999999")
HEADER_FILL = colors.HexColor("#E8ECF2")
ZEBRA_FILL = colors.HexColor("#F6F7F9")


def safe_text(value: object) -> str:
    """``value`` as text that reportlab's Paragraph will print literally.

    Escapes ``&``, ``<`` and ``>`` (so neither tags nor entities are
    interpreted) and drops control characters. ``None`` becomes "".
    """
    if value is None:
        return ""
    text = _CONTROL_CHARS.sub("", str(value))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@lru_cache(maxsize=1)
def get_styles() -> StyleSheet1:
    """The product's paragraph styles (shared; derive with ``ParagraphStyle(name, parent=...)``, never mutate).

    Names: title, subtitle, heading, body, small, label, cell, cell_right,
    cell_center. All use the embedded CJK font and CJK line breaking (a line
    may break between any two Hanzi; Latin words are kept whole).
    """
    register_fonts()
    sheet = StyleSheet1()
    base = ParagraphStyle("body", fontName=FONT_NAME, fontSize=9, leading=12.5, wordWrap="CJK", alignment=TA_LEFT)
    sheet.add(base)
    sheet.add(ParagraphStyle("title", parent=base, fontSize=16, leading=21, alignment=TA_CENTER, spaceAfter=2))
    sheet.add(ParagraphStyle("subtitle", parent=base, fontSize=9, leading=12, alignment=TA_CENTER, textColor=MUTED))
    sheet.add(ParagraphStyle("heading", parent=base, fontSize=11, leading=15, spaceBefore=8, spaceAfter=4))
    sheet.add(ParagraphStyle("small", parent=base, fontSize=7, leading=9, textColor=MUTED))
    sheet.add(ParagraphStyle("label", parent=base, fontSize=8, leading=10))
    sheet.add(ParagraphStyle("cell", parent=base, fontSize=8, leading=10))
    sheet.add(ParagraphStyle("cell_right", parent=base, fontSize=8, leading=10, alignment=TA_RIGHT))
    sheet.add(ParagraphStyle("cell_center", parent=base, fontSize=8, leading=10, alignment=TA_CENTER))
    return sheet


def _style(style: str | ParagraphStyle) -> ParagraphStyle:
    return get_styles()[style] if isinstance(style, str) else style


class TextParagraph(Paragraph):
    """A Paragraph that keeps its line breaking per width.

    A table header label is laid out again for every page the table spans and
    several times per page; CJK line breaking is the costly part, and its
    result depends only on the width.
    """

    _wrapped: tuple[float, tuple[float, float]] | None = None

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        # Paragraph.wrap does not depend on availHeight; the break into lines only on the width.
        # A split() that finds no room drops the lines (blPara) and the paragraph is wrapped again
        # on the next page: then the lines must be broken again, or drawing it fails.
        if self._wrapped is None or self._wrapped[0] != availWidth or not hasattr(self, "blPara"):
            self._wrapped = (availWidth, super().wrap(availWidth, availHeight))
        return self._wrapped[1]


class BoldParagraph(TextParagraph):
    """A paragraph drawn in synthetic bold: glyphs filled and stroked in the text colour."""

    def draw(self) -> None:
        canv = self.canv
        canv.saveState()
        canv.setStrokeColor(self.style.textColor)
        canv.setLineWidth(self.style.fontSize * FAKE_BOLD_STROKE)
        # Tr is part of the graphics state, so restoreState() ends the bold.
        canv.addLiteral("2 Tr")
        super().draw()
        canv.restoreState()


def _markup(text: object) -> str:
    return safe_text(text).replace("\n", "<br/>")


def paragraph(text: object, style: str | ParagraphStyle = "body", *, bold: bool = False) -> TextParagraph:
    """A paragraph printing ``text`` literally (newlines become line breaks)."""
    cls = BoldParagraph if bold else TextParagraph
    return cls(_markup(text), _style(style))


def bilingual(
    zh: object,
    en: object,
    style: str | ParagraphStyle = "label",
    *,
    inline: bool = False,
    bold: bool = False,
    en_scale: float = 0.8,
) -> TextParagraph:
    """A label in Chinese with its English beneath (or beside, ``inline=True``), smaller and muted.

    ``bilingual("结算金额", "Settlement amount")``. Both parts are literal text.
    """
    st = _style(style)
    en_size = round(st.fontSize * en_scale, 1)
    en_part = f'<font size="{en_size}" color="{MUTED_HEX}">{_markup(en)}</font>'
    separator = " " if inline else "<br/>"
    markup = f"{_markup(zh)}{separator}{en_part}" if en else _markup(zh)
    cls = BoldParagraph if bold else TextParagraph
    return cls(markup, st)
