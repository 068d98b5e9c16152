"""Running a benchmark script as a developer does: in a child process, on a PostgreSQL database of its own.

The benchmarks are PostgreSQL's (set-based data generation, the PostgreSQL guards, parallel plans);
on SQLite their tests are skipped. Each run gets a database named after the benchmark and this
process (``bench_settle_12345``), so that parallel runs never share one; it is dropped afterwards.
``BENCH_DATABASE_SUFFIX`` replaces the process id where only given names may be used.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

requires_postgres = pytest.mark.skipif(
    not ON_POSTGRES, reason="the benchmarks run on PostgreSQL only: set DATABASE_URL=postgres://… to run them"
)


@dataclass
class ScriptRun:
    returncode: int
    output: str


def _server_url(name: str) -> str:
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    return f"postgres://{credentials}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(_server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def bench_database(benchmark: str) -> Iterator[str]:
    """The URL of a database for one run of ``benchmark`` (``bench_<benchmark>_<pid>``), dropped afterwards."""
    name = f"bench_{benchmark}_{os.environ.get('BENCH_DATABASE_SUFFIX') or os.getpid()}"
    try:
        yield _server_url(name)
    finally:
        _drop(name)


def run_script(
    script: str, *args: str, database_url: str, env: dict[str, str | None] | None = None, timeout: float = 600
) -> ScriptRun:
    """Run ``bench/<script>`` with ``args`` on ``database_url``; its exit code and everything it printed."""
    child_env = {**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1", **(env or {})}
    child_env = {key: value for key, value in child_env.items() if value is not None}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return ScriptRun(done.returncode, done.stdout)
