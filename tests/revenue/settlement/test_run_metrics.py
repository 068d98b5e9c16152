"""After a month-end close, /metrics shows that run's duration by phase, read from the database."""

from __future__ import annotations

import pytest

from tests.deploy.test_metrics import samples, scrape
from tests.revenue.settlement.conftest import book, pct, row

PHASES = {"watermark", "aggregate", "chunks_cpu", "check", "finish", "total"}


@pytest.mark.django_db
def test_metrics_show_the_latest_closes_duration_by_phase(client, pay, active_x, run_settlement, closer):
    assert not [k for k in samples(scrape(client)) if k[0] == "partner_office_settlement_run_phase_seconds"]
    pct(pay, "0.300000")
    book(row(active_x, "M-1", revenue="1000.00"))
    run = run_settlement("2026-10", by=closer)

    found = {
        dict(labels)["phase"]: (dict(labels), seconds)
        for (name, labels), seconds in samples(scrape(client)).items()
        if name == "partner_office_settlement_run_phase_seconds"
    }
    assert PHASES <= set(found), found
    for phase, (labels, seconds) in found.items():
        assert labels == {"kind": "close", "period": "2026-10", "run": str(run.pk), "phase": phase}
        assert seconds == run.timings[phase]
    assert found["total"][1] >= found["finish"][1] >= 0
