"""Rendering a story to PDF bytes: page header and footer, "page x of y", byte-identical output.

Determinism: statements are regenerated on demand and must match the stored
copy byte for byte, so every document is rendered in reportlab's invariant
mode (fixed creation date and document ID) and depends on nothing but its
story. No resource outside the process is read: text is escaped before it
reaches a Paragraph (no ``<img>``), and reportlab trusts no remote host by
default (``rl_config.trustedHosts`` is None).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, SimpleDocTemplate

from .fonts import FONT_NAME, draw_string, prime, register_fonts
from .text import MUTED, RULE


def page_label(page: int, total: int) -> str:
    """The page number printed in the footer: ``第 2 页 / 共 5 页  Page 2 of 5``.

    A printed document carries both languages whatever the reader's UI
    language, so this is a fixed bilingual string rather than a translation.
    """
    return f"第 {page} 页 / 共 {total} 页  Page {page} of {total}"


@dataclass(frozen=True)
class PageDecor:
    """What every page carries around the story. All strings are printed literally.

    ``header_left`` (e.g. the bank's name, bold) and ``header_right`` (the
    document's title) sit above a rule at the top; ``footer_left`` (e.g. the
    verification code) and the page label below a rule at the bottom.
    """

    header_left: str = ""
    header_right: str = ""
    footer_left: str = ""
    page_label: Callable[[int, int], str] = page_label
    font_size: float = 8


class NumberedCanvas(Canvas):
    """A canvas that holds its pages until ``save()`` so each can say "page x of y".

    Cheaper than building the document twice to count pages: a page's drawing
    commands are kept, not re-laid out.
    """

    def __init__(
        self,
        *args,
        decor: PageDecor,
        margins: tuple[float, float, float, float],
        created: dt.date | None = None,
        primer: str = "",
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        if primer:
            prime(self._doc, primer)
        if created is not None:
            # The document's own date (e.g. a statement's issue date), not the invariant mode's fixed one.
            stamp = f"D:{created:%Y%m%d}000000+08'00'"
            self.setDateFormatter(lambda *_: stamp)
        self._decor = decor
        self._margins = margins
        self._page_states: list[dict] = []

    def showPage(self) -> None:
        self._page_states.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._page_states)
        for state in self._page_states:
            self.__dict__.update(state)
            self._draw_page_number(total)
            super().showPage()
        self._page_states = []
        super().save()

    def _draw_page_number(self, total: int) -> None:
        width, _ = self._pagesize
        decor = self._decor
        # _pageNumber is 1-based and restored with the page's own state above.
        label = decor.page_label(self._pageNumber, total)
        draw_string(self, width - self._margins[1], self._margins[3] / 2, label, size=decor.font_size, align="right")


def _draw_decor(canv: Canvas, doc: SimpleDocTemplate, *, decor: PageDecor, on_page: Callable | None) -> None:
    width, height = doc.pagesize
    left, right = doc.leftMargin, width - doc.rightMargin
    top_rule = height - doc.topMargin + 3 * mm
    bottom_rule = doc.bottomMargin - 3 * mm
    canv.saveState()
    canv.setStrokeColor(RULE)
    canv.setLineWidth(0.5)
    if decor.header_left or decor.header_right:
        canv.line(left, top_rule, right, top_rule)
        draw_string(canv, left, top_rule + 2 * mm, decor.header_left, size=decor.font_size + 1, bold=True)
        draw_string(
            canv, right, top_rule + 2 * mm, decor.header_right, size=decor.font_size, align="right", color=MUTED
        )
    canv.line(left, bottom_rule, right, bottom_rule)
    if decor.footer_left:
        draw_string(canv, left, doc.bottomMargin / 2, decor.footer_left, size=decor.font_size, color=MUTED)
    canv.restoreState()
    # The page number is drawn by NumberedCanvas at save time, when the total is known.
    if on_page is not None:
        on_page(canv, doc)


def render_pdf(
    story: Sequence[Flowable],
    *,
    title: str,
    author: str = "",
    subject: str = "",
    decor: PageDecor | None = None,
    pagesize: tuple[float, float] = A4,
    margins: tuple[float, float, float, float] = (15 * mm, 15 * mm, 20 * mm, 18 * mm),
    on_page: Callable[[Canvas, SimpleDocTemplate], None] | None = None,
    created: dt.date | None = None,
    primer: str = "",
) -> bytes:
    """Render ``story`` (flowables, used once) to PDF bytes.

    ``margins`` are (left, right, top, bottom); the header and footer are drawn
    inside the top and bottom margins. ``on_page(canvas, doc)`` may draw more on
    every page. ``created`` is the creation date in the PDF's information
    (midnight Beijing time); reportlab's fixed date when None. ``primer``: characters
    the layout always prints, given the first character codes (``core.pdf.fonts.prime``),
    so that the font's first subset is built once per process. The same story
    always renders to the same bytes.
    """
    register_fonts()
    decor = decor or PageDecor()
    left, right, top, bottom = margins
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=left,
        rightMargin=right,
        topMargin=top,
        bottomMargin=bottom,
        title=title,
        author=author,
        subject=subject,
        creator="",
        lang="zh-CN",
        invariant=1,
        # The canvas's initial font would otherwise be Helvetica, listed (unembedded) in every PDF.
        initialFontName=FONT_NAME,
    )
    draw = functools.partial(_draw_decor, decor=decor, on_page=on_page)
    doc.build(
        list(story),  # build() consumes the list it is given
        onFirstPage=draw,
        onLaterPages=draw,
        canvasmaker=functools.partial(NumberedCanvas, decor=decor, margins=margins, created=created, primer=primer),
    )
    return buffer.getvalue()
