"""``manage.py build_scorecards`` and the Celery tasks the month-end close queues."""

import datetime as dt
import io
from decimal import Decimal as D
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from performance.models import BranchScorecard, TierProposal, TierRule
from performance.periods import ReportingPeriod
from performance.tasks import (
    performance_after_month_close,
    periods_ending_with,
    scorecards_build_task,
    tier_proposals_task,
)
from tests.performance.ledger import at


@pytest.fixture
def targets(alliance, make_target):
    make_target(alliance.branch_a, "bank_revenue", target="20.00", weight="1")
    make_target(alliance.branch_b, "bank_revenue", target="17.00", weight="1")
    return alliance


def run(*args) -> str:
    out = io.StringIO()
    call_command("build_scorecards", *args, "--lang", "en", stdout=out)
    return out.getvalue()


def test_command_builds_as_of_a_date_and_writes_pdfs(targets, settings, tmp_path):
    output = run("--period", "2026-10", "--as-of", "2026-11-05", "--pdf")
    card = BranchScorecard.objects.get(branch=targets.branch_a)
    # A date is the end of that day in Beijing time.
    assert card.as_of == at(2026, 11, 6) - dt.timedelta(microseconds=1)
    # A: 15 / 20 = 0.75 → 75.00; B: 34 / 17 = 2 → capped 150.00.
    assert (card.total_score, card.rank) == (D("75.00"), 2)
    assert "2026-10: 2 scorecards" in output and "HZ" in output
    pdf = settings.MEDIA_ROOT / "scorecards" / "2026-10" / "SZ.pdf"
    assert pdf.exists() and str(pdf.parent) in output
    assert "深圳分行" in PdfReader(pdf).pages[0].extract_text()


def test_command_pdf_dir_kind_and_tier_proposals(targets, tmp_path):
    TierRule.objects.create(name="银牌", tier="silver", priority=20, min_revenue=D("3.00"))
    output = run("--period", "2026-10-01", "--kind", "month", "--pdf-dir", str(tmp_path), "--tier-proposals")
    assert sorted(p.name for p in (tmp_path / "2026-10").iterdir()) == ["HZ.pdf", "SZ.pdf"]
    assert "Tier proposals:" in output
    assert TierProposal.objects.filter(partner=targets.x, proposed_tier="silver").exists()


def test_command_refuses_bad_input_clearly(targets, english):
    with pytest.raises(CommandError, match="2026-Q4"):
        run("--period", "October")
    with pytest.raises(CommandError):
        run("--period", "2026-Q4", "--kind", "month")
    with pytest.raises(CommandError, match="as-of"):
        run("--period", "2026-10", "--as-of", "yesterday")
    with pytest.raises(CommandError, match="No branch has targets"):
        run("--period", "2026-09")
    assert not BranchScorecard.objects.exists()


def test_task_is_idempotent(targets):
    first = scorecards_build_task.apply(args=("month", "2026-10-01")).get()
    second = scorecards_build_task.apply(args=("month", "2026-10-01")).get()
    assert first["built"] == second["built"] == 2
    assert BranchScorecard.objects.count() == 2


def test_task_skips_a_period_without_targets(db):
    assert scorecards_build_task.apply(args=("quarter", "2026-10-01")).get()["built"] == 0


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_builds_the_scorecards(celery_worker_process, targets):
    result = scorecards_build_task.delay("month", "2026-10-01").get(timeout=60)
    assert result["built"] == 2
    assert set(BranchScorecard.objects.values_list("branch__code", "rank")) == {("HZ", 1), ("SZ", 2)}


def test_periods_ending_with_a_month():
    assert [str(p) for p in periods_ending_with(dt.date(2026, 10, 1))] == ["2026-10"]
    assert [str(p) for p in periods_ending_with(dt.date(2026, 12, 1))] == ["2026-12", "2026-Q4", "2026"]


def test_after_month_close_queues_the_builds_on_commit(targets, make_target, django_capture_on_commit_callbacks):
    make_target(
        targets.branch_a,
        "bank_revenue",
        period_kind="quarter",
        period_start=dt.date(2026, 10, 1),
        target="60.00",
        weight="1",
    )

    def run_here(task):
        return lambda *args: task.apply(args=args)

    # The queued tasks run here, in-process, whatever broker is configured.
    with (
        mock.patch.object(scorecards_build_task, "delay", run_here(scorecards_build_task)),
        mock.patch.object(tier_proposals_task, "delay", run_here(tier_proposals_task)),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        periods = performance_after_month_close(month=dt.date(2026, 12, 1))
    # December, Q4 (it has targets), not the year (none); then the tier proposals of December.
    assert periods == [ReportingPeriod.parse("2026-12"), ReportingPeriod.parse("2026-Q4")]
    assert len(callbacks) == 3
    assert BranchScorecard.objects.filter(period_kind="quarter").count() == 1


def test_demo_targets_make_a_scorable_period(alliance):
    from demo.performance import demo_targets_create
    from performance.models import BranchTarget

    count = demo_targets_create(period=ReportingPeriod.parse("2026-10"), as_of=at(2026, 11, 5))
    # Every branch with partners (A, B, C) gets the five computable KPIs, weights summing to 1.
    assert count == 15
    for branch in (alliance.branch_a, alliance.branch_b, alliance.branch_c):
        weights = BranchTarget.objects.filter(branch=branch).values_list("weight", flat=True)
        assert sum(weights) == D(1)
    assert "3 scorecards" in run("--period", "2026-10", "--as-of", "2026-11-05")
