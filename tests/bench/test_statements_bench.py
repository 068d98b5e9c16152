"""bench/statements/run.py runs to completion at a tiny size and prints its figures: no schema change breaks it."""

from __future__ import annotations

import json
import re

from tests.bench.scripts import bench_database, requires_postgres, run_script

pytestmark = requires_postgres

PARTNERS = 100


def test_statements_benchmark_runs_and_prints_its_figures(tmp_path):
    # given
    output = tmp_path / "statements.json"

    # when: rendering compared in this process, then every statement issued by two worker processes
    with bench_database("statements") as url:
        run = run_script(
            "statements/run.py",
            *("--partners", str(PARTNERS), "--sample", "10", "--repeat", "1", "--workers", "2", "--chunk", "25"),
            *("--output", str(output)),
            database_url=url,
        )

    # then
    assert run.returncode == 0, run.output
    assert re.search(r"product [\d.]+/s, bare \(same tables\) [\d.]+/s: ratio [\d.]+", run.output), run.output
    assert re.search(rf"{PARTNERS} statements in [\d.]+ s = [\d.]+/s", run.output), run.output
    result = json.loads(output.read_text())
    assert result["render"]["sample"] == 10 and result["render"]["ratio"] > 0
    assert result["issue"]["statements"] == PARTNERS
    assert result["issue"]["mean_pdf_bytes"] > 0
