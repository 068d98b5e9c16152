"""Bulk import and export of partners as files (the admin's import/export use the same resource)."""

from __future__ import annotations

from dataclasses import dataclass, field

import tablib
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from import_export.formats.base_formats import CSV, XLSX

from onboarding.errors import NotPermitted
from onboarding.models import Partner
from onboarding.resources import PartnerResource, import_errors
from organisation.models import User

FORMATS = {"csv": CSV, "xlsx": XLSX}


@dataclass(frozen=True)
class PartnerImportReport:
    created: int
    # (row number, reason); row 1 is the first row under the header.
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def partner_import(*, content: bytes | str, file_format: str, by: User, dry_run: bool = False) -> PartnerImportReport:
    """Create a draft case per row of a CSV or XLSX file — every row, or (if any row is bad) none.

    Needs ``onboarding.import_partner``; an RM imports into their own branch only.
    """
    if not by.has_perm("onboarding.import_partner"):
        raise NotPermitted(_("You do not have the permission to import partners."))
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
