"""Writes of settlement: runs (accrual, month-end close, dry run) and the settlement lifecycle. Import from here."""

from revenue.settlement.selectors import run_window
from revenue.settlement.services.conservation import conservation_check
from revenue.settlement.services.lifecycle import (
    settlement_approve,
    settlement_approve_check,
    settlement_dispute_open_until,
    settlement_dispute_raise,
    settlement_dispute_reject,
    settlement_dispute_resolve,
    settlement_mark_paid,
    settlement_mark_paid_check,
)
from revenue.settlement.services.preview import DryRun, settlement_dry_run
from revenue.settlement.services.runs import (
    settlement_run_chunk_execute,
    settlement_run_chunk_failed,
    settlement_run_finish,
    settlement_run_prepare,
    settlement_run_resume,
    settlement_run_start,
    settlement_run_wait,
    settlement_runs_sweep,
)

__all__ = [
    "DryRun",
    "conservation_check",
    "run_window",
    "settlement_approve",
    "settlement_approve_check",
    "settlement_dispute_open_until",
    "settlement_dispute_raise",
    "settlement_dispute_reject",
    "settlement_dispute_resolve",
    "settlement_dry_run",
    "settlement_mark_paid",
    "settlement_mark_paid_check",
    "settlement_run_chunk_execute",
    "settlement_run_chunk_failed",
    "settlement_run_finish",
    "settlement_run_prepare",
    "settlement_run_resume",
    "settlement_run_start",
    "settlement_run_wait",
    "settlement_runs_sweep",
]
