"""Runs that are safe to repeat: duplicated chunks, crashes and resumes, accruals, dry runs, schedules, races."""

from __future__ import annotations

import datetime as dt
import threading
import time
from unittest import mock

import pytest
from django.db import connection, connections
from django.db.models import F, Sum

from core.periods import CHINA_TZ, Period
from revenue.ledger.models import Agreement, AgreementVersion
from revenue.ledger.services import agreement_version_supersede
from revenue.settlement.choices import PeriodState, RunKind, RunState, RunTrigger, SettlementState
from revenue.settlement.errors import PeriodLocked, RunInProgress
from revenue.settlement.models import (
    Settlement,
    SettlementLine,
    SettlementPeriod,
    SettlementRun,
    SettlementRunFigure,
)
from revenue.settlement.services import runs as runs_module
from revenue.settlement.services import (
    settlement_dry_run,
    settlement_run_chunk_execute,
    settlement_run_finish,
    settlement_run_resume,
    settlement_run_start,
)
from revenue.settlement.tasks import settlement_accrual_nightly_task, settlement_close_monthly_task
from tests.revenue.factories import active_partner
from tests.revenue.settlement.conftest import D, agreement, book, pct, row, table_counts


@pytest.fixture
def month(pay, loan, settings):
    """Seven partners over three chunks, with percentage, fixed and tiered rules."""
    settings.SETTLEMENT_CHUNK_PARTNERS = 3
    pct(pay, "0.300000")
    agreement(
        loan,
        rule_kind="tiered_retroactive",
        tier_basis="total_revenue",
        tiers=[("0", "100", "0.1"), ("100", None, "0.2")],
    )
    partners = [active_partner() for _ in range(7)]
    rows = []
    for i, partner in enumerate(partners):
        rows.append(row(partner, f"A{i}", revenue=f"{40 + 7 * i}.13"))
        rows.append(row(partner, f"B{i}", product="SCF_LOAN", revenue=f"{30 + 11 * i}.07"))
    book(*rows)
    return partners


def snapshot():
    """Every settlement's partner and totals, and every line's figures and share."""
    settlements = sorted(
        Settlement.objects.values_list(
            "partner_id", "state", "share_total", "adjustment_total", "net", "vat", "payable"
        )
    )
    lines = sorted(
        Settlement.objects.values_list(
            "partner_id",
            "lines__kind",
            "lines__product_id",
            "lines__transaction_count",
            "lines__bank_revenue",
            "lines__share",
        )
    )
    return settlements, lines


def _expected(period="2026-10"):
    result = settlement_dry_run(period=Period.parse(period), by=None)
    return sorted((s.partner_id, s.net, s.vat, s.payable) for s in result.settlements)


def _actual(period="2026-10"):
    return sorted(
        Settlement.objects.filter(period__start=Period.parse(period).first_day).values_list(
            "partner_id", "net", "vat", "payable"
        )
    )


def test_a_chunk_delivered_twice_writes_its_rows_once(month, django_capture_on_commit_callbacks):
    # The chunks are not sent anywhere: this test delivers them by hand, chunk 2 twice.
    with mock.patch.object(runs_module, "_chunks_dispatch"), django_capture_on_commit_callbacks(execute=True):
        run = settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=None)
    run.refresh_from_db()
    assert (run.state, run.chunks_total) == (RunState.RUNNING, 3)
    assert settlement_run_chunk_execute(run_id=run.pk, number=2)
    assert not settlement_run_chunk_execute(run_id=run.pk, number=2)
    assert settlement_run_chunk_execute(run_id=run.pk, number=1)
    assert settlement_run_chunk_execute(run_id=run.pk, number=3)
    assert not settlement_run_chunk_execute(run_id=run.pk, number=2)
    finished = settlement_run_finish(run_id=run.pk, attempt=run.attempt)
    assert finished.state == RunState.COMPLETED, finished.error
    assert Settlement.objects.count() == 7
    assert (finished.settlements_count, finished.lines_count, finished.chunks_done) == (7, 14, 3)
    # The final step delivered twice, or a chunk after the end, changes nothing.
    before = snapshot()
    assert settlement_run_finish(run_id=run.pk, attempt=run.attempt) is None
    assert not settlement_run_chunk_execute(run_id=run.pk, number=1)
    assert snapshot() == before


def test_a_chunk_that_fails_midway_fails_the_run_and_a_rerun_completes_it(month, run_settlement):
    expected = _expected()
    real_settle = runs_module._chunk_settle
    calls = []

    def crash_in_chunk_two(*args, **kwargs):
        calls.append(1)
        written = real_settle(*args, **kwargs)
        if len(calls) == 2:
            raise RuntimeError("worker lost mid-chunk")
        return written

    with mock.patch.object(runs_module, "_chunk_settle", side_effect=crash_in_chunk_two):
        failed = run_settlement("2026-10")

    assert failed.state == RunState.FAILED
    assert "1 of 3 chunks did not complete" in failed.error and "worker lost mid-chunk" in failed.error
    assert list(failed.chunks.values_list("done", flat=True)) == [True, False, True]
    # Chunk 2's rows were rolled back with it; nothing is closed.
    assert Settlement.objects.count() == 4
    assert not Settlement.objects.exclude(state=SettlementState.DRAFT).exists()
    period = SettlementPeriod.objects.get(start=dt.date(2026, 10, 1))
    assert period.state == PeriodState.CLOSING
    assert not AgreementVersion.objects.filter(locked_at__isnull=False).exists()
    with pytest.raises(PeriodLocked):
        run_settlement("2026-10", kind=RunKind.ACCRUAL)

    # Running the close again resumes the same run: chunk 2 is written, then the check and the close.
    resumed = run_settlement("2026-10")
    assert (resumed.pk, resumed.attempt, resumed.state) == (failed.pk, 2, RunState.COMPLETED)
    assert _actual() == expected
    assert Settlement.objects.filter(state=SettlementState.CLOSED).count() == 7
    assert SettlementRun.objects.filter(kind=RunKind.CLOSE).count() == 1
    assert not SettlementRunFigure.objects.exists()


def test_a_run_that_stopped_between_chunks_is_resumed(month, django_capture_on_commit_callbacks):
    expected = _expected()

    def only_the_first_chunk(run_id, attempt):
        settlement_run_chunk_execute(run_id=run_id, number=1)  # then the process dies

    with (
        mock.patch.object(runs_module, "_chunks_dispatch", side_effect=only_the_first_chunk),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run = settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=None)
    run.refresh_from_db()
    assert (run.state, run.chunks_done) == (RunState.RUNNING, 1)
    with pytest.raises(RunInProgress):
        settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=None)

    with django_capture_on_commit_callbacks(execute=True):
        settlement_run_resume(run=run, by=None)
    run.refresh_from_db()
    assert (run.state, run.attempt, run.chunks_done) == (RunState.COMPLETED, 2, 3)
    assert _actual() == expected
    # The first dispatch's final step, arriving late, is ignored.
    assert settlement_run_finish(run_id=run.pk, attempt=1) is None


def test_a_failed_conservation_check_fails_the_run_and_keeps_the_period_open_to_resume(month, run_settlement):
    real = runs_module.conservation_check

    def broken(run, window):
        report = real(run, window)
        report.problems.append("lines lost")
        return report

    with mock.patch.object(runs_module, "conservation_check", side_effect=broken):
        failed = run_settlement("2026-10")
    assert failed.state == RunState.FAILED and "Conservation check failed" in failed.error
    assert SettlementPeriod.objects.get(start=dt.date(2026, 10, 1)).state == PeriodState.CLOSING
    assert not Settlement.objects.exclude(state=SettlementState.DRAFT).exists()
    assert run_settlement("2026-10").state == RunState.COMPLETED


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("drop_line", "lines hold"),
        ("share_above_revenue", "share more than their bank revenue"),
        ("settlement_total", "Settlement totals do not add back"),
    ],
)
def test_the_conservation_check_catches_a_lost_line_an_overpaid_line_and_totals_that_do_not_add_up(
    month, run_settlement, tamper, message
):
    real = runs_module._chunk_settle

    def tampered(run, window, partners, **kwargs):
        written = real(run, window, partners, **kwargs)
        if partners.after == 0:  # the first chunk's rows, as the database or Python wrote them
            first = Settlement.objects.filter(run=run).order_by("partner_id").first()
            lines = SettlementLine.objects.filter(settlement=first)
            if tamper == "drop_line":
                lines.order_by("-position").first().delete()
                sums = lines.aggregate(count=Sum("transaction_count"), revenue=Sum("bank_revenue"))
                Settlement.objects.filter(pk=first.pk).update(
                    transaction_count=sums["count"] or 0, bank_revenue=sums["revenue"] or D("0")
                )
            elif tamper == "share_above_revenue":
                line = lines.get(position=1)
                lines.filter(pk=line.pk).update(share=line.bank_revenue + D("0.01"))
            else:
                Settlement.objects.filter(pk=first.pk).update(transaction_count=F("transaction_count") + 1)
        return written

    with mock.patch.object(runs_module, "_chunk_settle", side_effect=tampered):
        failed = run_settlement("2026-10")
    assert failed.state == RunState.FAILED
    assert "Conservation check failed" in failed.error and message in failed.error
    assert SettlementPeriod.objects.get(start=dt.date(2026, 10, 1)).state == PeriodState.CLOSING


def test_accruals_write_drafts_that_the_next_accrual_and_the_close_replace(month, run_settlement):
    first = run_settlement("2026-10", kind=RunKind.ACCRUAL)
    assert first.state == RunState.COMPLETED
    assert set(Settlement.objects.values_list("state", flat=True)) == {SettlementState.DRAFT}
    drafts = snapshot()
    book(row(month[0], "LATE", revenue="1000.00", at="2026-10-30T10:00:00+08:00"))
    run_settlement("2026-10", kind=RunKind.ACCRUAL)
    assert Settlement.objects.count() == 7
    assert snapshot() != drafts
    assert SettlementPeriod.objects.get(start=dt.date(2026, 10, 1)).state == PeriodState.OPEN
    assert not AgreementVersion.objects.filter(locked_at__isnull=False).exists()

    expected = _expected()
    run_settlement("2026-10")
    assert set(Settlement.objects.values_list("state", flat=True)) == {SettlementState.CLOSED}
    assert _actual() == expected
    with pytest.raises(PeriodLocked, match="nothing left to accrue"):
        run_settlement("2026-10", kind=RunKind.ACCRUAL)


def test_a_dry_run_writes_nothing(month, run_settlement):
    run_settlement("2026-09")  # September had nothing: closed empty
    before = table_counts()
    locks = list(AgreementVersion.objects.values_list("pk", "locked_at"))
    result = settlement_dry_run(period=Period(2026, 10), by=None)
    assert table_counts() == before
    assert list(AgreementVersion.objects.values_list("pk", "locked_at")) == locks
    assert (len(result.settlements), result.totals["lines"], result.conserved) == (7, 14, True)
    assert not SettlementPeriod.objects.filter(start=dt.date(2026, 10, 1)).exists()

    run_settlement("2026-10")
    assert _actual() == sorted((s.partner_id, s.net, s.vat, s.payable) for s in result.settlements)


def test_a_dry_run_under_a_proposed_version_answers_what_last_month_would_have_paid(
    pay, active_x, active_y, run_settlement, finance
):
    pct(pay, "0.300000")
    own = agreement(pay, partner=active_x, rule_kind="percentage", rate=D("0.350000"))
    book(row(active_x, "X1", revenue="1000.00"), row(active_y, "Y1", revenue="1000.00"))
    run_settlement("2026-10")
    assert own.pk
    # A new default for the type, not yet in force: X keeps its own agreement, Y would earn 40%.
    default = Agreement.objects.get(product=pay, partner__isnull=True)
    proposed = agreement_version_supersede(
        agreement=default, valid_from=dt.date(2027, 3, 1), rule_kind="percentage", rate=D("0.400000"), by=None
    )
    before = table_counts()

    result = settlement_dry_run(period=Period(2026, 10), by=finance, proposed_version=proposed)

    assert table_counts() == before
    drafts = {s.partner_id: s for s in result.settlements}
    assert drafts[active_y.pk].share_total == D("400.00")
    assert result.actual[active_y.pk].share_total == D("300.00")
    assert drafts[active_x.pk].share_total == D("350.00") == result.actual[active_x.pk].share_total
    one = settlement_dry_run(period=Period(2026, 10), by=finance, proposed_version=proposed, partner=active_y)
    assert [s.partner_id for s in one.settlements] == [active_y.pk]


def test_rms_preview_their_own_branch_only(pay, active_x, active_y, rm_a):
    from revenue.settlement.errors import NotPermitted

    pct(pay, "0.300000")
    book(row(active_x, "X1"))
    assert settlement_dry_run(period=Period(2026, 10), by=rm_a, partner=active_x).settlements
    for partner in (active_y, None):
        with pytest.raises(NotPermitted):
            settlement_dry_run(period=Period(2026, 10), by=rm_a, partner=partner)


def test_the_schedule_accrues_nightly_and_closes_once_on_the_first(month, django_capture_on_commit_callbacks, caplog):
    first_of_november = dt.datetime(2026, 11, 1, 1, 0, tzinfo=CHINA_TZ)
    with mock.patch("django.utils.timezone.now", return_value=first_of_november):
        with django_capture_on_commit_callbacks(execute=True):
            accrual_id = settlement_accrual_nightly_task.apply().get()
        assert SettlementRun.objects.get(pk=accrual_id).period.start == dt.date(2026, 10, 1)
        with django_capture_on_commit_callbacks(execute=True):
            close_id = settlement_close_monthly_task.apply().get()
        # A second beat scheduler fires the same close: refused, logged, nothing written.
        assert settlement_close_monthly_task.apply().get() is None
    close = SettlementRun.objects.get(pk=close_id)
    assert (close.kind, close.state, str(close.period), close.trigger) == (
        RunKind.CLOSE,
        RunState.COMPLETED,
        "2026-10",
        "schedule",
    )
    assert "is closed" in caplog.text
    assert SettlementRun.objects.filter(kind=RunKind.CLOSE).count() == 1


def test_the_schedules_are_declared_in_code(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE
    accrual = schedule["settlement-nightly-accrual"]
    close = schedule["settlement-month-end-close"]
    assert accrual["task"] == "settlement.accrual_nightly"
    assert (accrual["schedule"].hour, accrual["schedule"].minute) == ({1}, {0})
    assert close["task"] == "settlement.close_monthly"
    assert (close["schedule"].day_of_month, close["schedule"].hour) == ({1}, {2})
    assert settings.CELERY_TIMEZONE == "Asia/Shanghai"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_closes_one_is_refused(month):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them)")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def close():
        try:
            barrier.wait(timeout=10)
            settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=None)
            outcomes.append("started")
        except RunInProgress as exc:
            outcomes.append(f"refused: {exc.message}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=close) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(o.split(":")[0] for o in outcomes) == ["refused", "started"], outcomes
    assert "A Month-end close of 2026-10" in next(o for o in outcomes if o.startswith("refused"))
    (run,) = SettlementRun.objects.filter(kind=RunKind.CLOSE)
    assert run.state == RunState.COMPLETED, run.error
    assert Settlement.objects.filter(state=SettlementState.CLOSED).count() == 7


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_aggregation_on_two_connections_writes_the_figures_of_one(month):
    """Two halves of the partners side by side: the same figure rows as one connection, every attribution once."""
    if connection.vendor != "postgresql":
        pytest.skip("a second connection sees committed rows only: PostgreSQL's path")
    from revenue.ledger.models import TransactionAttribution
    from revenue.settlement import aggregation

    def backends() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            return cursor.fetchone()[0]

    def figures(run_id):
        return sorted(SettlementRunFigure.objects.filter(run_id=run_id).values_list(*aggregation.FIGURE_COLUMNS))

    before = backends()
    upper = TransactionAttribution.objects.order_by("-id").values_list("id", flat=True).first()
    window = aggregation.Window(period=Period(2026, 10), lower=0, upper=upper, adjust_before=None)
    period = SettlementPeriod.objects.create(start=dt.date(2026, 10, 1))
    one, two = (
        SettlementRun.objects.create(
            period=period, kind=RunKind.ACCRUAL, state=RunState.FAILED, trigger=RunTrigger.COMMAND
        )
        for _ in range(2)
    )
    written_one = aggregation.figures_insert(run_id=one.pk, window=window)
    written_two = aggregation.figures_insert(run_id=two.pk, window=window, two_connections=True)

    assert written_one == written_two == len(figures(one.pk)) == 14
    assert figures(two.pk) == figures(one.pk)
    middle = aggregation._partner_id_middle()
    partners = {row[0] for row in figures(two.pk)}
    assert min(partners) <= middle < max(partners)  # both connections had partners to aggregate
    month_rows = TransactionAttribution.objects.filter(occurred_at__gte=Period(2026, 10).start)
    assert sum(row[4] for row in figures(two.pk)) == month_rows.count()
    assert sum(row[7] for row in figures(two.pk)) == sum(int(a.bank_revenue * 100) for a in month_rows)
    for _ in range(50):  # the second connection was closed (its server process ends a moment later)
        if backends() <= before:
            break
        time.sleep(0.05)
    assert backends() <= before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_in_process_chunks_share_out_over_connections_and_write_what_one_writes(month, settings):
    """Tasks run in this process (no workers): the chunks run on threads, each on its own connection."""
    if connection.vendor != "postgresql":
        pytest.skip("other connections see committed rows only: PostgreSQL's path")
    from revenue.settlement import tasks as tasks_module

    original = tasks_module._chunk_on_own_connection
    backends: list[int] = []

    def recorded(run_id, number):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backends.append(cursor.fetchone()[0])
        original(run_id, number)

    settings.SETTLEMENT_CONNECTIONS = 1
    one = settlement_run_start(period=Period(2026, 10), kind=RunKind.ACCRUAL, by=None)
    assert SettlementRun.objects.get(pk=one.pk).state == RunState.COMPLETED
    on_one = snapshot()
    assert backends == []

    settings.SETTLEMENT_CONNECTIONS = 2
    with mock.patch.object(tasks_module, "_chunk_on_own_connection", side_effect=recorded):
        two = settlement_run_start(period=Period(2026, 10), kind=RunKind.ACCRUAL, by=None)
    run = SettlementRun.objects.get(pk=two.pk)
    assert run.state == RunState.COMPLETED, run.error
    assert run.chunks_done == run.chunks_total == len(backends) == 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] not in backends
    assert snapshot() == on_one
    assert Settlement.objects.filter(run=run).count() == 7


def test_a_completed_close_queues_the_months_scorecards(month, run_settlement, settings):
    settings.SETTLEMENT_BUILD_SCORECARDS = True
    with mock.patch("performance.tasks.performance_after_month_close") as hook:
        run_settlement("2026-10", kind=RunKind.ACCRUAL)
        hook.assert_not_called()
        run_settlement("2026-10")
    hook.assert_called_once_with(month=dt.date(2026, 10, 1))


def test_a_completed_close_issues_every_settlements_statement(month, run_settlement, settings):
    from revenue.statements.models import Statement

    settings.SETTLEMENT_ISSUE_STATEMENTS = True
    run_settlement("2026-10", kind=RunKind.ACCRUAL)
    assert not Statement.objects.exists()  # drafts have no statement
    run_settlement("2026-10")
    closed = Settlement.objects.filter(state=SettlementState.CLOSED)
    assert closed.exists()
    assert set(Statement.objects.values_list("settlement_id", flat=True)) == set(closed.values_list("pk", flat=True))
