import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core.periods import Period


def test_event_late_on_the_last_evening_belongs_to_that_month_in_china_time():
    # 2026-10-31 23:30 Beijing is 15:30 UTC: still October.
    moment = dt.datetime(2026, 10, 31, 15, 30, tzinfo=dt.UTC)
    assert Period.containing(moment) == Period(2026, 10)
    # 2026-10-31 16:30 UTC is 00:30 on 1 November in Beijing.
    assert Period.containing(moment + dt.timedelta(hours=1)) == Period(2026, 11)


def test_bounds_are_beijing_midnights():
    p = Period.parse("2026-12")
    assert p.start == dt.datetime(2026, 12, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert p.end == dt.datetime(2027, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert p.previous() == Period(2026, 11) and Period(2026, 1).previous() == Period(2025, 12)


@pytest.mark.parametrize("text", ["2026-13", "2026/10", "26-10", ""])
def test_bad_period_text_is_refused(text):
    with pytest.raises(ValueError):
        Period.parse(text)
