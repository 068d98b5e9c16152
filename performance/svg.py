"""Small charts for the admin dashboard as inline SVG, drawn on the server (no scripts, no remote resources).

Pure functions: values in (``Decimal``), markup out. Every piece of text is
escaped; coordinates are computed with ``Decimal`` and printed with one
decimal, so a chart is a deterministic function of its data.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BAR_FILL = "#2F5597"
OVER_FILL = "#548235"
TARGET_STROKE = "#C55A11"
GRID = "#DDDDDD"
TEXT = "#333333"
FONT = 'font-family="sans-serif" font-size="11"'


def _n(value: Decimal | int) -> str:
    """A coordinate with one decimal."""
    return str(Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _scale(value: Decimal, top: Decimal, length: int) -> Decimal:
    if top <= 0:
        return Decimal(0)
    return max(Decimal(0), min(value, top)) / top * length


def score_bar(
    value: Decimal, *, top: Decimal, width: int = 240, height: int = 14, mark: Decimal | None = None
) -> SafeString:
    """One horizontal bar (e.g. a branch's total score out of ``top``), with an optional marker line (e.g. 100)."""
    filled = _scale(value, top, width)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(str(value))}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#F2F2F2"/>',
        f'<rect x="0" y="0" width="{_n(filled)}" height="{height}" fill="{BAR_FILL}"/>',
    ]
    if mark is not None and 0 < mark <= top:
        x = _n(_scale(mark, top, width))
        parts.append(f'<line x1="{x}" y1="0" x2="{x}" y2="{height}" stroke="{TARGET_STROKE}" stroke-width="1.5"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — built from numbers and escaped text only


def achievement_chart(
    categories: Sequence[str], rates: Sequence[Decimal | None], *, cap: Decimal, width: int = 560, height: int = 220
) -> SafeString:
    """Vertical bars of achievement (as a rate, 1 = 100 %) per KPI, with the 100 % line; bars clipped at the cap."""
    if len(categories) != len(rates):
        raise ValueError("one rate per category")
    left, bottom, top_pad = 40, 40, 10
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    top = max([cap, Decimal(1)] + [r for r in rates if r is not None])
    top = min(top, cap)  # beyond the cap nothing counts; the bar shows it is clipped
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" {FONT}>',
    ]
    for step in range(0, int(top * 100) + 1, 25):
        y = _n(top_pad + plot_h - _scale(Decimal(step) / 100, top, plot_h))
        parts.append(f'<line x1="{left}" y1="{y}" x2="{width - 10}" y2="{y}" stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 4}" y="{y}" text-anchor="end" dy="4" fill="{TEXT}">{step}%</text>')
    # The 100 % line goes under the bars and their labels.
    hundred = _n(top_pad + plot_h - _scale(Decimal(1), top, plot_h))
    parts.append(
        f'<line x1="{left}" y1="{hundred}" x2="{width - 10}" y2="{hundred}" stroke="{TARGET_STROKE}" '
        'stroke-width="1.5" stroke-dasharray="4 3"/>'
    )
    slot = Decimal(plot_w) / max(len(categories), 1)
    for index, (label, rate) in enumerate(zip(categories, rates, strict=True)):
        x = Decimal(left) + slot * index + slot / 5
        bar_w = slot * 3 / 5
        if rate is not None:
            h = _scale(rate, top, plot_h)
            fill = OVER_FILL if rate >= 1 else BAR_FILL
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(top_pad + plot_h - h)}" width="{_n(bar_w)}" height="{_n(h)}" '
                f'fill="{fill}"><title>{escape(label)}: {escape(_percent(rate))}</title></rect>'
            )
            parts.append(
                f'<text x="{_n(x + bar_w / 2)}" y="{_n(top_pad + plot_h - h - 3)}" text-anchor="middle" '
                f'fill="{TEXT}">{escape(_percent(rate))}</text>'
            )
        parts.append(
            f'<text x="{_n(x + bar_w / 2)}" y="{height - bottom + 16}" text-anchor="middle" '
            f'fill="{TEXT}">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — built from numbers and escaped text only


def trend_chart(labels: Sequence[str], values: Sequence[Decimal], *, width: int = 560, height: int = 200) -> SafeString:
    """A line of values over ordered labels (e.g. a branch's total score per period)."""
    if len(labels) != len(values):
        raise ValueError("one value per label")
    left, bottom, top_pad = 40, 30, 14
    plot_w, plot_h = width - left - 20, height - bottom - top_pad
    top = max([Decimal(100), *values])
    top = Decimal(int((top + 24) // 25 * 25))  # round the axis up to a multiple of 25
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" {FONT}>']
    for step in range(0, int(top) + 1, 25):
        y = _n(top_pad + plot_h - _scale(Decimal(step), top, plot_h))
        parts.append(f'<line x1="{left}" y1="{y}" x2="{width - 20}" y2="{y}" stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 4}" y="{y}" text-anchor="end" dy="4" fill="{TEXT}">{step}</text>')
    step_x = Decimal(plot_w) / max(len(values) - 1, 1)
    points, marks = [], []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = Decimal(left) + (step_x * index if len(values) > 1 else Decimal(plot_w) / 2)
        y = top_pad + plot_h - _scale(value, top, plot_h)
        points.append(f"{_n(x)},{_n(y)}")
        marks.append(
            f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3.5" fill="{BAR_FILL}"><title>{escape(label)}: '
            f"{escape(str(value))}</title></circle>"
            f'<text x="{_n(x)}" y="{_n(y - 7)}" text-anchor="middle" fill="{TEXT}">{escape(str(value))}</text>'
            f'<text x="{_n(x)}" y="{height - 10}" text-anchor="middle" fill="{TEXT}">{escape(label)}</text>'
        )
    if len(points) > 1:
        # Drawn before the markers so that they sit on top of the line.
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{BAR_FILL}" stroke-width="2"/>')
    parts.extend(marks)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — built from numbers and escaped text only


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"
