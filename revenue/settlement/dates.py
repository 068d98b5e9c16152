"""The dates a closed settlement sets running: issued on the close, payment due and dispute deadline after it.

Counted in Beijing days from the close (``STATEMENT_PAYMENT_TERMS_DAYS``,
``STATEMENT_DISPUTE_WINDOW_DAYS``): the statement prints them, the portal
shows them and the dispute service enforces the deadline, all from here.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from core.clock import beijing_date


def settlement_issue_date(settlement) -> dt.date:
    """The day the settlement's statement is dated: the close (Beijing time), whenever it is rendered.

    A settlement read without a close instant is dated the first day after its period.
    """
    if settlement.closed_at is not None:
        return beijing_date(settlement.closed_at)
    return settlement.period.period.next().first_day


def payment_due_date(issued_on: dt.date) -> dt.date:
    return issued_on + dt.timedelta(days=settings.STATEMENT_PAYMENT_TERMS_DAYS)


def dispute_deadline(issued_on: dt.date) -> dt.date:
    """The last day (inclusive, Beijing) a line of the statement issued on ``issued_on`` may be disputed."""
    return issued_on + dt.timedelta(days=settings.STATEMENT_DISPUTE_WINDOW_DAYS)


def settlement_dispute_deadline(settlement) -> dt.date:
    return dispute_deadline(settlement_issue_date(settlement))
