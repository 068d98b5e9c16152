"""``manage.py run_settlement``: accrual, close, resume and dry run through the same services."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from revenue.ledger.models import Agreement
from revenue.ledger.services import agreement_version_supersede
from revenue.settlement.choices import RunState, SettlementState
from revenue.settlement.models import Settlement, SettlementRun
from tests.console import assert_one_language, command_line
from tests.revenue.settlement.conftest import D, book, pct, row, table_counts

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args, lang="en") -> str:
    out = io.StringIO()
    options = ["--lang", lang] if lang else []
    call_command("run_settlement", *args, *options, stdout=out)
    return out.getvalue()


def figure(out: str, label: str) -> str:
    """The value printed next to a figure's label in the command's table (one name per figure)."""
    lines = [line for line in out.splitlines() if line.strip().startswith(label + "  ")]
    assert len(lines) == 1, (label, out)
    return lines[0].split()[-1]


@pytest.fixture
def october(pay, active_x, active_y):
    pct(pay, "0.300000")
    book(row(active_x, "C1", revenue="1000.00"), row(active_y, "C2", revenue="500.00"))


def test_accrual_then_close(october, active_x):
    out = run("--period", "2026-10")
    assert "Nightly accrual" in out and "Completed" in out
    assert set(Settlement.objects.values_list("state", flat=True)) == {SettlementState.DRAFT}
    out = run("--period", "2026-10", "--close")
    assert "Completed" in out
    assert figure(out, "Period shares") == "450.00" and figure(out, "Adjustments of closed periods") == "0.00"
    assert figure(out, "Retained by the bank") == "1,050.00" and figure(out, "Bank revenue settled") == "1,500.00"
    assert "shares " not in out.replace("Period shares", "").replace("period shares", "")
    assert Settlement.objects.get(partner=active_x).state == SettlementState.CLOSED
    with pytest.raises(CommandError, match="cannot be closed again"):
        run("--period", "2026-10", "--close")


def test_dry_run_writes_nothing_and_shows_a_proposed_version(october, pay, active_y):
    run("--period", "2026-10", "--close")
    default = Agreement.objects.get(product=pay, partner__isnull=True)
    proposed = agreement_version_supersede(
        agreement=default, valid_from=dt.date(2027, 6, 1), rule_kind="percentage", rate=D("0.500000"), by=None
    )
    before = table_counts()
    out = run(
        "--period", "2026-10", "--dry-run", "--agreement-version", str(proposed.pk), "--partner", active_y.credit_code
    )
    assert table_counts() == before
    assert "nothing was written" in out
    assert "net 250.00" in out  # 50% of 500.00, where the close paid 30%
    assert "Actual settlement (Closed): net 150.00" in out
    assert figure(out, "Conservation") == "holds"
    assert "Note: 2026-10 is already closed" in out


def test_bad_input_is_refused(october):
    with pytest.raises(CommandError, match="YYYY-MM"):
        run("--period", "October")
    with pytest.raises(CommandError, match="only goes with --dry-run"):
        run("--period", "2026-10", "--agreement-version", "1")
    with pytest.raises(CommandError, match="No settlement run"):
        run("--resume", "999")
    with pytest.raises(CommandError, match="No user"):
        run("--period", "2026-10", "--user", "nobody")
    assert not SettlementRun.objects.exists()


def test_resume_a_failed_run(october):
    from unittest import mock

    from revenue.settlement.services import runs as runs_module

    with mock.patch.object(runs_module, "_chunk_settle", side_effect=RuntimeError("disk full")):
        with pytest.raises(CommandError, match="disk full"):
            run("--period", "2026-10", "--close")
    failed = SettlementRun.objects.get()
    assert failed.state == RunState.FAILED
    out = run("--resume", str(failed.pk))
    assert f"Run #{failed.pk} (Month-end close of 2026-10) Completed" in out
    assert SettlementRun.objects.get().state == RunState.COMPLETED


def test_the_dry_run_of_an_open_period_has_no_closed_note(october):
    out = run("--period", "2026-10", "--dry-run")
    assert "already closed" not in out and "nothing was written" in out


def test_a_dry_run_prints_each_adjustment_line_with_the_period_it_corrects(pay, active_x, active_y):
    pct(pay, "0.300000")
    book(row(active_x, "S1", revenue="100.00", at="2026-09-10T10:00:00+08:00"))
    run("--period", "2026-09", "--close")
    # A late September event (booked after September closed) and an October one.
    book(
        row(active_x, "S2", revenue="200.00", at="2026-09-28T10:00:00+08:00"),
        row(active_x, "O1", revenue="1000.00", at="2026-10-08T10:00:00+08:00"),
    )
    out = run("--period", "2026-10", "--dry-run", "--partner", active_x.credit_code)
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  Product ")}
    adjustment = next(line for line in out.splitlines() if line.startswith("  Adjustment of an earlier period"))
    assert "2026-09" in adjustment.split() and "60.00" in adjustment.split()  # 30% of 200.00
    assert "2026-10" in lines["Product"] and "<10" not in out
    assert figure(out, "Period shares") == "300.00" and figure(out, "Adjustments of closed periods") == "60.00"


def test_the_output_is_chinese_by_default_and_english_with_lang_en_or_an_english_locale(
    october, active_x, active_y, pay, settings, monkeypatch, capsys
):
    settings.LANGUAGE_CODE = "zh-hans"  # the product's default (the revenue tests' fixture sets English)
    data = (active_x.legal_name, active_y.legal_name, pay.name)
    out, err, code = command_line(monkeypatch, capsys, "run_settlement", "--period", "2026-10", env={"LANG": "C.UTF-8"})
    assert code == 0 and not err
    assert_one_language(out, "zh-hans", data=data)
    assert "日终预提" in out and "本期分润" in out
    # A Chinese locale with --lang en, then an English locale: English.
    args = ("run_settlement", "--period", "2026-10", "--close")
    out, err, code = command_line(monkeypatch, capsys, *args, "--lang", "en", env={"LANG": "zh_CN.UTF-8"})
    assert code == 0 and "Month-end close" in out
    assert_one_language(out, "en", data=data)
    out = run("--period", "2026-10", "--dry-run", "--partner", active_x.credit_code)
    assert_one_language(out, "en", data=data)
    out, err, code = command_line(monkeypatch, capsys, *args, env={"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"})
    # A real failure: one line on stderr in the run's language, exit code 1, nothing on stdout but the start.
    assert code == 1 and err.startswith("Error: 2026-10 is closed") and len(err.strip().splitlines()) == 1
    out, err, code = command_line(monkeypatch, capsys, *args, env={"LANG": "C.UTF-8"})
    assert code == 1 and err.startswith("错误：2026-10") and "不能再次关账" in err
