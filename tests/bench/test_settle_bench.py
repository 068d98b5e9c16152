"""bench/settle/run.py runs to completion at a tiny size and prints its figures: no schema change breaks it.

With a broker configured the close is timed on two real ``celery worker`` processes as well, on a
queue of the benchmark's own (bench/settle/worker.py), so the suite's worker never takes its tasks.
"""

from __future__ import annotations

import json
import re

from django.conf import settings

from tests.bench.scripts import bench_database, requires_postgres, run_script

pytestmark = requires_postgres

PARTNERS = 2_000  # two chunks of a thousand partners: one for each worker process


def test_settle_benchmark_runs_and_prints_its_figures(tmp_path):
    # given a tiny month, and real workers when the suite has a broker (else an in-memory one, never used:
    # the close in the benchmark's process runs its tasks eagerly)
    with_workers = not settings.CELERY_TASK_ALWAYS_EAGER
    broker = settings.CELERY_BROKER_URL if with_workers else "memory://localhost/"
    env = {} if with_workers else {"CELERY_RESULT_BACKEND": "cache+memory://"}
    output = tmp_path / "settle.json"

    # when
    with bench_database("settle") as url:
        run = run_script(
            "settle/run.py",
            *("--sizes", "20000", "--partners", str(PARTNERS), "--repeat", "1"),
            *("--workers", "2" if with_workers else "", "--broker", broker, "--output", str(output)),
            database_url=url,
            env=env,
        )

    # then
    assert run.returncode == 0, run.output
    assert re.search(r"bare GROUP BY [\d.]+ s, then the close in this process: [\d.]+ s = [\d.]+×", run.output)
    assert re.search(r"floor \(same rows, no computation\): [\d.]+ s = [\d.]+× bare", run.output)
    assert re.search(r"^\s+20,000\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+", run.output, re.MULTILINE), run.output
    (result,) = json.loads(output.read_text())
    assert result["attributions_october"] > 19_000
    assert result["ratio_median"] > 0
    assert result["run"]["settlements"] > 0 and result["run"]["lines"] > result["run"]["settlements"]
    if with_workers:
        assert re.search(r"then the close on 2 worker process\(es\): [\d.]+ s = [\d.]+×", run.output)
        assert result["workers"]["2"]["ratio_median"] > 0
