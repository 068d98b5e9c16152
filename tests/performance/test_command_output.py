"""What ``build_scorecards`` prints: Chinese by default, English on request, its steps as progress lines."""

from __future__ import annotations

import pytest

from core.console import display_width
from organisation.models import Branch
from tests.console import assert_one_language, command_line


@pytest.fixture
def targets(alliance, make_target):
    make_target(alliance.branch_a, "bank_revenue", target="20.00", weight="1")
    make_target(alliance.branch_b, "bank_revenue", target="17.00", weight="1")
    return alliance


def test_scorecards_in_chinese_then_english_with_aligned_columns(targets, tmp_path, monkeypatch, capsys):
    names = list(Branch.objects.values_list("name", flat=True))
    args = ("build_scorecards", "--period", "2026-10", "--pdf-dir", str(tmp_path))
    out, err, code = command_line(monkeypatch, capsys, *args, env={"LANG": "C.UTF-8"})
    assert code == 0 and not err
    assert_one_language(out, "zh-hans", data=names)
    assert "输出 PDF：100%  3/3" in out  # the build, then one step per PDF
    table = [line for line in out.splitlines() if line.startswith("  ")]
    assert table[0].split() == ["排名", "代码", "分行", "得分"]
    # The score column ends at the same display column whatever the branch name's width.
    assert len({display_width(line) for line in table}) == 1

    out, err, code = command_line(monkeypatch, capsys, *args, "--lang", "en", env={"LANG": "zh_CN.UTF-8"})
    assert code == 0 and not err
    assert_one_language(out, "en", data=names)
    assert "2026-10: 2 scorecards" in out and "Writing PDFs: 100%  3/3" in out


def test_a_period_without_targets_fails_in_one_line(targets, monkeypatch, capsys):
    _out, err, code = command_line(monkeypatch, capsys, "build_scorecards", "--period", "2026-09", "--lang", "en")
    assert code == 1 and err.strip() == "Error: No branch has targets for 2026-09; import the targets first."
