"""``manage.py run_settlement``: accrual, close, resume and dry run through the same services."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from revenue.ledger.models import Agreement
from revenue.ledger.services import agreement_version_supersede
from revenue.settlement.choices import RunState, SettlementState
from revenue.settlement.models import Settlement, SettlementRun
from tests.revenue.settlement.conftest import D, book, pct, row, table_counts

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args) -> str:
    out = io.StringIO()
    call_command("run_settlement", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def october(pay, active_x, active_y):
    pct(pay, "0.300000")
    book(row(active_x, "C1", revenue="1000.00"), row(active_y, "C2", revenue="500.00"))


def test_accrual_then_close(october, active_x):
    out = run("--period", "2026-10")
    assert "Nightly accrual" in out and "Completed" in out
    assert set(Settlement.objects.values_list("state", flat=True)) == {SettlementState.DRAFT}
    out = run("--period", "2026-10", "--close")
    assert "Completed" in out and "shares 450.00" in out and "retained 1050.00" in out
    assert Settlement.objects.get(partner=active_x).state == SettlementState.CLOSED
    with pytest.raises(CommandError, match="cannot be closed again"):
        run("--period", "2026-10", "--close")


def test_dry_run_writes_nothing_and_shows_a_proposed_version(october, pay, active_y):
    run("--period", "2026-10", "--close")
    default = Agreement.objects.get(product=pay, partner__isnull=True)
    proposed = agreement_version_supersede(
        agreement=default, valid_from=dt.date(2027, 6, 1), rule_kind="percentage", rate=D("0.500000"), by=None
    )
    before = table_counts()
    out = run(
        "--period", "2026-10", "--dry-run", "--agreement-version", str(proposed.pk), "--partner", active_y.credit_code
    )
    assert table_counts() == before
    assert "nothing was written" in out
    assert "net 250.00" in out  # 50% of 500.00, where the close paid 30%
    assert "actual settlement (Closed): net 150.00" in out
    assert "conserved" in out


def test_bad_input_is_refused(october):
    with pytest.raises(CommandError, match="YYYY-MM"):
        run("--period", "October")
    with pytest.raises(CommandError, match="only goes with --dry-run"):
        run("--period", "2026-10", "--agreement-version", "1")
    with pytest.raises(CommandError, match="No settlement run"):
        run("--resume", "999")
    with pytest.raises(CommandError, match="No user"):
        run("--period", "2026-10", "--user", "nobody")
    assert not SettlementRun.objects.exists()


def test_resume_a_failed_run(october):
    from unittest import mock

    from revenue.settlement.services import runs as runs_module

    with mock.patch.object(runs_module, "_chunk_settle", side_effect=RuntimeError("disk full")):
        with pytest.raises(CommandError, match="disk full"):
            run("--period", "2026-10", "--close")
    failed = SettlementRun.objects.get()
    assert failed.state == RunState.FAILED
    out = run("--resume", str(failed.pk))
    assert f"Run #{failed.pk} Completed" in out
    assert SettlementRun.objects.get().state == RunState.COMPLETED
