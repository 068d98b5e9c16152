"""Bulk import and export of partners as files (the admin's import/export use the same resource)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import BinaryIO

import tablib
from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from import_export.formats.base_formats import CSV, XLSX

from core.spreadsheets import UnsafeSpreadsheet, xlsx_check
from onboarding.errors import NotPermitted, PartnerFileRefused
from onboarding.models import Partner
from onboarding.resources import PartnerResource, import_errors
from organisation.models import User

FORMATS = {"csv": CSV, "xlsx": XLSX}
# Spreadsheet XML packs 5 to 20 times: an XLSX under the byte limit unpacks to at most this many times it.
XLSX_MAX_UNPACK_RATIO = 20


@dataclass(frozen=True)
class PartnerImportReport:
    created: int
    # (row number, reason); row 1 is the first row under the header.
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def partner_import_file_check(*, handle: BinaryIO, file_format: str, size: int) -> None:
    """Refuse a file over ``PARTNER_IMPORT_MAX_BYTES`` or ``PARTNER_IMPORT_MAX_ROWS`` before any row is parsed.

    Rows are counted (blank rows aside) up to one past the limit and no further; an XLSX is first checked
    for what it unpacks to. ``handle`` is a seekable binary file, left rewound.
    """
    max_bytes, max_rows = settings.PARTNER_IMPORT_MAX_BYTES, settings.PARTNER_IMPORT_MAX_ROWS
    if size > max_bytes:
        raise PartnerFileRefused(
            _("The file is %(kb)s KB; the partner import takes files of at most %(max)s KB.")
            % {"kb": f"{-(-size // 1024):,}", "max": f"{max_bytes // 1024:,}"}
        )
    start = handle.tell()
    try:
        rows = _xlsx_rows(handle, max_bytes) if file_format == "xlsx" else _csv_rows(handle)
        over = sum(1 for _row in zip(range(max_rows + 1), rows, strict=False)) > max_rows
    finally:
        handle.seek(start)
    if over:
        raise PartnerFileRefused(
            _("The partner import takes at most %(max)s rows per file; split the file and import each part.")
            % {"max": f"{max_rows:,}"}
        )


def _csv_rows(handle: BinaryIO):
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="replace", newline="")
    try:
        reader = csv.reader(text)
        next(reader, None)  # the header
        yield from (row for row in reader if any(cell.strip() for cell in row))
    finally:
        text.detach()  # leave the caller's file open


def _xlsx_rows(handle: BinaryIO, max_bytes: int):
    from openpyxl import load_workbook

    try:
        xlsx_check(handle, max_unpacked_bytes=XLSX_MAX_UNPACK_RATIO * max_bytes)
    except UnsafeSpreadsheet as exc:
        raise PartnerFileRefused(str(exc)) from exc
    try:
        sheet = load_workbook(handle, read_only=True, data_only=True).active
        rows = sheet.iter_rows(min_row=2, values_only=True)
    except Exception as exc:  # anything openpyxl cannot open: the import reports it as unreadable
        raise PartnerFileRefused(_("This is not a readable XLSX file.")) from exc
    yield from (row for row in rows if any(v is not None and str(v).strip() for v in row))


def partner_import(*, content: bytes | str, file_format: str, by: User, dry_run: bool = False) -> PartnerImportReport:
    """Create a draft case per row of a CSV or XLSX file — every row, or (if any row is bad) none.

    Needs ``onboarding.import_partner``; an RM imports into their own branch only. A file over the size or
    row limit is refused whole (``PartnerFileRefused``) before its rows are read.
    """
    if not by.has_perm("onboarding.import_partner"):
        raise NotPermitted(_("You do not have the permission to import partners."))
    raw = content.encode() if isinstance(content, str) else content
    partner_import_file_check(handle=io.BytesIO(raw), file_format=file_format, size=len(raw))
    fmt = FORMATS[file_format]()
    if isinstance(content, bytes) and not fmt.is_binary():
        content = content.decode("utf-8-sig")
    dataset = fmt.create_dataset(content)
    result = PartnerResource(user=by).import_data(dataset, dry_run=dry_run)
    errors = import_errors(result)
    created = 0 if errors or dry_run else result.totals["new"]
    return PartnerImportReport(created=created, errors=errors)


def partner_export(*, by: User, file_format: str, queryset: QuerySet[Partner] | None = None) -> bytes | str:
    """The partners ``by`` may see (optionally narrowed by ``queryset``) as a CSV or XLSX file."""
    fmt = FORMATS[file_format]()
    dataset: tablib.Dataset = PartnerResource(user=by).export(
        queryset=queryset if queryset is not None else Partner.objects.all(), force_native_type=fmt.is_binary()
    )
    return fmt.export_data(dataset)
