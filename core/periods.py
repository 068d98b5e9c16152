"""Settlement periods: calendar months in China Standard Time.

An event at 2026-10-31 23:30 Beijing time belongs to October whatever the
server's clock zone, so every period boundary is an aware datetime in
Asia/Shanghai and every event is placed by converting to that zone first.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

CHINA_TZ = ZoneInfo("Asia/Shanghai")
_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month, e.g. ``Period(2026, 10)`` written ``2026-10``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 2000 <= self.year <= 2999:
            raise ValueError(_("Invalid period %(y)s-%(m)s") % {"y": self.year, "m": self.month})

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD_RE.match(text.strip())
        if not match:
            raise ValueError(_("A period is written YYYY-MM, e.g. 2026-10; got %(text)r") % {"text": text})
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, moment: dt.datetime) -> Period:
        local = moment.astimezone(CHINA_TZ)
        return cls(local.year, local.month)

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def start(self) -> dt.datetime:
        """First instant of the month, Beijing time (inclusive)."""
        return dt.datetime(self.year, self.month, 1, tzinfo=CHINA_TZ)

    @property
    def end(self) -> dt.datetime:
        """First instant of the next month, Beijing time (exclusive)."""
        return self.next().start

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
