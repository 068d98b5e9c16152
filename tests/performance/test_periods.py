import datetime as dt

import pytest

from core.periods import CHINA_TZ, Period
from performance.periods import PeriodKind, ReportingPeriod, is_period_start


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2026-10", PeriodKind.MONTH, dt.date(2026, 10, 1), dt.date(2026, 11, 1)),
        ("2026-12", PeriodKind.MONTH, dt.date(2026, 12, 1), dt.date(2027, 1, 1)),
        ("2026-Q4", PeriodKind.QUARTER, dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
        ("2026q2", PeriodKind.QUARTER, dt.date(2026, 4, 1), dt.date(2026, 7, 1)),
        ("2026", PeriodKind.YEAR, dt.date(2026, 1, 1), dt.date(2027, 1, 1)),
    ],
)
def test_parse_and_bounds(text, kind, start, end):
    period = ReportingPeriod.parse(text)
    assert (period.kind, period.start, period.end) == (kind, start, end)
    assert period.start_at == dt.datetime(start.year, start.month, 1, tzinfo=CHINA_TZ)
    assert period.end_at == dt.datetime(end.year, end.month, 1, tzinfo=CHINA_TZ)
    assert ReportingPeriod.parse(str(period)) == period


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-Q5", "26-10", "Oct 2026", "", "1999"])
def test_parse_refuses_bad_text(text):
    with pytest.raises(ValueError):
        ReportingPeriod.parse(text)


def test_period_start_must_be_first_day_of_its_kind():
    assert is_period_start(PeriodKind.QUARTER, dt.date(2026, 7, 1))
    assert not is_period_start(PeriodKind.QUARTER, dt.date(2026, 8, 1))
    assert not is_period_start(PeriodKind.MONTH, dt.date(2026, 8, 2))
    assert not is_period_start(PeriodKind.YEAR, dt.date(2026, 4, 1))
    with pytest.raises(ValueError):
        ReportingPeriod(PeriodKind.QUARTER, dt.date(2026, 2, 1))


def test_previous_next_containing_and_months():
    q4 = ReportingPeriod.parse("2026-Q4")
    assert str(q4.previous()) == "2026-Q3"
    assert str(q4.next()) == "2027-Q1"
    assert str(ReportingPeriod.parse("2026-01").previous()) == "2025-12"
    assert ReportingPeriod.containing(PeriodKind.QUARTER, dt.date(2026, 11, 30)) == q4
    assert q4.months == (Period(2026, 10), Period(2026, 11), Period(2026, 12))
    assert len(ReportingPeriod.parse("2026").months) == 12
    assert ReportingPeriod.of_month(Period(2026, 10)) == ReportingPeriod.parse("2026-10")
