"""bench/scorecards/run.py runs to completion at a tiny size and prints its figures: no schema change breaks it."""

from __future__ import annotations

import re

from tests.bench.scripts import bench_database, requires_postgres, run_script

pytestmark = requires_postgres


def test_scorecards_benchmark_runs_and_prints_its_figures():
    # when: 400 partners and 20,000 transactions over the benchmark's 40 branches
    with bench_database("scorecards") as url:
        run = run_script(
            "scorecards/run.py",
            *("--partners", "400", "--transactions", "20000", "--repeat", "1"),
            database_url=url,
            env={"CELERY_BROKER_URL": None},
        )

    # then: the build and the bare query agree on the month's volume, and both are timed
    assert run.returncode == 0, run.output
    assert "20,000 transactions in 2026-10" in run.output, run.output
    assert re.search(r"month's volume: [\d,.]+ CNY in both", run.output), run.output
    assert re.search(r"scorecards_build \(40 branches, month 2026-10\): best [\d.]+ s", run.output), run.output
    assert re.search(r"ratio: best [\d.]+×, median [\d.]+×", run.output), run.output
