"""Reporting periods for targets and scorecards: a month, a quarter or a year.

Like settlement periods (``core.periods``) they are calendar periods in China
Standard Time: a period is named by its kind and its first day, and its
boundaries are aware datetimes at midnight Asia/Shanghai, start inclusive and
end exclusive. Written ``2026-10`` (month), ``2026-Q4`` (quarter), ``2026`` (year).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.periods import CHINA_TZ, Period


class PeriodKind(models.TextChoices):
    MONTH = "month", gettext_lazy("Month")
    QUARTER = "quarter", gettext_lazy("Quarter")
    YEAR = "year", gettext_lazy("Year")


MONTHS_IN = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}

_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER_RE = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_YEAR_RE = re.compile(r"^(\d{4})$")


def is_period_start(kind: str, day: dt.date) -> bool:
    """Whether ``day`` is the first day of a period of ``kind`` (e.g. 1 April for a quarter)."""
    months = MONTHS_IN[PeriodKind(kind)]
    return day.day == 1 and (day.month - 1) % months == 0


@dataclass(frozen=True, order=True)
class ReportingPeriod:
    """A month, quarter or year, e.g. ``ReportingPeriod(PeriodKind.QUARTER, date(2026, 10, 1))``."""

    kind: str
    start: dt.date

    def __post_init__(self) -> None:
        if self.kind not in PeriodKind.values:
            raise ValueError(_("Unknown period kind %(kind)r") % {"kind": self.kind})
        if not isinstance(self.start, dt.date) or isinstance(self.start, dt.datetime):
            raise ValueError(_("A period starts on a date"))
        if not 2000 <= self.start.year <= 2999:
            raise ValueError(_("Period year %(year)s is out of range") % {"year": self.start.year})
        if not is_period_start(self.kind, self.start):
            raise ValueError(
                _("%(day)s is not the first day of a %(kind)s")
                % {"day": self.start.isoformat(), "kind": PeriodKind(self.kind).label}
            )
        # Store the plain string so that equal periods compare and hash equal.
        object.__setattr__(self, "kind", str(PeriodKind(self.kind).value))

    @classmethod
    def parse(cls, text: str) -> ReportingPeriod:
        """``2026-10`` → month, ``2026-Q4`` (or ``2026Q4``) → quarter, ``2026`` → year."""
        value = str(text).strip()
        if match := _MONTH_RE.match(value):
            year, month = int(match.group(1)), int(match.group(2))
            if not 1 <= month <= 12:
                raise ValueError(_("Month %(month)s does not exist") % {"month": month})
            return cls(PeriodKind.MONTH, dt.date(year, month, 1))
        if match := _QUARTER_RE.match(value):
            year, quarter = int(match.group(1)), int(match.group(2))
            return cls(PeriodKind.QUARTER, dt.date(year, 3 * quarter - 2, 1))
        if match := _YEAR_RE.match(value):
            return cls(PeriodKind.YEAR, dt.date(int(match.group(1)), 1, 1))
        raise ValueError(
            _("A period is written 2026-10 (month), 2026-Q4 (quarter) or 2026 (year); got %(text)r") % {"text": value}
        )

    @classmethod
    def containing(cls, kind: str, day: dt.date) -> ReportingPeriod:
        months = MONTHS_IN[PeriodKind(kind)]
        return cls(kind, dt.date(day.year, day.month - (day.month - 1) % months, 1))

    @classmethod
    def of_month(cls, period: Period) -> ReportingPeriod:
        return cls(PeriodKind.MONTH, period.first_day)

    @property
    def months(self) -> tuple[Period, ...]:
        """The calendar months (settlement periods) the period consists of."""
        first = Period(self.start.year, self.start.month)
        result = [first]
        while len(result) < MONTHS_IN[PeriodKind(self.kind)]:
            result.append(result[-1].next())
        return tuple(result)

    @property
    def end(self) -> dt.date:
        """First day of the next period (exclusive)."""
        return self.months[-1].next().first_day

    @property
    def start_at(self) -> dt.datetime:
        """First instant, Beijing time (inclusive)."""
        return dt.datetime(self.start.year, self.start.month, self.start.day, tzinfo=CHINA_TZ)

    @property
    def end_at(self) -> dt.datetime:
        """First instant of the next period, Beijing time (exclusive)."""
        return dt.datetime(self.end.year, self.end.month, self.end.day, tzinfo=CHINA_TZ)

    def next(self) -> ReportingPeriod:
        return ReportingPeriod(self.kind, self.end)

    def previous(self) -> ReportingPeriod:
        day_before = self.start - dt.timedelta(days=1)
        return ReportingPeriod.containing(self.kind, day_before)

    def __str__(self) -> str:
        if self.kind == PeriodKind.MONTH:
            return f"{self.start.year:04d}-{self.start.month:02d}"
        if self.kind == PeriodKind.QUARTER:
            return f"{self.start.year:04d}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year:04d}"
