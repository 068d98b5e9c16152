"""Statement tasks on a real Celery worker (when a broker is configured; in-process otherwise)."""

from __future__ import annotations

import pytest

from revenue.statements.models import Statement
from revenue.statements.tasks import statements_issue_task, statements_sweep_task


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_issues_statements(celery_worker_process, settlement_x, settlement_y):
    # The worker finds the statement tasks (config/celery.py) and sees the committed settlements.
    assert statements_issue_task.delay([settlement_x.pk]).get(timeout=60) == 1
    assert Statement.objects.filter(settlement=settlement_x).exists()
    counts = statements_sweep_task.delay().get(timeout=60)
    assert counts["statements"] == 1  # Y's, queued by the sweep
    if celery_worker_process is not None:
        import time

        deadline = time.monotonic() + 60
        while not Statement.objects.filter(settlement=settlement_y).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    assert Statement.objects.filter(settlement=settlement_y).exists()
