"""Scorecards as CSV or XLSX: one row per KPI line, scoped to what the user may see, formula-safe.

Headers and KPI names come from ``performance.vocabulary`` (the dashboard's
words), in Chinese unless English is asked for; rates are percentages, KPI
figures yuan or whole counts, times Beijing time with their offset. No totals
row: the lines of different branches and KPIs do not add up.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import NotPermitted
from core.spreadsheets import Column, ColumnKind, csv_export, export_format, xlsx_export
from organisation.models import User
from performance import vocabulary as words
from performance.periods import ReportingPeriod
from performance.selectors import scorecard_lines_for_export
from performance.services.targets import FileFormat
from performance.vocabulary import KPI, MONEY_KPIS

SCORECARD_EXPORT_PERMISSION = "performance.export_branchscorecard"
SCORECARD_EXPORT_COLUMNS: tuple[Column, ...] = (
    Column(words.PERIOD, meaning=gettext_lazy("The scored period: a month, quarter or year.")),
    Column(words.BRANCH_CODE, meaning=gettext_lazy("The branch's code.")),
    Column(words.BRANCH, meaning=gettext_lazy("The branch's name."), width=20),
    Column(words.RANK, ColumnKind.COUNT, meaning=gettext_lazy("The branch's rank by total score (1 = best).")),
    Column(words.RANKED_BRANCHES, ColumnKind.COUNT, meaning=gettext_lazy("How many branches were ranked.")),
    Column(
        words.TOTAL_SCORE,
        ColumnKind.DECIMAL,
        meaning=gettext_lazy("The sum of the branch's weighted scores (100 = every target met)."),
    ),
    Column(words.KPI_TERM, meaning=gettext_lazy("The key performance indicator."), width=30),
    Column(words.TARGET, ColumnKind.FIGURE, meaning=gettext_lazy("Head office's target for the period.")),
    Column(words.ACTUAL, ColumnKind.FIGURE, meaning=gettext_lazy("The branch's figure as of the cut-off.")),
    Column(
        words.ACHIEVEMENT,
        ColumnKind.PERCENT,
        meaning=gettext_lazy("Actual ÷ target (empty when the target is 0); capped for the score."),
    ),
    Column(words.WEIGHT, ColumnKind.PERCENT, meaning=gettext_lazy("The KPI's weight in the total score.")),
    Column(
        words.WEIGHTED_SCORE,
        ColumnKind.DECIMAL,
        meaning=gettext_lazy("Capped achievement × weight × 100."),
    ),
    Column(words.FIGURES_AS_OF, ColumnKind.DATETIME, meaning=gettext_lazy("The cut-off of the figures.")),
    Column(words.COMPUTED_AT, ColumnKind.DATETIME, meaning=gettext_lazy("When the scorecard was computed.")),
)


def _figure(kpi: str, value):
    # Yuan keep their fen; counts are whole numbers.
    return value if kpi in MONEY_KPIS else int(value)


def scorecard_export_rows(*, by: User, period: ReportingPeriod) -> Iterator[tuple]:
    for line in scorecard_lines_for_export(user=by, period=period):
        card = line.scorecard
        yield (
            str(period),
            card.branch.code,
            card.branch.name,
            card.rank,
            card.ranked_branches,
            card.total_score,
            KPI(line.kpi).label,
            _figure(line.kpi, line.target_value),
            _figure(line.kpi, line.actual_value),
            line.achievement_rate,
            line.weight,
            line.weighted_score,
            card.as_of,
            card.computed_at,
        )


def scorecards_export(*, by: User, period: ReportingPeriod, file_format: FileFormat, language: str = "zh-hans"):
    """The period's scorecard lines ``by`` may see (head office: all; branch staff: their own) as CSV or XLSX
    bytes, headed in ``language``.

    Text cells a spreadsheet would run as a formula are prefixed with an
    apostrophe, as in every export.
    """
    if not by.has_perm(SCORECARD_EXPORT_PERMISSION):
        raise NotPermitted(_("You may not export scorecards."))
    file_format = export_format(file_format)
    rows = scorecard_export_rows(by=by, period=period)
    if file_format == "csv":
        return b"".join(csv_export(SCORECARD_EXPORT_COLUMNS, rows, language=language))
    with xlsx_export(SCORECARD_EXPORT_COLUMNS, rows, language=language, title=str(period)) as handle:
        return handle.read()
