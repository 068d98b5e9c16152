"""Booking ledger rows for the performance tests, through the ingestion service, at a chosen booking time."""

from __future__ import annotations

import datetime as dt
from unittest import mock

from core.periods import CHINA_TZ
from revenue.ledger.services import transactions_ingest
from tests.revenue.factories import registered, reversal_row, txn_row

__all__ = ["at", "book", "reversal_row", "txn_row"]


def at(*args) -> dt.datetime:
    """A Beijing-time moment."""
    return dt.datetime(*args, tzinfo=CHINA_TZ)


def book(rows: list[dict], *, booked_at: dt.datetime, source: str = "payments"):
    """Book ``rows`` as if the source system had sent them at ``booked_at`` (the ledger's booking time)."""
    # Ingestion stamps a batch (and its transactions) with the time it is received.
    with mock.patch("django.utils.timezone.now", return_value=booked_at):
        return transactions_ingest(rows=rows, source=registered(source), by=None)
