"""Branch targets as a spreadsheet (CSV or XLSX), with django-import-export.

Columns: ``branch_code``, ``branch_name`` (export only), ``period`` (``2026-10``,
``2026-Q4`` or ``2026``), ``kpi`` (its code), ``kpi_name`` (export only),
``target_value``, ``weight``.

An import is all or nothing: the whole file is checked first and every bad row
is reported with its number (1 = the first row under the header) and the
reasons — unknown branch code, unknown KPI, bad period, target or weight out of
range, the same branch/period/KPI twice, and a branch-period whose weights
would not sum to 1. A row for a branch, period and KPI that already has a
target updates it; targets not in the file are kept and count towards the
weight sum of their branch-period. Only head office may import (the
``performance.import_branchtarget`` permission).

Exports neutralise cells a spreadsheet would run as a formula (starting with
``=``, ``+``, ``-``, ``@``, tab or carriage return) by prefixing an apostrophe;
imports strip that apostrophe again, so an exported file imports unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import resources
from import_export.fields import Field
from import_export.results import RowResult

from core.errors import NotPermitted
from core.spreadsheets import FORMULA_PREFIXES, formula_safe
from organisation.models import Branch
from performance.models import KPI, KPI_DECIMAL_PLACES, KPI_MAX_DIGITS, WEIGHT_DECIMAL_PLACES, BranchTarget
from performance.periods import PeriodKind, ReportingPeriod

IMPORT_COLUMNS = ("branch_code", "period", "kpi", "target_value", "weight")
IMPORT_PERMISSION = "performance.import_branchtarget"


def _text(cell) -> str:
    if cell is None:
        return ""
    text = str(cell).strip()
    # Undo the export's formula neutralisation so that exported files re-import.
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        text = text[1:]
    return text


# ---------------------------------------------------------------------------
# Checking a whole file


@dataclass
class TargetRow:
    """One parsed row of a targets file; ``errors`` empty means it can be imported."""

    number: int
    branch: Branch | None = None
    period: ReportingPeriod | None = None
    kpi: str | None = None
    target_value: Decimal | None = None
    weight: Decimal | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple | None:
        if self.branch is None or self.period is None or self.kpi is None:
            return None
        return (self.branch.pk, self.period, self.kpi)


def _parse_period(cell) -> ReportingPeriod:
    # Spreadsheets turn "2026-10" into a date and "2026" into a number.
    if isinstance(cell, dt.datetime):
        cell = cell.date()
    if isinstance(cell, dt.date):
        if cell.day != 1:
            raise ValueError
        return ReportingPeriod(PeriodKind.MONTH, cell)
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    return ReportingPeriod.parse(_text(cell))


def _parse_decimal(cell, *, percent_allowed: bool = False) -> Decimal:
    if isinstance(cell, Decimal):
        return cell
    if isinstance(cell, bool):
        raise InvalidOperation
    if isinstance(cell, int):
        return Decimal(cell)
    if isinstance(cell, float):
        # repr gives the shortest decimal that reads back as this float: 0.1, not 0.1000000000000000055…
        return Decimal(repr(cell))
    text = _text(cell).replace(",", "").replace(" ", "")
    if percent_allowed and text.endswith("%"):
        return Decimal(text[:-1]) / 100
    value = Decimal(text)
    if not value.is_finite():
        raise InvalidOperation
    return value


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _check_row(number: int, raw: dict, branches_by_code: dict[str, Branch]) -> TargetRow:
    row = TargetRow(number=number)

    code = _text(raw.get("branch_code"))
    if not code:
        row.errors.append(_("The branch code is missing."))
    elif code not in branches_by_code:
        row.errors.append(_("Unknown branch code %(code)r.") % {"code": code})
    else:
        row.branch = branches_by_code[code]

    period_cell = raw.get("period")
    try:
        row.period = _parse_period(period_cell)
    except ValueError:
        row.errors.append(
            _("Bad period %(period)r: write 2026-10 (month), 2026-Q4 (quarter) or 2026 (year).")
            % {"period": _text(period_cell)}
        )

    kpi = _text(raw.get("kpi")).lower()
    if kpi in KPI.values:
        row.kpi = kpi
    else:
        row.errors.append(
            _("Unknown KPI %(kpi)r; use one of: %(choices)s.")
            % {"kpi": _text(raw.get("kpi")), "choices": ", ".join(KPI.values)}
        )

    try:
        target = _parse_decimal(raw.get("target_value"))
    except (InvalidOperation, ValueError):
        row.errors.append(_("The target %(value)r is not a number.") % {"value": _text(raw.get("target_value"))})
    else:
        if target < 0:
            row.errors.append(_("The target %(value)s is negative.") % {"value": target})
        elif _places(target) > KPI_DECIMAL_PLACES:
            row.errors.append(_("The target %(value)s has more than two decimal places.") % {"value": target})
        elif target >= Decimal(10) ** (KPI_MAX_DIGITS - KPI_DECIMAL_PLACES):
            row.errors.append(_("The target %(value)s is too large.") % {"value": target})
        else:
            row.target_value = target.quantize(Decimal(1).scaleb(-KPI_DECIMAL_PLACES))

    try:
        weight = _parse_decimal(raw.get("weight"), percent_allowed=True)
    except (InvalidOperation, ValueError):
        row.errors.append(_("The weight %(value)r is not a number.") % {"value": _text(raw.get("weight"))})
    else:
        if not Decimal(0) < weight <= Decimal(1):
            row.errors.append(_("The weight %(value)s is out of range: above 0 and at most 1.") % {"value": weight})
        elif _places(weight) > WEIGHT_DECIMAL_PLACES:
            row.errors.append(_("The weight %(value)s has more than four decimal places.") % {"value": weight})
        else:
            row.weight = weight.quantize(Decimal(1).scaleb(-WEIGHT_DECIMAL_PLACES))
    return row


def check_target_rows(raw_rows: list[dict]) -> list[TargetRow]:
    """Parse and check every row of a targets file, including the rules across rows.

    Reads the branches and the existing targets of the branch-periods the file
    touches; writes nothing.
    """
    codes = {_text(raw.get("branch_code")) for raw in raw_rows}
    branches_by_code = {b.code: b for b in Branch.objects.filter(code__in=codes)}
    rows = [_check_row(number, raw, branches_by_code) for number, raw in enumerate(raw_rows, start=1)]

    first_of_key: dict[tuple, int] = {}
    for row in rows:
        if row.key is None:
            continue
        if row.key in first_of_key:
            row.errors.append(
                _("Row %(first)s already sets a target for this branch, period and KPI.")
                % {"first": first_of_key[row.key]}
            )
        else:
            first_of_key[row.key] = row.number

    _check_weight_sums(rows)
    return rows


def _check_weight_sums(rows: list[TargetRow]) -> None:
    groups: dict[tuple, list[TargetRow]] = defaultdict(list)
    for row in rows:
        if row.branch is not None and row.period is not None:
            groups[(row.branch.pk, row.period)].append(row)
    if not groups:
        return
    existing: dict[tuple, dict[str, Decimal]] = defaultdict(dict)
    for target in BranchTarget.objects.filter(
        branch_id__in={branch_id for branch_id, _period in groups},
        period_start__in={period.start for _branch, period in groups},
    ):
        existing[(target.branch_id, target.period)][target.kpi] = target.weight

    for (branch_id, period), members in groups.items():
        # A group with a bad row already says why; its sum would only add noise.
        if any(row.errors for row in members):
            continue
        in_file = {row.kpi: row.weight for row in members}
        kept = {kpi: weight for kpi, weight in existing[(branch_id, period)].items() if kpi not in in_file}
        total = sum(in_file.values(), Decimal(0)) + sum(kept.values(), Decimal(0))
        if total == 1:
            continue
        branch = members[0].branch
        message = _("The weights of %(branch)s (%(code)s) for %(period)s sum to %(total)s, not 1 (rows %(rows)s") % {
            "branch": branch.name,
            "code": branch.code,
            "period": period,
            "total": total,
            "rows": ", ".join(str(row.number) for row in members),
        }
        if kept:
            message += _("; plus targets already set and not in this file: %(kept)s") % {
                "kept": ", ".join(f"{kpi} {weight}" for kpi, weight in sorted(kept.items()))
            }
        message += ")."
        for row in members:
            row.errors.append(message)


# ---------------------------------------------------------------------------
# The django-import-export resource


class BranchTargetResource(resources.ModelResource):
    branch_code = Field(attribute="branch__code", column_name="branch_code")
    branch_name = Field(attribute="branch__name", column_name="branch_name", readonly=True)
    period = Field(column_name="period")
    kpi = Field(attribute="kpi", column_name="kpi")
    kpi_name = Field(column_name="kpi_name", readonly=True)
    target_value = Field(attribute="target_value", column_name="target_value")
    weight = Field(attribute="weight", column_name="weight")

    # How the import and export pages name the columns that are not the model's own fields.
    column_labels = {
        "branch_code": gettext_lazy("branch code"),
        "branch_name": gettext_lazy("branch name"),
        "period": gettext_lazy("period"),
        "kpi_name": gettext_lazy("KPI name"),
    }

    class Meta:
        model = BranchTarget
        fields = ("branch_code", "branch_name", "period", "kpi", "kpi_name", "target_value", "weight")
        export_order = fields
        import_order = ("branch_code", "period", "kpi", "target_value", "weight")
        import_id_fields = ("branch_code", "period", "kpi")
        use_transactions = True
        clean_model_instances = True
        skip_html_diff = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._checked: dict[int, TargetRow] = {}
        self._current: TargetRow | None = None
        self._aborted = False

    # -- export ------------------------------------------------------------

    def get_queryset(self):
        return BranchTarget.objects.select_related("branch")

    def dehydrate_period(self, target: BranchTarget) -> str:
        if target.period_kind and target.period_start:
            return target.period_label
        return ""

    def dehydrate_kpi_name(self, target: BranchTarget) -> str:
        return str(KPI(target.kpi).label) if target.kpi in KPI.values else ""

    def export_field(self, field, instance, **kwargs):
        return formula_safe(super().export_field(field, instance, **kwargs))

    # -- import ------------------------------------------------------------

    def before_import(self, dataset, **kwargs):
        self._aborted = True  # until the checks below pass
        user = kwargs.get("user")
        if user is None or not user.has_perm(IMPORT_PERMISSION):
            raise NotPermitted(_("Only head office may import branch targets."))
        headers = [_text(h) for h in (dataset.headers or [])]
        missing = [column for column in IMPORT_COLUMNS if column not in headers]
        if missing:
            raise ValidationError(
                _("The file lacks the column(s) %(missing)s; the columns are: %(columns)s.")
                % {"missing": ", ".join(missing), "columns": ", ".join(IMPORT_COLUMNS)}
            )
        dataset.headers = headers
        raw_rows = [dict(zip(headers, values, strict=False)) for values in dataset]
        # Serialise imports and edits touching the same branches (rows locked in
        # primary-key order): the weight-sum check below reads the other targets
        # of each branch-period, and a concurrent change to them in between
        # could leave a sum other than 1.
        codes = sorted({_text(raw.get("branch_code")) for raw in raw_rows})
        list(Branch.objects.filter(code__in=codes).order_by("pk").select_for_update())
        self._checked = {row.number: row for row in check_target_rows(raw_rows)}
        self._aborted = False

    def import_row(self, row, instance_loader, **kwargs):
        if self._aborted:
            # The file as a whole was refused (see the base error); its rows are not looked at.
            result = self.get_row_result_class()()
            result.import_type = RowResult.IMPORT_TYPE_SKIP
            return result
        return super().import_row(row, instance_loader, **kwargs)

    def before_import_row(self, row, **kwargs):
        checked = self._checked[kwargs["row_number"]]
        if checked.errors:
            raise ValidationError(checked.errors)
        self._current = checked

    def get_instance(self, instance_loader, row):
        checked = self._current
        return BranchTarget.objects.filter(
            branch=checked.branch, period_kind=checked.period.kind, period_start=checked.period.start, kpi=checked.kpi
        ).first()

    def import_instance(self, instance, row, **kwargs):
        checked = self._current
        instance.branch = checked.branch
        instance.period_kind = checked.period.kind
        instance.period_start = checked.period.start
        instance.kpi = checked.kpi
        instance.target_value = checked.target_value
        instance.weight = checked.weight
