"""Every log line of a settlement run carries the run's id and its task's id (JSON lines in production).

An operator follows one close through the workers' logs by one value: the preparation, every chunk and
the final step log with ``run_id``; lines written outside any run say ``-``.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import logging.config

from django.conf import settings

from tests.revenue.settlement.conftest import book, pct, row


def _json_logging(stream: io.StringIO) -> dict:
    config = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"]["formatter"] = "json"  # as config.settings.production sets it
    config["handlers"]["console"]["stream"] = stream
    config["loggers"]["revenue"] = {"level": "DEBUG"}
    return config


def test_a_runs_log_lines_all_carry_its_id_and_their_tasks(pay, active_x, run_settlement, closer):
    pct(pay, "0.300000")
    book(row(active_x, "L-1", revenue="1000.00"))
    stream = io.StringIO()
    logging.config.dictConfig(_json_logging(stream))
    try:
        run = run_settlement("2026-10", by=closer)
        logging.getLogger("revenue.settlement.outside").info("after the run")
    finally:
        logging.config.dictConfig(settings.LOGGING)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    of_the_run = [line for line in lines if line["logger"].startswith("revenue.settlement") and line is not lines[-1]]
    assert any("completed" in line["message"] for line in of_the_run), lines
    assert {line["run_id"] for line in of_the_run} == {str(run.pk)}
    assert all(line["task_id"] != "-" for line in of_the_run)
    assert (lines[-1]["run_id"], lines[-1]["task_id"]) == ("-", "-")
