"""Tables: a long table laid out one page at a time, and small key/value tables.

reportlab lays out a ``Table`` as a whole and, when it splits one across pages,
re-measures every remaining row for every page: time grows with the square of
the row count and the whole table sits in memory as styled cells. A statement
with thousands of lines would take minutes. :class:`LongTable` keeps the rows as
plain data and, at each page break, builds a ``Table`` for just the rows that
fit on that page, with the header row on top: linear time, the header on every
page and never in the middle of one. A ``tail`` (a totals block) shares the
table's last page with at least its last ``tail_rows`` rows: it never stands
alone at the top of a page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Table, TableStyle

from .fonts import FONT_NAME, register_fonts
from .text import HEADER_FILL, RULE, ZEBRA_FILL, TextParagraph, bilingual, get_styles, safe_text

Cell = str | Flowable | None
# A header cell may also be a (Chinese, English) pair, printed as a bold bilingual label.
HeaderCell = Cell | tuple[str, str]
_ALIGN = {"left": "LEFT", "right": "RIGHT", "center": "CENTER"}
PADDING = 2.5
H_PADDING = 3


def _check_cell(cell: object) -> object:
    if cell is None:
        return ""
    if isinstance(cell, (str, Flowable)):
        # A plain string cell is drawn as is, never parsed as markup.
        return cell
    raise TypeError(f"table cells must be str, a Flowable or None, not {type(cell).__name__}; format numbers first")


def _label_cells(row: Sequence[HeaderCell], align: Sequence[str] | None, *, bold: bool) -> list[object]:
    styles = get_styles()
    cells = []
    for col, cell in enumerate(row):
        if isinstance(cell, tuple):
            zh, en = cell
            how = align[col] if align else "left"
            cells.append(bilingual(zh, en, styles["cell" if how == "left" else f"cell_{how}"], bold=bold))
        else:
            cells.append(_check_cell(cell))
    return cells


def table_style(
    *,
    ncols: int,
    align: Sequence[str] | None = None,
    font_size: float = 8,
    header_rows: int = 1,
    zebra: bool = True,
) -> list[tuple]:
    """The product's table look as TableStyle commands (embedded font, header fill, light rules)."""
    leading = font_size * 1.25
    cmds: list[tuple] = [
        ("FONTNAME", (0, 0), (-1, -1), FONT_NAME),
        ("FONTSIZE", (0, 0), (-1, -1), font_size),
        ("LEADING", (0, 0), (-1, -1), leading),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), PADDING),
        ("BOTTOMPADDING", (0, 0), (-1, -1), PADDING),
        ("LEFTPADDING", (0, 0), (-1, -1), H_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), H_PADDING),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
    ]
    if header_rows:
        cmds += [
            ("BACKGROUND", (0, 0), (-1, header_rows - 1), HEADER_FILL),
            ("LINEBELOW", (0, header_rows - 1), (-1, header_rows - 1), 0.75, colors.black),
        ]
    if zebra:
        cmds.append(("ROWBACKGROUNDS", (0, header_rows), (-1, -1), [colors.white, ZEBRA_FILL]))
    for col, how in enumerate(align or ()):
        try:
            cmds.append(("ALIGN", (col, 0), (col, -1), _ALIGN[how]))
        except KeyError:
            raise ValueError(f"align must be left, right or center, not {how!r}") from None
    if align and len(align) != ncols:
        raise ValueError(f"{len(align)} alignments for {ncols} columns")
    return cmds


class LongTable(Flowable):
    """A table of any length: the header row repeats on every page; rows are laid out page by page.

    ``rows`` are kept as given (one list shared by every continuation); each
    page's ``Table`` is built when the page is laid out and then dropped.
    """

    def __init__(
        self,
        header: Sequence[Cell],
        rows: Sequence[Sequence[Cell]],
        *,
        col_widths: Sequence[float],
        style: Sequence[tuple],
        min_row_height: float,
        start: int = 0,
        tail: Sequence[Flowable] = (),
        tail_rows: int = 0,
    ) -> None:
        super().__init__()
        self._tail = list(tail)
        self._tail_rows = tail_rows
        self._tail_height = 0.0
        self._header = list(header)
        self._rows = rows
        self._col_widths = list(col_widths)
        self._style = TableStyle(style)
        self._min_row_height = min_row_height
        self._start = start
        self._fitted: Table | None = None
        self.hAlign = "LEFT"

    def _table(self, stop: int) -> Table:
        return Table(
            [self._header, *self._rows[self._start : stop]],
            colWidths=self._col_widths,
            style=self._page_style(stop),
            repeatRows=1,
            hAlign="LEFT",
        )

    def _page_style(self, stop: int) -> TableStyle:
        """The style for rows ``start:stop``: a command naming data rows by their place in the whole table
        (e.g. one highlighted row) moves with them, and is dropped on pages that do not hold them."""
        if self._start == 0 and stop >= len(self._rows):
            return self._style
        commands = []
        for command in self._style.getCommands():
            name, (sc, sr), (ec, er), *rest = command
            if isinstance(sr, int) and isinstance(er, int) and sr >= 1 and er >= 1:
                first, last = max(sr - self._start, 1), min(er - self._start, stop - self._start)
                if first > last:
                    continue
                command = (name, (sc, first), (ec, last), *rest)
            commands.append(command)
        return TableStyle(commands)

    def _page_capacity(self, avail_height: float) -> int:
        # At least one row more than can possibly fit (every row is at least
        # min_row_height tall), so the page's Table always overflows or ends the data.
        return max(1, int(avail_height / self._min_row_height) + 1)

    def _measure_tail(self, avail_width: float, avail_height: float) -> float:
        height = 0.0
        for number, flowable in enumerate(self._tail):
            if number:
                height += flowable.getSpaceBefore()
            height += flowable.wrap(avail_width, avail_height)[1] + flowable.getSpaceAfter()
        return height

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self._frame_width = avail_width
        stop = self._start + self._page_capacity(avail_height)
        width = sum(self._col_widths)
        if stop < len(self._rows):
            self._fitted = None
            # Taller than the space: the frame will ask split() for this page's share.
            return width, avail_height + 1
        self._fitted = self._table(len(self._rows))
        table_width, table_height = self._fitted.wrap(avail_width, avail_height)
        self._tail_height = self._measure_tail(avail_width, avail_height) if self._tail else 0.0
        return table_width, table_height + self._tail_height

    def _rest(self, start: int) -> LongTable:
        return LongTable(
            self._header,
            self._rows,
            col_widths=self._col_widths,
            style=self._style.getCommands(),
            min_row_height=self._min_row_height,
            start=start,
            tail=self._tail,
            tail_rows=self._tail_rows,
        )

    def split(self, avail_width: float, avail_height: float) -> list[Flowable]:
        parts = self._split_rows(avail_width, avail_height)
        if not self._tail or len(parts) != 1:
            return self._hold_back(parts, avail_width, avail_height)
        # Every remaining row fits: the tail comes along if it fits too, else the last rows go with it.
        if parts[0].wrap(avail_width, avail_height)[1] + self._measure_tail(avail_width, avail_height) <= avail_height:
            return [self._rest(self._start)]
        stop = len(self._rows) - min(self._tail_rows, len(self._rows) - self._start)
        if stop <= self._start:
            return []  # the whole remainder moves to the next page
        return [self._table(stop), self._rest(stop)]

    def _hold_back(self, parts: list[Flowable], avail_width: float, avail_height: float) -> list[Flowable]:
        """Leave at least ``tail_rows`` rows for the page that ends the table and carries the tail."""
        if not self._tail or len(parts) != 2:
            return parts
        next_start = parts[1]._start
        if len(self._rows) - next_start >= self._tail_rows:
            return parts
        stop = max(self._start, len(self._rows) - self._tail_rows)
        if stop <= self._start:
            return []
        return [self._table(stop), self._rest(stop)]

    def _split_rows(self, avail_width: float, avail_height: float) -> list[Flowable]:
        capacity = self._page_capacity(avail_height)
        while True:
            stop = min(len(self._rows), self._start + capacity)
            parts = self._table(stop).split(avail_width, avail_height)
            if not parts:
                return []  # not even the header and one row fit: the frame moves on to the next page
            fitted = parts[0]
            taken = len(fitted._cellvalues) - 1  # minus the header row
            if taken <= 0:
                return []
            # Every candidate row fitted yet more remain (rows lower than estimated): take a bigger bite.
            if taken < stop - self._start or stop == len(self._rows):
                break
            capacity *= 2
        next_start = self._start + taken
        if next_start >= len(self._rows):
            return [fitted]
        return [fitted, self._rest(next_start)]

    def draw(self) -> None:
        if self._fitted is None:  # pragma: no cover — platypus always splits first
            raise RuntimeError("LongTable drawn without fitting")
        self._fitted.drawOn(self.canv, 0, self._tail_height)
        # The tail, top down beneath the table, each flowable wrapped to the table's frame width.
        y = self._tail_height
        for number, flowable in enumerate(self._tail):
            if number:
                y -= flowable.getSpaceBefore()
            _width, height = flowable.wrap(self._frame_width, self._tail_height)
            y -= height
            flowable.drawOn(self.canv, 0, y)
            y -= flowable.getSpaceAfter()


def long_table(
    header: Sequence[HeaderCell],
    rows: Iterable[Sequence[Cell]],
    *,
    col_widths: Sequence[float],
    align: Sequence[str] | None = None,
    wrap_columns: Iterable[int] = (),
    font_size: float = 8,
    zebra: bool = True,
    extra_style: Sequence[tuple] = (),
    tail: Sequence[Flowable] = (),
    tail_rows: int = 3,
) -> LongTable:
    """A table with thousands of rows, header row repeated on every page, in linear time.

    Cells are ``str`` (printed literally, one line per ``\\n``), a Flowable or
    ``None``; a header cell may also be a ``("中文", "English")`` pair.
    Format numbers first (:func:`~core.pdf.formatting.format_money`); ``align``
    gives each column's "left"/"right"/"center". Text in ``wrap_columns`` is
    wrapped to the column width (slower: use it only for free-text columns
    such as product names). ``tail`` flowables (a totals block) follow the
    table on its last page together with at least its last ``tail_rows`` rows.
    """
    register_fonts()
    ncols = len(col_widths)
    if len(header) != ncols:
        raise ValueError(f"header has {len(header)} cells for {ncols} columns")
    # Room for text in each wrapped column: its width less the left and right padding.
    wrap = {col: col_widths[col] - 2 * H_PADDING for col in wrap_columns}
    cell_style = ParagraphStyle("wrapped", parent=get_styles()["cell"], fontSize=font_size, leading=font_size * 1.25)
    checked: list[list[object]] = []
    for number, row in enumerate(rows, start=1):
        if len(row) != ncols:
            raise ValueError(f"row {number} has {len(row)} cells for {ncols} columns")
        cells = [_check_cell(cell) for cell in row]
        for col, room in wrap.items():
            text = cells[col]
            # Only text that does not fit on one line pays for a Paragraph (CJK line breaking is slow).
            if isinstance(text, str) and "\n" not in text and stringWidth(text, FONT_NAME, font_size) > room:
                cells[col] = TextParagraph(safe_text(text), cell_style)
        checked.append(cells)
    style = [*table_style(ncols=ncols, align=align, font_size=font_size), *extra_style]
    # The lowest a row can be: one line of text plus padding (a wrapped cell is only taller).
    min_row_height = font_size * 1.25 + 2 * PADDING
    return LongTable(
        _label_cells(header, align, bold=True),
        checked,
        col_widths=col_widths,
        style=style,
        min_row_height=min_row_height,
        tail=tail,
        tail_rows=tail_rows if tail else 0,
    )


def simple_table(
    rows: Sequence[Sequence[HeaderCell]],
    *,
    col_widths: Sequence[float],
    align: Sequence[str] | None = None,
    header_rows: int = 0,
    font_size: float = 8,
    zebra: bool = False,
    extra_style: Sequence[tuple] = (),
) -> Table:
    """A short table (a key/value block, a totals box) in the product's look; not split across pages.

    Cells as in :func:`long_table`; a ``("中文", "English")`` pair is a bilingual
    label (bold in the header rows).
    """
    register_fonts()
    ncols = len(col_widths)
    data = []
    for number, row in enumerate(rows, start=1):
        if len(row) != ncols:
            raise ValueError(f"row {number} has {len(row)} cells for {ncols} columns")
        data.append(_label_cells(row, align, bold=number <= header_rows))
    style = [
        *table_style(ncols=ncols, align=align, font_size=font_size, header_rows=header_rows, zebra=zebra),
        *extra_style,
    ]
    return Table(data, colWidths=list(col_widths), style=style, hAlign="LEFT", repeatRows=header_rows)
