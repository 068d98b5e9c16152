"""bench/ingest/run.py runs to completion at a tiny size and prints its figures: no schema change breaks it."""

from __future__ import annotations

import json
import re

from tests.bench.scripts import bench_database, requires_postgres, run_script

pytestmark = requires_postgres

ROWS = 3_000


def test_ingest_benchmark_runs_and_prints_its_figures(tmp_path):
    # given a tiny month over a few partners, and two small REST requests
    output = tmp_path / "ingest.json"

    # when
    with bench_database("ingest") as url:
        run = run_script(
            "ingest/run.py",
            *("--rows", str(ROWS), "--partners", "100", "--branches", "4"),
            *("--api-requests", "2", "--api-rows", "200", "--repeat", "2"),
            *("--workdir", str(tmp_path), "--output", str(output)),
            database_url=url,
        )

    # then every generated row was read, booked once or recognised as a resent duplicate, and the ledger holds them
    assert run.returncode == 0, run.output
    assert re.search(r"raw COPY into a bare table :\s+[\d.]+ s\s+[\d,]+ rows/s", run.output), run.output
    assert re.search(r"ratio product / raw COPY   : [\d.]+", run.output), run.output
    assert re.search(r"phases: read [\d.]+ s, validate [\d.]+ s, .*write [\d.]+ s, commit [\d.]+ s", run.output)
    figures = json.loads(output.read_text())
    assert figures["rows"] == ROWS
    assert figures["product_booked"] > 0
    assert figures["product_booked"] + figures["product_duplicates"] == ROWS
    assert figures["ratio"] > 0
    assert figures["raw_copy_rows_per_second"] > 0 and figures["product_rows_per_second"] > 0
    assert figures["best_ratio_reachable"] > 0
    assert figures["peak_rss_mb"] > 0
    assert len(figures["product_seconds_all"]) == 2
    assert len(figures["rest_request_seconds"]) == 2
