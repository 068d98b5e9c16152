"""Around each task a worker runs, its database connection is kept unless unusable or older than CONN_MAX_AGE."""

import time
from types import SimpleNamespace

import pytest
from django.db import connection

from config.celery import app, close_old_database_connections


def task(*, eager: bool) -> SimpleNamespace:
    return SimpleNamespace(request=SimpleNamespace(is_eager=eager))


def test_celerys_django_fixup_is_told_to_reuse_connections():
    # Without it, Celery closes every connection before and after each task, whatever CONN_MAX_AGE says.
    assert app.conf.get("CELERY_DB_REUSE_MAX")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite's in-memory test database is never closed")
@pytest.mark.django_db(transaction=True)
def test_a_workers_task_keeps_a_fresh_connection_and_drops_an_old_one():
    # A new connection: the suite's own may be older than CONN_MAX_AGE by now.
    connection.close()
    connection.ensure_connection()
    kept = connection.connection
    close_old_database_connections(sender=task(eager=False))
    assert connection.connection is kept

    connection.close_at = time.monotonic() - 1  # older than CONN_MAX_AGE
    close_old_database_connections(sender=task(eager=False))
    assert connection.connection is None


@pytest.mark.django_db(transaction=True)
def test_a_task_run_in_process_leaves_its_callers_connection_alone():
    connection.ensure_connection()
    kept = connection.connection
    connection.close_at = time.monotonic() - 1
    close_old_database_connections(sender=task(eager=True))
    assert connection.connection is kept
