"""Fixtures of the staff-workspace tests."""

from __future__ import annotations

import pytest

from tests.workspace.demo_data import demo_workspace_load


@pytest.fixture
def demo_workspace(transactional_db, settings, tmp_path):
    # Committed data: a run's tasks are queued on commit (and run in-process without a broker).
    settings.MEDIA_ROOT = tmp_path / "media"
    demo_workspace_load()


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """The demo's runs execute in-process whatever broker is configured (no worker serves these tests)."""
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved
