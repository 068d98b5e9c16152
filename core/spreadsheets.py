"""Spreadsheet files every export writes: the formula guard, streamed CSV and write-only XLSX.

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
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook

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


def csv_stream(header: Iterable[str], rows: Iterable[tuple]) -> Iterator[bytes]:
    """The CSV, UTF-8 with a BOM (so spreadsheet programs read the Chinese right), one chunk per ~500 rows."""
    writer = csv.writer(_Echo())
    yield "\ufeff".encode() + writer.writerow(list(header)).encode()
    buffer: list[str] = []
    for row in rows:
        buffer.append(writer.writerow([_cell(value, for_csv=True) for value in row]))
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
