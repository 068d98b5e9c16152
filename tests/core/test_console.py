"""The commands' console helpers: display width, aligned tables, progress, language and failures."""

from __future__ import annotations

import io
import unicodedata

import pytest
from django.core.management.base import OutputWrapper
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from core.console import Progress, display_width, language_from_environment, money, pad, table

# Cells mixing what the commands print: ASCII, CJK ideographs and full-width punctuation, digits.
ALPHABET = st.sampled_from(list("abcXYZ 019-.,%") + list("北京分行结算单本期分润调整") + list("（），：％"))
CELL = st.text(ALPHABET, max_size=12)


def width(text: str) -> int:
    """Columns in a terminal, counted independently of the code under test (the alphabet has no combining marks)."""
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def columns_of(line: str) -> list[int]:
    """The display column each character of ``line`` starts at."""
    starts, column = [], 0
    for char in line:
        starts.append(column)
        column += width(char)
    return starts


def test_display_width_counts_wide_and_fullwidth_characters_as_two():
    assert display_width("abc") == 3
    assert display_width("北京分行") == 8
    assert display_width("（Ａ）") == 6  # full-width parentheses and letter: East Asian Width F
    assert display_width("é") == 1 and display_width("e\u0301") == 1  # a combining accent takes no column
    assert display_width("a\u200db") == 2  # zero-width joiner
    assert pad("北京", 6) == "北京  " and pad("12", 5, ">") == "   12"


@given(st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=1, max_size=8), st.text("<>", min_size=3, max_size=3))
def test_table_columns_line_up_for_any_mix_of_cjk_and_ascii(rows, align):
    lines = table(rows, align=align, indent=2, gap=2)
    assert len(lines) == len(rows)
    widths = [max(width(row[c]) for row in rows) for c in range(3)]
    # Column c starts (left-aligned) or ends (right-aligned) at the same display column on every line.
    start = 2
    for c in range(3):
        for line, row in zip(lines, rows, strict=True):
            padded = line.ljust(len(line) + 200)  # trailing spaces were stripped
            starts = columns_of(padded)
            cell_start = start + (widths[c] - width(row[c]) if align[c] == ">" else 0)
            # The text before the cell takes exactly cell_start columns, and the cell follows it.
            index = starts.index(cell_start) if cell_start in starts else None
            assert index is not None, (line, row, c)
            assert padded[index:].startswith(row[c]), (line, row, c)
        start += widths[c] + 2
    assert all(width(line) <= sum(widths) + 2 + 2 * 2 for line in lines)


def test_table_with_headers_aligns_money_right():
    lines = table([("本期分润", money(1234567.8)), ("VAT", money(6))], headers=("项目", "金额"), align="<>")
    assert lines == ["  项目" + " " * 14 + "金额", "  本期分润  1,234,567.80", "  VAT" + " " * 15 + "6.00"]
    assert len({display_width(line) for line in lines}) == 1
    assert unicodedata.east_asian_width("本") == "W"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_off_a_terminal_prints_a_line_every_ten_percent_and_after_a_pause():
    out, clock = io.StringIO(), Clock()
    with Progress(OutputWrapper(out), total=1000, label="Booking", tty=False, clock=clock) as bar:
        for done in range(0, 1001, 25):
            bar.update(done)
        lines = out.getvalue().splitlines()
    assert lines == [f"Booking: {p:3d}%  {p * 10}/1000" for p in range(10, 101, 10)]
    assert "\r" not in out.getvalue()

    out = io.StringIO()
    bar = Progress(OutputWrapper(out), total=1000, label="Booking", tty=False, clock=clock)
    bar.update(10)
    clock.now += 6  # no new step, but a while without news
    bar.update(20)
    bar.update(30)
    bar.finish()
    assert out.getvalue().splitlines() == ["Booking:   2%  20/1000", "Booking: 100%  1000/1000"]


def test_progress_on_a_terminal_redraws_one_line_and_nothing_at_verbosity_zero():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out, clock = Terminal(), Clock()
    with Progress(OutputWrapper(out), total=4, label="结算", clock=clock) as bar:
        for done in range(1, 5):
            clock.now += 1
            bar.update(done)
    text = out.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n") and text.count("\n") == 1
    assert "结算 [" + "=" * 24 + "] 100%  4/4" in text

    quiet = Terminal()
    with Progress(OutputWrapper(quiet), total=4, label="x", enabled=False) as bar:
        bar.update(4)
    assert quiet.getvalue() == ""


def test_a_failed_step_leaves_no_final_figure():
    out = io.StringIO()
    with pytest.raises(RuntimeError), Progress(OutputWrapper(out), total=100, label="x", tty=False) as bar:
        bar.update(50)
        raise RuntimeError
    assert out.getvalue().splitlines() == ["x:  50%  50/100"]


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh-hans"),
        ({"LANG": "C.UTF-8"}, "zh-hans"),
        ({}, "zh-hans"),
        ({"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh-hans"),
        ({"LC_MESSAGES": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
    ],
)
def test_the_locale_chooses_the_language(environ, language, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    assert language_from_environment(environ) == language


@pytest.mark.parametrize(
    "command",
    ["run_settlement", "ingest_transactions", "generate_transactions", "build_scorecards", "demo", "sync_roles"],
)
def test_help_is_in_the_language_asked_for(command, monkeypatch, capsys):
    from tests.console import CJK, command_line

    out, _err, code = command_line(monkeypatch, capsys, command, "--help", "--lang", "en")
    assert code == 0 and "--lang {zh-hans,en}" in out and not CJK.search(out)
    out, _err, code = command_line(monkeypatch, capsys, command, "--help", env={"LANG": "zh_CN.UTF-8"})
    assert code == 0 and "输出语言" in out
