"""The one font of every PDF the product renders, embedded as a TrueType subset.

A reportlab CID font (``UnicodeCIDFont``) would leave the glyphs to the reader's
own Chinese fonts, so a statement opened on a machine without them shows empty
boxes. The font therefore ships with the product (``assets/``, Apache-2.0) and
is embedded: reportlab writes only the glyphs a document uses.

The face has no bold weight; bold is synthesised at drawing time by filling
*and* stroking the glyph outlines (PDF text render mode 2), see
:data:`FAKE_BOLD_STROKE`. Text extraction is unaffected by it.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path

from reportlab.lib.colors import black
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
FONT_PATH = ASSETS_DIR / "wqy-microhei.ttc"
FONT_SUBFONT_INDEX = 0  # face 0 of the collection: proportional Micro Hei
FONT_NAME = "WQYMicroHei"
# Stroke width of the synthetic bold, as a fraction of the font size: enough to
# read as a semibold heading without closing up the counters of dense Hanzi.
FAKE_BOLD_STROKE = 0.03

_TRUETYPE_MAGIC = (b"ttcf", b"\x00\x01\x00\x00", b"true")
_lock = threading.Lock()
# Font subsets (and their compressed streams) kept per process; see prime().
SUBSET_CACHE_SIZE = 32


class _Recent:
    """The last ``size`` results of a computation by key, oldest dropped first.

    Shared by threads: a race computes a value twice, and either copy is the same bytes.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], object]):
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
                return value
        value = make()
        with self._lock:
            self._values[key] = value
            if len(self._values) > self.size:
                self._values.popitem(last=False)
        return value


class _RememberedFlate:
    """reportlab's Flate filter for font files, compressing each distinct subset once per process."""

    pdfname = "FlateDecode"

    def __init__(self) -> None:
        self._compressed = _Recent(SUBSET_CACHE_SIZE)

    def encode(self, content: bytes) -> bytes:
        # The subset's bytes object itself is the key: its hash is computed once and kept by Python.
        return self._compressed.get(content, lambda: zlib.compress(content))

    def decode(self, encoded: bytes) -> bytes:
        return zlib.decompress(encoded)


def _remember_subsets(font: TTFont) -> None:
    """Make the font build and compress each distinct glyph subset once per process, not once per document.

    reportlab cuts a document's glyphs into subsets of 256 and writes each as a
    TrueType file of its own; building and compressing one costs about a
    quarter of a statement's rendering. A document that starts by printing the
    same characters (see :func:`prime`) has the same first subset, byte for byte.
    """
    face = font.face
    make_subset, add_subset_objects = face.makeSubset, face.addSubsetObjects
    subsets = _Recent(SUBSET_CACHE_SIZE)
    flate = _RememberedFlate()

    def remembered_subset(subset: list[int]) -> bytes:
        return subsets.get(tuple(subset), lambda: make_subset(subset))

    def add_remembered_subset(doc, fontname: str, subset: list[int]):
        reference = add_subset_objects(doc, fontname, subset)
        stream = doc.idToObject[f"fontFile:{face.filename}({fontname})"]
        if stream.filters:
            stream.filters = [flate]
        return reference

    face.makeSubset = remembered_subset
    face.addSubsetObjects = add_remembered_subset


def prime(doc, text: str) -> None:
    """Give the characters of ``text`` the document's first character codes, in that order, before anything is drawn.

    A layout that primes with characters it always prints gets the same first
    subset in every document, whatever its data: built once per process (see
    :func:`_remember_subsets`). ``doc`` is the canvas's ``_doc``.
    """
    pdfmetrics.getFont(register_fonts()).splitString(text, doc)


class FontMissingError(RuntimeError):
    """The bundled CJK font is not where the product expects it: PDFs cannot be rendered."""


def register_fonts() -> str:
    """Register the CJK font with reportlab once per process; return its name.

    Idempotent and thread-safe. Fails loudly when the font file is missing or is
    not a TrueType file (e.g. a checkout that stored it as a Git LFS pointer):
    rendering with a fallback font would silently print empty boxes.
    """
    if FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return FONT_NAME
    with _lock:
        if FONT_NAME in pdfmetrics.getRegisteredFontNames():
            return FONT_NAME
        try:
            with FONT_PATH.open("rb") as fh:
                magic = fh.read(4)
        except OSError as exc:
            raise FontMissingError(
                f"The PDF font {FONT_PATH} is missing ({exc.strerror}). It ships with the repository "
                "(core/pdf/assets/); restore it from version control."
            ) from exc
        if magic not in _TRUETYPE_MAGIC:
            raise FontMissingError(f"{FONT_PATH} is not a TrueType font file; restore it from version control.")
        # validate=0: skip checksumming 5 MB at start-up; the file is the pinned upstream one.
        font = TTFont(FONT_NAME, str(FONT_PATH), subfontIndex=FONT_SUBFONT_INDEX, validate=0)
        _remember_subsets(font)
        pdfmetrics.registerFont(font)
        # Map <b>/<i> onto the same face so reportlab never falls back to Helvetica
        # (which has no Hanzi) for any markup the product itself writes.
        pdfmetrics.registerFontFamily(
            FONT_NAME, normal=FONT_NAME, bold=FONT_NAME, italic=FONT_NAME, boldItalic=FONT_NAME
        )
    return FONT_NAME


def missing_glyphs(text: str) -> set[str]:
    """Characters of ``text`` the font cannot draw (they would print as empty boxes)."""
    register_fonts()
    char_to_glyph = pdfmetrics.getFont(FONT_NAME).face.charToGlyph
    return {ch for ch in text if ord(ch) not in char_to_glyph and not ch.isspace()}


def draw_string(
    canv: Canvas,
    x: float,
    y: float,
    text: str,
    *,
    size: float = 8,
    bold: bool = False,
    align: str = "left",
    color=None,
) -> None:
    """Draw one line of literal text on a canvas (headers, footers, page numbers).

    Canvas strings are never parsed as markup, so partner text is safe here as is.
    """
    register_fonts()
    canv.saveState()
    canv.setFont(FONT_NAME, size)
    if color is not None:
        canv.setFillColor(color)
        canv.setStrokeColor(color)
    mode = None
    if bold:
        canv.setLineWidth(size * FAKE_BOLD_STROKE)
        mode = 2  # fill then stroke: synthetic bold
    if align == "left":
        canv.drawString(x, y, text, mode=mode)
    elif align == "right":
        canv.drawRightString(x, y, text, mode=mode)
    elif align == "center":
        canv.drawCentredString(x, y, text, mode=mode)
    else:
        raise ValueError(f"align must be left, right or center, not {align!r}")
    canv.restoreState()


def draw_strings(canv: Canvas, items) -> None:
    """Draw several lines of literal text in one text object: ``items`` are ``(x, y, text, size, color, bold)``
    (``color`` None: black), left-aligned at ``x`` (align by measuring first).

    What :func:`draw_string` does line by line, at a fraction of the cost: one graphics state saved and
    restored and one text object for a whole cell, instead of one of each per line.
    """
    register_fonts()
    canv.saveState()
    text = canv.beginText()
    current_size = current_color = current_bold = None
    for x, y, line, size, color, bold in items:
        if size != current_size:
            text.setFont(FONT_NAME, size)
            current_size = size
        if color is not current_color:
            text.setFillColor(color if color is not None else black)
            text.setStrokeColor(color if color is not None else black)
            current_color = color
        if bold != current_bold:
            # Synthetic bold: fill then stroke, the stroke as wide as draw_string's.
            text.setTextRenderMode(2 if bold else 0)
            if bold:
                text._code.append(f"{size * FAKE_BOLD_STROKE:.3f} w")
            current_bold = bold
        text.setTextOrigin(x, y)
        text.textOut(line)
    canv.drawText(text)
    canv.restoreState()
