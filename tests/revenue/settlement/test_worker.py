"""The close on a real Celery worker (PostgreSQL and a broker), including a worker process killed mid-chunk.

Without a broker (the embedded default) the first test runs the same close in-process and the kill test is
skipped: the in-process crash and resume are covered by ``test_runs``.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from core.periods import Period
from revenue.settlement.choices import RunKind, RunState, SettlementState
from revenue.settlement.models import Settlement, SettlementRun
from revenue.settlement.services import settlement_dry_run, settlement_run_start
from revenue.settlement.tasks import settlement_run_chunk_task
from tests.revenue.factories import active_partner
from tests.revenue.settlement.conftest import agreement, book, pct, row

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def month(pay, loan):
    pct(pay, "0.300000")
    agreement(
        loan,
        rule_kind="tiered_retroactive",
        tier_basis="total_revenue",
        tiers=[("0", "100", "0.1"), ("100", None, "0.2")],
    )
    partners = [active_partner() for _ in range(6)]
    rows = []
    for i, partner in enumerate(partners):
        rows.append(row(partner, f"A{i}", revenue=f"{140 + 7 * i}.13"))
        rows.append(row(partner, f"B{i}", product="SCF_LOAN", revenue=f"{30 + 11 * i}.07"))
    book(*rows)
    return partners


def wait_for(run: SettlementRun, timeout: float = 90) -> SettlementRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = SettlementRun.objects.get(pk=run.pk)
        if current.state in (RunState.COMPLETED, RunState.FAILED):
            return current
        time.sleep(0.2)
    raise AssertionError(f"run {run.pk} did not finish within {timeout} s")


def expected_totals():
    result = settlement_dry_run(period=Period(2026, 10), by=None)
    return sorted((s.partner_id, s.net, s.vat, s.payable) for s in result.settlements)


def actual_totals():
    return sorted(Settlement.objects.values_list("partner_id", "net", "vat", "payable"))


def test_a_worker_runs_the_close(celery_worker_process, month):
    expected = expected_totals()
    run = wait_for(settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=None))
    assert run.state == RunState.COMPLETED, run.error
    assert actual_totals() == expected
    assert set(Settlement.objects.values_list("state", flat=True)) == {SettlementState.CLOSED}
    if celery_worker_process is not None:
        # A chunk delivered again after the end changes nothing.
        assert settlement_run_chunk_task.delay(run.pk, 1).get(timeout=30) is False
        assert actual_totals() == expected


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return children


def _blocked_on(table: str) -> bool:
    """A session waits for a lock on the table (read from this autocommit connection: fresh statistics)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE NOT l.granted AND c.relname = %s",
            [table],
        )
        return cursor.fetchone()[0] > 0


@pytest.fixture(autouse=True)
def _worker_idle_after(celery_worker_process):
    """Let the worker finish what the close queued (statements, scorecards) before the tables are emptied."""
    yield
    if celery_worker_process is None:
        return
    from config.celery import app

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        active = app.control.inspect(timeout=1).active() or {}
        if not any(active.values()):
            return
        time.sleep(0.2)


def test_a_worker_killed_mid_chunk_and_the_run_completes_with_the_clean_totals(celery_worker_process, month):
    if celery_worker_process is None or connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL and a real worker (CELERY_BROKER_URL); the in-process crash is in test_runs")
    expected = expected_totals()
    db = connection.settings_dict
    blocker = psycopg.connect(
        host=db.get("HOST") or "127.0.0.1", port=db.get("PORT") or 5432, user=db.get("USER"), dbname=db["NAME"]
    )
    try:
        # Hold the lines table: the chunk computes its settlements and then waits, mid-transaction, to write them.
        blocker.execute("LOCK TABLE settlement_settlementline IN SHARE MODE")
        run = settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=None)
        deadline = time.monotonic() + 60
        while not _blocked_on("settlement_settlementline"):
            assert time.monotonic() < deadline, "the chunk never reached the lines table"
            time.sleep(0.1)
        # Kill every pool process of the worker: the one in the chunk dies mid-transaction.
        children = _children(celery_worker_process.pid)
        assert children
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        time.sleep(1)
        assert SettlementRun.objects.get(pk=run.pk).state == RunState.RUNNING
        assert not Settlement.objects.exists()  # nothing of the killed chunk was committed
    finally:
        blocker.rollback()
        blocker.close()

    # The message was not acknowledged: a new pool process runs the chunk again, and the chord ends.
    finished = wait_for(run)
    assert finished.state == RunState.COMPLETED, finished.error
    assert actual_totals() == expected
    assert finished.chunks.get().done
    assert celery_worker_process.poll() is None  # the worker itself lives on
