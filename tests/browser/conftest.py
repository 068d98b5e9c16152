"""Browser tests run the product's tasks in-process, whatever broker is configured (no worker serves them)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _tasks_in_process():
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved
