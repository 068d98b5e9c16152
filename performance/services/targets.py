"""Writes of performance control: branch targets, one at a time or from a spreadsheet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import tablib
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from import_export.formats.base_formats import CSV, XLSX

from core.errors import NotPermitted
from organisation.models import Branch, User
from performance.errors import TargetImportRejected, TargetWeightsInvalid
from performance.models import BranchTarget
from performance.resources import IMPORT_PERMISSION, BranchTargetResource
from performance.selectors import branch_target_weight_sum, branch_targets_visible_to

FileFormat = Literal["csv", "xlsx"]
EXPORT_PERMISSION = "performance.export_branchtarget"
# Excel needs the byte-order mark to read UTF-8 CSV (Chinese branch names) correctly.
CSV_EXPORT_ENCODING = "utf-8-sig"
# Spreadsheets saved on Chinese Windows write CSV in GB18030 (GBK) rather than UTF-8.
CSV_IMPORT_ENCODINGS = ("utf-8-sig", "gb18030")


def _lock_branch(branch_id: int) -> None:
    # Serialises edits of one branch's targets with each other and with imports
    # (which lock the same rows), so that the weight check reads a stable set.
    list(Branch.objects.filter(pk=branch_id).select_for_update())


@transaction.atomic
def branch_target_save(*, target: BranchTarget, by: User) -> BranchTarget:
    """Create or change one target (head office).

    The weights of the branch-period may not exceed 1 after the change; below
    1 the set is merely incomplete (listed by ``branch_target_weight_sums``) and
    a scorecard cannot be built from it until it is completed.
    """
    permission = "performance.add_branchtarget" if target.pk is None else "performance.change_branchtarget"
    if not by.has_perm(permission):
        raise NotPermitted(_("Only head office sets branch targets."))
    target.full_clean()
    _lock_branch(target.branch_id)
    total = (
        branch_target_weight_sum(
            branch_id=target.branch_id,
            period_kind=target.period_kind,
            period_start=target.period_start,
            exclude_pk=target.pk,
        )
        + target.weight
    )
    if total > 1:
        raise TargetWeightsInvalid(
            _(
                "The weights of %(branch)s for %(period)s would sum to %(total)s; they must sum to 1. "
                "Lower another KPI's weight first, or import the period's targets as a whole."
            )
            % {"branch": target.branch, "period": target.period_label, "total": total},
            extra={"weight_sum": str(total)},
        )
    target.save()
    return target


@transaction.atomic
def branch_target_delete(*, target: BranchTarget, by: User) -> None:
    if not by.has_perm("performance.delete_branchtarget"):
        raise NotPermitted(_("Only head office removes branch targets."))
    target.delete()


@dataclass(frozen=True)
class TargetImportSummary:
    new: int
    updated: int
    dry_run: bool


def import_result_errors(result) -> list[dict]:
    """The errors of an import-export result as ``[{"row": n or None, "messages": [...]}]``, by row."""
    errors = [{"row": None, "messages": _messages(error.error)} for error in result.base_errors]
    for invalid in result.invalid_rows:
        errors.append({"row": invalid.number, "messages": _messages(invalid.error)})
    for number, row_errors in result.row_errors():
        errors.append({"row": number, "messages": [str(error.error) for error in row_errors]})
    return sorted(errors, key=lambda e: (e["row"] is not None, e["row"] or 0))


def _messages(error) -> list[str]:
    if hasattr(error, "messages"):
        return [str(m) for m in error.messages]
    if hasattr(error, "message"):
        return [str(error.message)]
    return [str(error)]


def branch_targets_import(*, dataset: tablib.Dataset, by: User, dry_run: bool = False) -> TargetImportSummary:
    """Import targets from a table (head office); all or nothing.

    Raises ``TargetImportRejected`` with ``extra["errors"]`` listing every bad
    row (see ``performance.resources``) and writes nothing when any row is bad.
    """
    if not by.has_perm(IMPORT_PERMISSION):
        raise NotPermitted(_("Only head office may import branch targets."))
    result = BranchTargetResource().import_data(
        dataset,
        dry_run=dry_run,
        raise_errors=False,
        use_transactions=True,
        rollback_on_validation_errors=True,
        user=by,
    )
    if result.has_errors() or result.has_validation_errors():
        errors = import_result_errors(result)
        raise TargetImportRejected(
            _("The targets were not imported: %(count)s problem(s) in the file.") % {"count": len(errors)},
            extra={"errors": errors},
        )
    return TargetImportSummary(new=result.totals["new"], updated=result.totals["update"], dry_run=dry_run)


def _decode_csv(content: bytes) -> str:
    for encoding in CSV_IMPORT_ENCODINGS:
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TargetImportRejected(_("The CSV file is neither UTF-8 nor GB18030 text."))


def branch_targets_import_file(
    *, content: bytes, file_format: FileFormat, by: User, dry_run: bool = False
) -> TargetImportSummary:
    """Import targets from the bytes of a CSV or XLSX file (see ``branch_targets_import``)."""
    try:
        if file_format == "csv":
            dataset = CSV().create_dataset(_decode_csv(content))
        elif file_format == "xlsx":
            dataset = XLSX().create_dataset(content)
        else:
            raise TargetImportRejected(_("Targets are imported from CSV or XLSX files."))
    except TargetImportRejected:
        raise
    except Exception as exc:  # tablib/openpyxl raise many kinds of errors on unreadable files
        raise TargetImportRejected(_("The file could not be read: %(error)s") % {"error": exc}) from exc
    return branch_targets_import(dataset=dataset, by=by, dry_run=dry_run)


def branch_targets_export(
    *, by: User, file_format: FileFormat, queryset: QuerySet[BranchTarget] | None = None
) -> bytes:
    """The targets ``by`` may see (optionally narrowed by ``queryset``) as CSV or XLSX bytes."""
    if not by.has_perm(EXPORT_PERMISSION):
        raise NotPermitted(_("Only head office may export branch targets."))
    visible = branch_targets_visible_to(user=by)
    if queryset is not None:
        visible = visible.filter(pk__in=queryset.values("pk"))
    dataset = BranchTargetResource().export(queryset=visible)
    if file_format == "csv":
        return CSV().export_data(dataset).encode(CSV_EXPORT_ENCODING)
    if file_format == "xlsx":
        return XLSX().export_data(dataset)
    raise ValueError(f"unknown export format {file_format!r}")
