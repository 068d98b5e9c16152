"""A run the task queue cannot take is refused and blocks nothing; a run whose worker died is resumed.

* The broker unreachable when a close starts: refused at once with a clear message, nothing written,
  the period still open (it used to wait twenty seconds, answer 500 and leave the period "closing").
* The broker lost between the check and the commit: the run stays pending and unqueued, and the run
  sweep queues it again once the broker is back.
* A close left "running" by a killed worker or command: once its heartbeat is older than the longest
  task, starting the close again resumes it (and so does the sweep).
"""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from core.periods import Period
from revenue.settlement import tasks as tasks_module
from revenue.settlement.choices import PeriodState, RunKind, RunState, RunTrigger
from revenue.settlement.errors import RunInProgress, TaskQueueUnavailable
from revenue.settlement.models import SettlementPeriod, SettlementRun
from revenue.settlement.services import settlement_run_start, settlement_runs_sweep
from tests.revenue.settlement.conftest import book, pct, row


@pytest.fixture
def october(pay, active_x):
    pct(pay, "0.300000")
    book(row(active_x, "Q1", revenue="1000.00"))


@pytest.fixture
def unreachable_broker(monkeypatch):
    """Tasks go to a broker on a port where nothing listens."""
    from config.celery import app

    # Celery reads CELERY_BROKER_URL from the environment before its own settings.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:9/0")
    monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)
    saved = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    yield
    app.conf.task_always_eager, app.conf.broker_url = saved


def test_a_close_the_queue_cannot_take_is_refused_and_changes_nothing(october, unreachable_broker, finance):
    started = timezone.now()
    with pytest.raises(TaskQueueUnavailable, match="task queue cannot be reached"):
        settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=finance)
    assert (timezone.now() - started).total_seconds() < 10
    assert not SettlementRun.objects.exists()
    assert not SettlementPeriod.objects.filter(state=PeriodState.CLOSING).exists()


def test_the_admin_says_so_instead_of_a_500(october, unreachable_broker, finance, client):
    from django.urls import reverse

    client.force_login(finance)
    response = client.post(
        reverse("admin:settlement_settlementrun_start"), {"period": "2026-10", "kind": "close"}, follow=True
    )
    assert response.status_code == 200
    assert "task queue cannot be reached" in response.content.decode()
    assert not SettlementRun.objects.exists()


def test_a_run_lost_at_commit_stays_pending_and_the_sweep_queues_it_again(
    october, finance, django_capture_on_commit_callbacks
):
    lost = OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with (
        mock.patch.object(tasks_module.settlement_run_prepare_task, "apply_async", side_effect=lost),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run = settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=finance)
    run.refresh_from_db()
    assert (run.state, run.celery_task_id) == (RunState.PENDING, "")

    # Not yet: a run that has just been created may still be on its way.
    with django_capture_on_commit_callbacks(execute=True):
        assert settlement_runs_sweep() == {"queued": 0, "resumed": 0}
    SettlementRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert settlement_runs_sweep()["queued"] == 1
    run.refresh_from_db()
    assert run.state == RunState.COMPLETED, run.error
    assert SettlementPeriod.objects.get(start=dt.date(2026, 10, 1)).state == PeriodState.CLOSED


@pytest.fixture
def stalled_close(october, settings):
    """A close left running by a process that died: the period is closing, the run shows no progress."""
    settings.CELERY_LONGEST_TASK_SECONDS = 600
    period = SettlementPeriod.objects.create(start=dt.date(2026, 10, 1), state=PeriodState.CLOSING, lower_watermark=0)
    run = SettlementRun.objects.create(
        period=period, kind=RunKind.CLOSE, state=RunState.RUNNING, trigger=RunTrigger.COMMAND, attempt=1
    )
    return run


def test_a_running_close_with_a_recent_heartbeat_is_left_alone(stalled_close, finance):
    SettlementRun.objects.filter(pk=stalled_close.pk).update(heartbeat_at=timezone.now())
    with pytest.raises(RunInProgress):
        settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=finance)


def test_starting_the_close_again_resumes_a_stalled_one(stalled_close, finance, django_capture_on_commit_callbacks):
    SettlementRun.objects.filter(pk=stalled_close.pk).update(heartbeat_at=timezone.now() - dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        resumed = settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=finance)
    assert resumed.pk == stalled_close.pk
    resumed.refresh_from_db()
    assert (resumed.state, resumed.attempt) == (RunState.COMPLETED, 2), resumed.error


def test_the_sweep_resumes_a_stalled_close(stalled_close, django_capture_on_commit_callbacks):
    SettlementRun.objects.filter(pk=stalled_close.pk).update(heartbeat_at=timezone.now() - dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert settlement_runs_sweep()["resumed"] == 1
    stalled_close.refresh_from_db()
    assert stalled_close.state == RunState.COMPLETED, stalled_close.error
