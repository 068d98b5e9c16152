"""Spreadsheet files every export writes: the formula guard, streamed CSV and write-only XLSX.

Exports are described by :class:`Column`s (header = the verbose name or label
the pages show, meaning, kind) and written by :func:`csv_export` and
:func:`xlsx_export`: headers in the language asked for (:func:`export_language`),
money ``#,##0.00``, counts ``#,##0``, rates as percentages, Beijing times with
their ``+08:00`` offset, a totals row adding the money and count columns up
exactly, and, in XLSX, a frozen header and a column dictionary sheet.

Text from source systems and users (SME names, ids, comments) may start with
``=``, ``+``, ``-``, ``@``, ``|`` or their full-width forms; a spreadsheet
would run such a cell as a formula, so text cells are prefixed with an
apostrophe (:func:`formula_safe`, the one guard every CSV and XLSX export
uses). Amounts are numbers (XLSX) or plain decimal strings (CSV), never
neutralised. Times are written in China time.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from core.errors import ApplicationError
from core.periods import CHINA_TZ

# What a spreadsheet program evaluates at the start of a cell (Excel, LibreOffice, WPS, Sheets), full-width forms
# included: WPS and Excel in Chinese locales read "＝" like "=".
FORMULA_PREFIXES = ("=", "+", "-", "@", "|", "\t", "\r", "\n", "＝", "＋", "－", "＠", "｜")
PLAIN_NUMBER_RE = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def formula_safe(value):
    """Text a spreadsheet would evaluate, prefixed with an apostrophe so it stays text; anything else as given.

    A plain signed number ("-12.50") is not a formula and stays as it is.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not PLAIN_NUMBER_RE.match(value):
        return "'" + value
    return value


def _cell(value: object, *, for_csv: bool) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        if for_csv:
            return "1" if value else "0"
        return value
    if isinstance(value, dt.datetime):
        local = value.astimezone(CHINA_TZ)
        return local.strftime("%Y-%m-%d %H:%M:%S") if for_csv else local.replace(tzinfo=None)
    if isinstance(value, Decimal):
        return str(value) if for_csv else value
    if isinstance(value, int):
        return value
    return formula_safe(str(value))


class _Echo:
    """A write-only file whose write() returns what it was given: csv.writer then yields lines."""

    def write(self, value: str) -> str:
        return value


def csv_stream(header: Iterable[str], rows: Iterable[tuple], *, prepared: bool = False) -> Iterator[bytes]:
    """The CSV, UTF-8 with a BOM (so spreadsheet programs read the Chinese right), one chunk per ~500 rows.

    ``prepared``: the rows' values are already the cells' text (see :func:`csv_export`).
    """
    writer = csv.writer(_Echo())
    yield "\ufeff".encode() + writer.writerow(list(header)).encode()
    buffer: list[str] = []
    for row in rows:
        buffer.append(writer.writerow(row if prepared else [_cell(value, for_csv=True) for value in row]))
        if len(buffer) >= 500:
            yield "".join(buffer).encode()
            buffer.clear()
    if buffer:
        yield "".join(buffer).encode()


class UnsafeSpreadsheet(ValueError):
    """An uploaded XLSX that is not one, or that would unpack to far more than its size (a zip bomb)."""


def xlsx_check(handle, *, max_unpacked_bytes: int, max_ratio: int = 100) -> None:
    """Refuse an XLSX before parsing it: not a zip, or unpacking to more than ``max_unpacked_bytes`` in all,
    or any part packed more than ``max_ratio`` times (spreadsheet XML packs 5 to 20 times; a bomb thousands).

    ``handle`` is a seekable binary file, left rewound. XML with a DTD or entities is refused while it is
    parsed: openpyxl reads through defusedxml.
    """
    start = handle.tell()
    try:
        if not zipfile.is_zipfile(handle):
            raise UnsafeSpreadsheet(_("This is not an XLSX file."))
        handle.seek(start)
        with zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
        unpacked = sum(m.file_size for m in members)
        if unpacked > max_unpacked_bytes:
            raise UnsafeSpreadsheet(
                _("The XLSX unpacks to %(mb)d MB, more than the %(max)d MB accepted.")
                % {"mb": unpacked // 2**20, "max": max_unpacked_bytes // 2**20}
            )
        if any(m.file_size > max_ratio * max(m.compress_size, 1) and m.file_size > 2**20 for m in members):
            raise UnsafeSpreadsheet(_("The XLSX holds a part that unpacks to far more than its size; it is refused."))
    except zipfile.BadZipFile as exc:
        raise UnsafeSpreadsheet(_("This is not an XLSX file.")) from exc
    finally:
        handle.seek(start)


def xlsx_file(header: Iterable[str], rows: Iterable[tuple], *, title: str = "transactions"):
    """The XLSX in a temporary file (write-only workbook: rows go to disk as they come), rewound for reading."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(list(header))
    for row in rows:
        sheet.append([_cell(value, for_csv=False) for value in row])
    handle = tempfile.TemporaryFile()
    workbook.save(handle)
    handle.seek(0)
    return handle


# ---- labelled exports: one column vocabulary, both languages, number formats, totals -----------------


class ColumnKind(StrEnum):
    """What a column holds, which decides its cell format, its unit in the dictionary and whether it adds up."""

    TEXT = "text"
    MONEY = "money"  # yuan with two decimals: #,##0.00
    COUNT = "count"  # whole numbers: #,##0
    DECIMAL = "decimal"  # a ratio with its own places (e.g. an attribution weight)
    PERCENT = "percent"  # a rate, 1 = 100 %: 0.00%
    DATETIME = "datetime"  # Beijing time, written with its +08:00 offset
    FIGURE = "figure"  # a KPI figure: yuan (Decimal, #,##0.00) or a whole count (int, #,##0), row by row


MONEY_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"
PERCENT_FORMAT = "0.00%"
# Spreadsheets hold no time zone: the cell is the Beijing wall-clock time and its format prints the offset.
DATETIME_FORMAT = 'yyyy-mm-dd hh:mm:ss"+08:00"'
CHINA_OFFSET = "+08:00"
UNITS = {
    ColumnKind.TEXT: "",
    ColumnKind.MONEY: _("CNY (yuan)"),
    ColumnKind.COUNT: _("count"),
    ColumnKind.DECIMAL: _("ratio"),
    ColumnKind.PERCENT: _("percent"),
    ColumnKind.DATETIME: _("Beijing time (UTC+08:00)"),
    ColumnKind.FIGURE: _("CNY (yuan) or count, as the row's KPI"),
}
EXPORT_LANGUAGES = ("zh-hans", "en")


@dataclass(frozen=True)
class Column:
    """A column of an export: its header (the same verbose name or label the pages use), meaning and kind.

    ``total``: the totals row adds the column up (money and counts); ``places``:
    the decimals of a ``DECIMAL`` column; ``width``: in characters, else by kind.
    """

    label: Promise | str
    kind: ColumnKind = ColumnKind.TEXT
    meaning: Promise | str = ""
    total: bool = False
    places: int = 2
    width: int | None = None

    @property
    def number_format(self) -> str:
        if self.kind in (ColumnKind.MONEY, ColumnKind.FIGURE):
            return MONEY_FORMAT
        if self.kind == ColumnKind.COUNT:
            return COUNT_FORMAT
        if self.kind == ColumnKind.PERCENT:
            return PERCENT_FORMAT
        if self.kind == ColumnKind.DATETIME:
            return DATETIME_FORMAT
        if self.kind == ColumnKind.DECIMAL:
            return "0." + "0" * self.places if self.places else "0"
        return "@"


def field_label(model, name: str) -> Promise | str:
    """A model field's verbose name, capitalised as the admin's column headers are."""
    return capfirst(model._meta.get_field(name).verbose_name)


class ExportParameterError(ApplicationError):
    """A download asked for a language or format that does not exist (a 400, never a 500)."""


def export_language(params, default: str | None = None) -> str:
    """The language of an export's headers: ``?lang=zh-hans|zh|en``, else the page's own language.

    ``params`` is the request's query dict; anything else than the languages
    above is refused with :class:`ExportParameterError`.
    """
    requested = (params.get("lang") or "").strip().lower()
    if not requested:
        current = default or translation.get_language() or settings.LANGUAGE_CODE
        return "en" if current.lower().startswith("en") else "zh-hans"
    if requested in ("zh", "zh-hans", "zh-cn", "zh_hans"):
        return "zh-hans"
    if requested in ("en", "en-us", "en-gb"):
        return "en"
    raise ExportParameterError(
        _("Unknown language %(lang)r: use lang=zh-hans (Chinese) or lang=en (English).") % {"lang": requested[:20]}
    )


def export_format(value: str | None, *, default: str = "csv") -> str:
    """``csv`` or ``xlsx``; anything else refused with :class:`ExportParameterError`."""
    chosen = (value or default).strip().lower()
    if chosen not in ("csv", "xlsx"):
        raise ExportParameterError(
            _("Unknown format %(format)r: use format=csv or format=xlsx.") % {"format": chosen[:20]}
        )
    return chosen


def _text_in(language: str, text) -> str:
    with translation.override(language):
        return str(text)


def export_headers(columns: Sequence[Column], language: str) -> list[str]:
    return [_text_in(language, column.label) for column in columns]


def _csv_value(column: Column, value: object, language: str) -> object:
    if value is None:
        return ""
    if isinstance(value, Promise):  # a label (a line kind, a state): in the export's language
        value = _text_in(language, value)
    if column.kind == ColumnKind.DATETIME and isinstance(value, dt.datetime):
        return value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S") + CHINA_OFFSET
    if column.kind == ColumnKind.PERCENT and isinstance(value, Decimal | int):
        return f"{(Decimal(value) * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"
    if column.kind in (ColumnKind.MONEY, ColumnKind.DECIMAL, ColumnKind.COUNT, ColumnKind.FIGURE) and isinstance(
        value, Decimal | int
    ):
        return str(value)
    return _cell(value, for_csv=True)


def _xlsx_value(column: Column, value: object, language: str) -> object:
    if value is None:
        return None
    if isinstance(value, Promise):
        value = _text_in(language, value)
    if column.kind == ColumnKind.DATETIME and isinstance(value, dt.datetime):
        return value.astimezone(CHINA_TZ).replace(tzinfo=None)
    return _cell(value, for_csv=False)


class _Totals:
    """Adds up the ``total`` columns of the rows streamed past it (exact Decimal sums)."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = columns
        self.sums: list[Decimal | int | None] = [0 if column.total else None for column in columns]
        self.rows = 0

    def add(self, row: Sequence) -> Sequence:
        self.rows += 1
        for index, column in enumerate(self.columns):
            if column.total and row[index] is not None:
                self.sums[index] += row[index]
        return row

    def row(self, language: str) -> list:
        values = list(self.sums)
        with translation.override(language):  # formatting a lazy text translates it: in the export's language
            values[0] = str(_("Total (%(rows)s rows)") % {"rows": self.rows})
        return values


def csv_export(
    columns: Sequence[Column], rows: Iterable[Sequence], *, language: str, totals: bool = True
) -> Iterator[bytes]:
    """The export as CSV: UTF-8 with a BOM, headers in ``language``, Beijing times with their offset, and a
    last row adding up the money and count columns (when any column has ``total``)."""
    totals = totals and any(column.total for column in columns)
    summed = _Totals(columns)
    body = (
        [
            _csv_value(column, value, language)
            for column, value in zip(columns, summed.add(row) if totals else row, strict=True)
        ]
        for row in rows
    )
    yield from csv_stream(export_headers(columns, language), body, prepared=True)
    if totals:
        writer = csv.writer(_Echo())
        yield writer.writerow(
            [
                _csv_value(c, v, language) if i else v
                for i, (c, v) in enumerate(zip(columns, summed.row(language), strict=True))
            ]
        ).encode()


def _width(column: Column, header: str) -> float:
    if column.width:
        return column.width
    # CJK characters take two columns' width.
    header_width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in header) + 2
    by_kind = {
        ColumnKind.MONEY: 18,
        ColumnKind.COUNT: 10,
        ColumnKind.DECIMAL: 12,
        ColumnKind.PERCENT: 10,
        ColumnKind.DATETIME: 28,
        ColumnKind.FIGURE: 18,
        ColumnKind.TEXT: 14,
    }[column.kind]
    return max(header_width, by_kind)


def xlsx_export(
    columns: Sequence[Column],
    rows: Iterable[Sequence],
    *,
    language: str,
    title: str,
    totals: bool = True,
):
    """The export as XLSX in a temporary file, rewound: headers in ``language`` on a frozen first row, money as
    ``#,##0.00``, counts as whole numbers, rates as percentages, Beijing times showing ``+08:00``, a bold totals
    row, and a second sheet, the column dictionary (column, meaning, unit)."""
    totals = totals and any(column.total for column in columns)
    summed = _Totals(columns)
    headers = export_headers(columns, language)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(title))
    for index, (column, header) in enumerate(zip(columns, headers, strict=True), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = _width(column, header)
    sheet.freeze_panes = "A2"
    _print_setup(sheet)
    # Named like the workbook's default font, so that a spreadsheet program substitutes both alike.
    bold = Font(name="Calibri", bold=True)
    wrapped = Alignment(wrap_text=True, vertical="top")
    header_fill = PatternFill("solid", fgColor="DDEBF7")

    def cell(value, column: Column | None = None, *, font=None, fill=None, alignment=None):
        written = WriteOnlyCell(sheet, value=value)
        if alignment is not None:
            written.alignment = alignment
        if column is not None and column.kind == ColumnKind.FIGURE and isinstance(value, int):
            written.number_format = COUNT_FORMAT
        elif column is not None and column.kind != ColumnKind.TEXT:
            written.number_format = column.number_format
        if font is not None:
            written.font = font
        if fill is not None:
            written.fill = fill
        return written

    sheet.append([cell(header, font=bold, fill=header_fill) for header in headers])
    for row in rows:
        if totals:
            summed.add(row)
        sheet.append([cell(_xlsx_value(c, v, language), c) for c, v in zip(columns, row, strict=True)])
    if totals:
        total_values = summed.row(language)
        sheet.append(
            [
                cell(_xlsx_value(c, v, language) if i else v, c if i else None, font=bold)
                for i, (c, v) in enumerate(zip(columns, total_values, strict=True))
            ]
        )
    if headers:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}1"

    dictionary = workbook.create_sheet(title=_sheet_title(_text_in(language, _("Column dictionary"))))
    dictionary.column_dimensions["A"].width = 30
    # Wide enough for every meaning on one line: a converted or printed sheet need not grow rows to fit.
    dictionary.column_dimensions["B"].width = 110
    dictionary.column_dimensions["C"].width = 26
    dictionary.freeze_panes = "A2"
    _print_setup(dictionary)
    dictionary.append(
        [cell(_text_in(language, text), font=bold, fill=header_fill) for text in (_("Column"), _("Meaning"), _("Unit"))]
    )
    for column, header in zip(columns, headers, strict=True):
        dictionary.append(
            [
                cell(header, alignment=wrapped),
                cell(formula_safe(_text_in(language, column.meaning)), alignment=wrapped),
                cell(_text_in(language, UNITS[column.kind]), alignment=wrapped),
            ]
        )
    handle = tempfile.TemporaryFile()
    workbook.save(handle)
    handle.seek(0)
    return handle


def _print_setup(sheet) -> None:
    # Printed (or turned into PDF): A4 landscape, every column on one page's width, the header on every page.
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = "9"  # A4
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.print_title_rows = "1:1"
    sheet.print_options.gridLines = True


def _sheet_title(title: str) -> str:
    # Excel refuses these characters in a sheet's name, and names longer than 31.
    return re.sub(r"[\[\]:*?/\\]", "-", str(title))[:31] or "Sheet"


def export_filename(stem: str, file_format: str, language: str) -> str:
    """``stem.csv`` in Chinese, ``stem-en.csv`` in English, so the two downloads do not overwrite each other."""
    return f"{stem}{'-en' if language == 'en' else ''}.{file_format}"
