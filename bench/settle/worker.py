"""The Celery app of the settlement benchmark's workers: the product's app, on a queue of the benchmark's own.

    celery -A bench.settle.worker worker …   (started by bench/settle/run.py, with DATABASE_URL set)

A task names a run and a chunk by id, which means something only in the database it was queued
from. The benchmark and its workers therefore send to and read from a queue named after that
database (``bench_settle`` for ``…/bench_settle``): a worker of another run or of the test suite on
the same broker never takes the benchmark's tasks, and the benchmark's workers never take theirs.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from config.celery import app


def queue_name(url: str) -> str:
    """The queue of the benchmark whose database is at ``url``: the database's name."""
    return urlparse(url).path.lstrip("/")


app.conf.task_default_queue = queue_name(os.environ["DATABASE_URL"])
