"""Bar and line charts with Chinese labels, drawn with reportlab.graphics (vector, no images).

A chart returns a ``Drawing``, which is a Flowable: put it straight into a story.
Values may be ``Decimal`` or ``int``; they are converted to float only to place
marks on the page, never for arithmetic that is printed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from .fonts import FONT_NAME, register_fonts

PALETTE = [
    colors.HexColor("#2F5597"),
    colors.HexColor("#C55A11"),
    colors.HexColor("#548235"),
    colors.HexColor("#BF9000"),
    colors.HexColor("#7030A0"),
    colors.HexColor("#7F7F7F"),
]
Number = Decimal | int | None


def _thousands(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:,.2f}"


def _as_plot_values(series: Sequence[Sequence[Number]], ncats: int) -> list[tuple[float | None, ...]]:
    out = []
    for index, values in enumerate(series):
        if len(values) != ncats:
            raise ValueError(f"series {index} has {len(values)} values for {ncats} categories")
        row = []
        for value in values:
            if value is not None and (isinstance(value, (bool, float)) or not isinstance(value, (Decimal, int))):
                raise TypeError(f"chart values must be Decimal, int or None, not {type(value).__name__}")
            row.append(None if value is None else float(value))
        out.append(tuple(row))
    if not out:
        raise ValueError("a chart needs at least one series")
    return out


def _wrap(text: str, width: float, size: float = 7) -> str:
    """``text`` broken into lines no wider than ``width`` points: between words, or between CJK characters."""
    lines: list[str] = []
    current = ""
    for piece in re.findall(r"[\u2e80-\u9fff\uff00-\uffef]|[^\s\u2e80-\u9fff\uff00-\uffef]+\s*|\s+", text):
        if current and stringWidth(current + piece.rstrip(), FONT_NAME, size) > width:
            lines.append(current.rstrip())
            current = piece.lstrip()
        else:
            current += piece
    if current.strip():
        lines.append(current.rstrip())
    return "\n".join(lines) or text


def _frame(
    chart,
    categories: Sequence[str],
    series_names: Sequence[str],
    *,
    width: float,
    height: float,
    title: str,
    value_format: Callable[[float], str],
) -> Drawing:
    nseries = len(chart.data)
    if series_names and len(series_names) != nseries:
        raise ValueError(f"{len(series_names)} series names for {nseries} series")
    drawing = Drawing(width, height)
    # Otherwise the renderer selects Helvetica first, listing an unembedded font in the PDF.
    drawing.initialFontName = FONT_NAME
    # Top to bottom: title, legend, plot, category labels.
    top = height - (16 if title else 4)
    legend_top = top
    if series_names:
        top -= 14
    chart.x = 42
    chart.width = width - chart.x - 8
    # Names wider than their slot wrap onto more lines; with many categories they are tilted instead. Either way
    # they never print over one another, nor below the drawing.
    names = [str(c) for c in categories]
    slot = chart.width / max(len(names), 1)
    many = len(names) > 8
    if many:
        widest = max((stringWidth(name, FONT_NAME, 7) for name in names), default=0)
        label_h = min(widest * 0.58 + 8, 60)  # sin 35° of the longest name
    else:
        names = [_wrap(name, slot - 4) for name in names]
        label_h = 10 * max((name.count("\n") + 1 for name in names), default=1) + 4
    chart.y = label_h + 2
    chart.height = top - chart.y - 6
    chart.categoryAxis.categoryNames = names
    labels = chart.categoryAxis.labels
    labels.fontName = FONT_NAME
    labels.fontSize = 7
    if many:
        labels.angle = 35
        labels.boxAnchor = "ne"
        labels.dx = 2
        labels.dy = -2
    else:
        labels.boxAnchor = "n"
        labels.dy = -3
        labels.leading = 9
        labels.textAnchor = "middle"
    chart.valueAxis.labels.fontName = FONT_NAME
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = value_format
    chart.valueAxis.gridStrokeColor = colors.HexColor("#DDDDDD")
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.rangeRound = "ceiling"  # the tallest bar ends under a labelled gridline
    drawing.add(chart)
    if title:
        drawing.add(String(width / 2, height - 11, title, fontName=FONT_NAME, fontSize=9.5, textAnchor="middle"))
    if series_names:
        legend = Legend()
        legend.fontName = FONT_NAME
        legend.fontSize = 7
        legend.alignment = "right"
        legend.boxAnchor = "nw"
        legend.x = chart.x
        legend.y = legend_top
        legend.columnMaximum = 1
        legend.dx = legend.dy = 6
        legend.dxTextSpace = 4
        legend.deltax = max(60, max(len(str(name)) for name in series_names) * 7 + 20)
        legend.colorNamePairs = [(PALETTE[i % len(PALETTE)], str(name)) for i, name in enumerate(series_names)]
        drawing.add(legend)
    return drawing


def bar_chart(
    categories: Sequence[str],
    series: Sequence[Sequence[Number]],
    *,
    series_names: Sequence[str] = (),
    width: float = 170 * mm,
    height: float = 70 * mm,
    title: str = "",
    value_format: Callable[[float], str] = _thousands,
    value_labels: Sequence[Sequence[str]] | bool = False,
    value_max: Number = None,
    value_step: Number = None,
    reference: Number = None,
    reference_label: str = "",
) -> Drawing:
    """Grouped vertical bars: one group per category, one bar per series (e.g. target vs actual per KPI).

    ``value_labels``: True prints each bar's value (``value_format``) above it;
    a list of lists prints those texts instead (e.g. the unclipped rate of a bar
    clipped at ``value_max``). ``reference`` draws a dashed line across the
    plot at that value (e.g. 100 %), labelled ``reference_label``. ``value_max`` and ``value_step`` fix the value axis.
    """
    register_fonts()
    chart = VerticalBarChart()
    chart.data = _as_plot_values(series, len(categories))
    for index in range(len(chart.data)):
        chart.bars[index].fillColor = PALETTE[index % len(PALETTE)]
        chart.bars[index].strokeColor = None
    chart.barSpacing = 1
    chart.groupSpacing = 6
    values = [v for row in chart.data for v in row if v is not None]
    if values and min(values) >= 0:
        chart.valueAxis.valueMin = 0
    if value_max is not None:
        chart.valueAxis.valueMax = float(value_max)
    if value_step is not None:
        chart.valueAxis.valueStep = float(value_step)
    if value_labels:
        if value_labels is True:
            chart.barLabelFormat = value_format
        else:
            if [len(row) for row in value_labels] != [len(row) for row in chart.data]:
                raise ValueError("one value label per bar")
            chart.barLabelFormat = "values"
            chart.barLabelArray = [[str(text) for text in row] for row in value_labels]
        chart.barLabels.fontName = FONT_NAME
        chart.barLabels.fontSize = 7
        chart.barLabels.boxAnchor = "s"
        chart.barLabels.nudge = 2
        # On white, so that a label standing on a reference line stays legible.
        chart.barLabels.boxFillColor = colors.white
        chart.barLabels.leftPadding = chart.barLabels.rightPadding = 1
    drawing = _frame(
        chart, categories, series_names, width=width, height=height, title=title, value_format=value_format
    )
    if reference is not None:
        _reference_line(drawing, chart, float(reference), reference_label)
    return drawing


def _reference_line(drawing: Drawing, chart, value: float, label: str) -> None:
    """A dashed line at ``value`` across the plot, under the bars and their value labels (as on the web chart).

    The gridlines are drawn here too, under it, rather than by the chart over it: one of them may fall at ``value``.
    """
    # The axis as the chart will lay it out when drawn: placed, then scaled to the data.
    chart.valueAxis.setPosition(chart.x, chart.y, chart.height)
    chart.valueAxis.configure(chart.data)
    y = chart.valueAxis.scale(value)
    if not chart.y <= y <= chart.y + chart.height:
        return
    under = []
    for tick in chart.valueAxis._tickValues:
        at = chart.valueAxis.scale(tick)
        under.append(Line(chart.x, at, chart.x + chart.width, at, strokeColor=chart.valueAxis.gridStrokeColor))
    chart.valueAxis.visibleGrid = False
    colour = colors.HexColor("#C00000")
    under.append(Line(chart.x, y, chart.x + chart.width, y, strokeColor=colour, strokeWidth=1, strokeDashArray=[4, 3]))
    position = drawing.contents.index(chart)
    drawing.contents[position:position] = under
    if label:
        # At the right end, above the line, where it leaves the plot.
        drawing.add(
            String(
                chart.x + chart.width,
                y + 2,
                label,
                fontName=FONT_NAME,
                fontSize=6.5,
                textAnchor="end",
                fillColor=colour,
            )
        )


def line_chart(
    categories: Sequence[str],
    series: Sequence[Sequence[Number]],
    *,
    series_names: Sequence[str] = (),
    width: float = 170 * mm,
    height: float = 60 * mm,
    title: str = "",
    value_format: Callable[[float], str] = _thousands,
    point_labels: Sequence[Sequence[str]] = (),
) -> Drawing:
    """Lines over ordered categories (e.g. a KPI over the last twelve months); ``None`` leaves a gap.

    ``point_labels``: a text printed above each point, one list per series.
    """
    register_fonts()
    chart = HorizontalLineChart()
    chart.data = _as_plot_values(series, len(categories))
    if point_labels:
        if [len(row) for row in point_labels] != [len(row) for row in chart.data]:
            raise ValueError("one label per point")
        chart.lineLabelFormat = "values"
        chart.lineLabelArray = [[str(text) for text in row] for row in point_labels]
        chart.lineLabels.fontName = FONT_NAME
        chart.lineLabels.fontSize = 6.5
        chart.lineLabels.boxAnchor = "s"
        chart.lineLabels.dy = 3
    chart.joinedLines = 1
    for index in range(len(chart.data)):
        colour = PALETTE[index % len(PALETTE)]
        chart.lines[index].strokeColor = colour
        chart.lines[index].strokeWidth = 1.5
        chart.lines[index].symbol = makeMarker("FilledCircle", size=3, fillColor=colour, strokeColor=colour)
    return _frame(chart, categories, series_names, width=width, height=height, title=title, value_format=value_format)
