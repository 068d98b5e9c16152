"""Scorecards as CSV or XLSX: one row per KPI line, scoped to what the user may see, formula-safe."""

from __future__ import annotations

import tablib
from django.utils.translation import gettext as _
from import_export.formats.base_formats import CSV, XLSX

from core.errors import NotPermitted
from core.spreadsheets import formula_safe
from organisation.models import User
from performance.models import KPI
from performance.periods import ReportingPeriod
from performance.selectors import scorecard_lines_for_export
from performance.services.targets import CSV_EXPORT_ENCODING, FileFormat

SCORECARD_EXPORT_PERMISSION = "performance.export_branchscorecard"
SCORECARD_EXPORT_COLUMNS = (
    "period",
    "branch_code",
    "branch_name",
    "rank",
    "ranked_branches",
    "total_score",
    "kpi",
    "kpi_name",
    "target_value",
    "actual_value",
    "achievement_rate",
    "weight",
    "weighted_score",
    "as_of",
)


def scorecards_export(*, by: User, period: ReportingPeriod, file_format: FileFormat) -> bytes:
    """The period's scorecard lines ``by`` may see (head office: all; branch staff: their own) as CSV or XLSX.

    Numbers are written as plain decimal text (no float rounding); text cells a
    spreadsheet would run as a formula are prefixed with an apostrophe, as in
    the targets export.
    """
    if not by.has_perm(SCORECARD_EXPORT_PERMISSION):
        raise NotPermitted(_("You may not export scorecards."))
    dataset = tablib.Dataset(headers=list(SCORECARD_EXPORT_COLUMNS))
    for line in scorecard_lines_for_export(user=by, period=period):
        card = line.scorecard
        values = [
            str(period),
            card.branch.code,
            card.branch.name,
            card.rank,
            card.ranked_branches,
            str(card.total_score),
            line.kpi,
            str(KPI(line.kpi).label),
            str(line.target_value),
            str(line.actual_value),
            "" if line.achievement_rate is None else str(line.achievement_rate),
            str(line.weight),
            str(line.weighted_score),
            card.as_of.isoformat(),
        ]
        dataset.append([formula_safe(value) for value in values])
    if file_format == "csv":
        return CSV().export_data(dataset).encode(CSV_EXPORT_ENCODING)
    if file_format == "xlsx":
        return XLSX().export_data(dataset)
    raise ValueError(f"unknown export format {file_format!r}")
