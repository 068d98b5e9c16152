"""Printing a period's scorecards while a build replaces them waits for the build, then prints the new ones.

The month-end task builds the scorecards on a worker while head office may print
them; a printer that read the scorecards before the build committed and their
lines after used to find no lines and fail in the chart.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal as D

import pytest
from django.db import connection, transaction
from pypdf import PdfReader

from performance.models import BranchTarget
from performance.periods import ReportingPeriod
from performance.services import scorecard_pdfs_write, scorecards_build
from tests.performance.ledger import at

ON_POSTGRES = connection.vendor == "postgresql"
OCTOBER = dt.date(2026, 10, 1)


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="a reader waiting for a writer needs a server database")
@pytest.mark.django_db(transaction=True)
def test_printing_during_a_build_waits_for_it_and_prints_the_rebuilt_scorecards(alliance, make_target, tmp_path):
    make_target(alliance.branch_b, "bank_revenue", target="20.00", weight="1")
    scorecards_build(period_kind="month", period_start=OCTOBER, as_of=at(2026, 11, 5))  # 34 / 20, capped → 150.00
    BranchTarget.objects.filter(branch=alliance.branch_b).update(target_value=D("68.00"))  # rebuilt → 50.00

    built, release = threading.Event(), threading.Event()
    printed: dict = {}

    def build_and_hold():
        try:
            with transaction.atomic():
                scorecards_build(period_kind="month", period_start=OCTOBER, as_of=at(2026, 11, 5))
                built.set()
                release.wait(timeout=20)
        finally:
            connection.close()

    def print_period():
        try:
            printed["files"] = scorecard_pdfs_write(period=ReportingPeriod("month", OCTOBER), root=tmp_path)
        except Exception as exc:  # the test reports what the printer met
            printed["error"] = exc
        finally:
            connection.close()

    builder = threading.Thread(target=build_and_hold)
    builder.start()
    assert built.wait(timeout=20)
    printer = threading.Thread(target=print_period)
    printer.start()
    printer.join(timeout=2)
    assert printer.is_alive(), "the printer must wait for the build holding the period"
    release.set()
    builder.join(timeout=20)
    printer.join(timeout=60)

    assert "error" not in printed, printed
    (path,) = printed["files"]
    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    assert "50.00" in text and "150.00" not in text
