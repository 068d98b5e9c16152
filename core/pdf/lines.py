"""Breaking literal text into lines of a width, never inside a number or a Latin word.

reportlab's CJK line breaking may break anywhere in a run of Latin text when
it finds no space close by, so ``100,000.00`` can end up as ``100,000,`` and
``000.00`` on two lines. Here text is broken only between Chinese characters
and at spaces: a run of anything else (an amount, a rate, a code, an English
word) stays whole. Only a run wider than the whole line is cut, as a last
resort; amounts have their own cells (:class:`FittedText`) and never get there.
"""

from __future__ import annotations

import re
from functools import lru_cache

from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable

from .fonts import FONT_NAME, draw_string

# One token: a run of white space, a run of characters that are neither space nor CJK, or one CJK character.
_CJK = "\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
_TOKEN = re.compile(rf"\s+|[^\s{_CJK}]+|[{_CJK}]")
# Punctuation that may not begin a line: it stays on the line before, even a little over the width.
_NO_LINE_START = frozenset("，。、；：？！）》」』】〕")


def _cut(token: str, width: float, size: float) -> list[str]:
    """A token wider than a whole line, cut by characters (last resort)."""
    parts, part = [], ""
    for char in token:
        if part and stringWidth(part + char, FONT_NAME, size) > width:
            parts.append(part)
            part = ""
        part += char
    return [*parts, part]


@lru_cache(maxsize=4096)
def break_lines(text: str, width: float, size: float) -> tuple[str, ...]:
    """``text`` as lines no wider than ``width`` points at ``size`` (each ``\\n`` starts a new line)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for token in _TOKEN.findall(paragraph):
            if token.isspace():
                if line:
                    line += token
                continue
            candidate = line + token
            if not line.strip() or token in _NO_LINE_START or stringWidth(candidate, FONT_NAME, size) <= width:
                line = candidate
            else:
                lines.append(line.rstrip())
                line = token
            if stringWidth(line, FONT_NAME, size) > width and line == token:
                *whole, line = _cut(token, width, size)
                lines.extend(whole)
        lines.append(line.rstrip())
    return tuple(lines)


def fits(text: str, width: float, size: float) -> bool:
    return all(stringWidth(line, FONT_NAME, size) <= width for line in text.split("\n"))


class FittedText(Flowable):
    """One line of literal text (an amount) that never wraps: drawn smaller when its cell is too narrow."""

    MIN_SIZE = 5.0

    def __init__(self, text: str, *, size: float = 8, align: str = "right", bold: bool = False) -> None:
        super().__init__()
        self.text, self.size, self.align, self.bold = text, size, align, bold
        self._drawn_size = size

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = availWidth
        natural = stringWidth(self.text, FONT_NAME, self.size)
        scale = 1.0 if natural <= availWidth or natural == 0 else availWidth / natural
        self._drawn_size = max(self.MIN_SIZE, round(self.size * scale - 0.05, 1))
        return availWidth, self.size * 1.25

    def draw(self) -> None:
        x = {"right": self.width, "center": self.width / 2}.get(self.align, 0.0)
        baseline = (self.size * 1.25 - self._drawn_size) / 2 + self._drawn_size * 0.15
        draw_string(self.canv, x, baseline, self.text, size=self._drawn_size, bold=self.bold, align=self.align)
