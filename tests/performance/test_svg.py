"""The dashboard's server-drawn charts: text escaped, bars to scale, deterministic."""

from decimal import Decimal as D

import pytest

from performance.svg import achievement_chart, score_bar, trend_chart


def test_score_bar_is_to_scale_with_a_marker():
    bar = score_bar(D("75.00"), top=D(150), width=300, mark=D(100))
    assert 'width="150.0"' in bar  # 75 of 150 on 300 pixels
    assert 'x1="200.0"' in bar  # the 100 mark
    assert score_bar(D("-5"), top=D(150), width=300).count('width="0.0"') == 1  # never below zero


def test_labels_are_escaped():
    chart = achievement_chart(["<script>alert(1)</script>"], [D("1.2")], cap=D("1.5"))
    assert "<script>" not in chart and "&lt;script&gt;" in chart
    assert "120.0%" in chart
    line = trend_chart(["2026-09", "<b>"], [D("90.00"), D("101.50")])
    assert "<b>" not in line and "&lt;b&gt;" in line and "<polyline" in line


def test_zero_target_has_no_bar_and_charts_are_deterministic():
    chart = achievement_chart(["A", "B"], [None, D("0.5")], cap=D("1.5"))
    assert chart.count("<rect") == 1
    assert chart == achievement_chart(["A", "B"], [None, D("0.5")], cap=D("1.5"))


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        trend_chart(["a"], [D(1), D(2)])
