"""The PDF toolkit every document of the product is rendered with (statements, scorecards).

Pattern: a selector builds a plain data object; a pure function turns it into a
story of flowables with the helpers below and calls :func:`render_pdf`; a
service stores the bytes (with :func:`verification_code` of the same data).

- Fonts: one embedded CJK TrueType font (``fonts.FONT_NAME``), synthetic bold.
- Text: :func:`safe_text`, :func:`paragraph`, :func:`bilingual` — partner text is always literal.
- Numbers: :func:`format_money`, :func:`format_percent`, :func:`format_count` — Decimal only.
- Layout: :func:`render_pdf` with :class:`PageDecor` ("第 x 页 / 共 y 页"), :func:`long_table`,
  :func:`simple_table`, :func:`bar_chart`, :func:`line_chart`.
- Trust: :func:`verification_code`, :func:`verify_code`, :func:`normalize_code`.
"""

from .charts import bar_chart, line_chart
from .document import PageDecor, page_label, render_pdf
from .fonts import FONT_NAME, FONT_PATH, FontMissingError, draw_string, draw_strings, missing_glyphs, register_fonts
from .formatting import format_count, format_money, format_percent
from .lines import FittedText, break_lines, fits
from .tables import LongTable, long_table, simple_table, table_style
from .text import BoldParagraph, TextParagraph, bilingual, get_styles, paragraph, safe_text
from .verification import canonical_json, normalize_code, verification_code, verify_code

__all__ = [
    "FONT_NAME",
    "FONT_PATH",
    "BoldParagraph",
    "FittedText",
    "FontMissingError",
    "LongTable",
    "PageDecor",
    "TextParagraph",
    "bar_chart",
    "bilingual",
    "break_lines",
    "canonical_json",
    "draw_string",
    "draw_strings",
    "fits",
    "format_count",
    "format_money",
    "format_percent",
    "get_styles",
    "line_chart",
    "long_table",
    "missing_glyphs",
    "normalize_code",
    "page_label",
    "paragraph",
    "register_fonts",
    "render_pdf",
    "safe_text",
    "simple_table",
    "table_style",
    "verification_code",
    "verify_code",
]
