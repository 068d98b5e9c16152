"""The product's clock: the one place business rules read the current time from.

Rules that depend on the date (a dispute deadline, a payment due date) call
:func:`now` or :func:`today` here rather than ``timezone.now()``, so a test
fixes the date by patching this module (``monkeypatch.setattr(clock, "now", ...)``)
or by passing ``now`` to the service, never by depending on the real date.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from core.periods import CHINA_TZ


def now() -> dt.datetime:
    """The current instant (aware, UTC)."""
    return timezone.now()


def today() -> dt.date:
    """Today's date in Beijing, where the bank's deadlines fall."""
    return now().astimezone(CHINA_TZ).date()


def beijing_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(CHINA_TZ).date()
