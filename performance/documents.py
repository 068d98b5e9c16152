"""The PDF scorecard of a branch: a plain data object in, PDF bytes out (pure, no database).

:func:`performance.selectors.scorecard_document` builds the
:class:`ScorecardDocument` from a stored scorecard; :func:`scorecard_pdf_render`
lays it out with the product's PDF toolkit (``core.pdf``): an embedded CJK
font, a KPI table, a bar chart of achievement per KPI, a line chart of the
total score over the last twelve periods, the top partners and the ranking of
all branches, marked "内部资料 Internal" on every page. A printed document
carries both languages whatever the reader's UI language: its KPI names,
title and headings are the dashboard's own words (``performance.vocabulary``)
printed as Chinese/English pairs. The same document always renders to the
same bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Spacer

from core.pdf import (
    FONT_NAME,
    PageDecor,
    bar_chart,
    bilingual,
    draw_string,
    format_count,
    format_money,
    format_percent,
    line_chart,
    long_table,
    paragraph,
    render_pdf,
    simple_table,
)
from core.periods import CHINA_TZ
from performance import vocabulary as words
from performance.vocabulary import KPI, MONEY_KPIS

PRODUCT_NAME = "服务商管理中台 Partner management middle office"
MARKING = "内部资料 · INTERNAL"
MARKING_COLOUR = colors.HexColor("#C00000")
# How many periods the trend covers (performance.selectors.scorecard_document reads as many).
TREND_PERIODS = 12
# The branch's own row in the ranking table.
_HIGHLIGHT = colors.HexColor("#FFF2CC")
PERIOD_KIND_LABELS = {"month": ("月度", "Month"), "quarter": ("季度", "Quarter"), "year": ("年度", "Year")}


@dataclass(frozen=True)
class ScorecardLineData:
    kpi: str
    target: Decimal
    actual: Decimal
    weight: Decimal
    achievement_rate: Decimal | None
    weighted_score: Decimal


@dataclass(frozen=True)
class TrendPointData:
    period: str
    total_score: Decimal
    rank: int


@dataclass(frozen=True)
class TopPartnerData:
    position: int
    name: str
    credit_code: str
    volume: Decimal
    revenue: Decimal
    smes: int


@dataclass(frozen=True)
class RankingRowData:
    rank: int
    branch_code: str
    branch_name: str
    total_score: Decimal


@dataclass(frozen=True)
class ScorecardDocument:
    """Everything printed on a branch's scorecard, as plain values."""

    branch_code: str
    branch_name: str
    period: str
    period_kind: str
    as_of: dt.datetime
    computed_at: dt.datetime
    total_score: Decimal
    rank: int
    ranked_branches: int
    achievement_cap: Decimal
    lines: tuple[ScorecardLineData, ...]
    trend: tuple[TrendPointData, ...]
    top_partners: tuple[TopPartnerData, ...]
    ranking: tuple[RankingRowData, ...]
    author: str = ""


def format_kpi_value(kpi: str, value: Decimal) -> str:
    """Money KPIs with two decimals, counts as whole numbers."""
    if kpi in MONEY_KPIS:
        return format_money(value)
    if value == value.to_integral_value():
        return format_count(int(value))
    return f"{value:,}"


def format_rate(rate: Decimal | None) -> str:
    return "—" if rate is None else format_percent(rate)


def _beijing(moment: dt.datetime) -> str:
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def _pair(text) -> tuple[str, str]:
    return words.bilingual(text)


def _kpi_pair(kpi: str) -> tuple[str, str]:
    return words.bilingual(KPI(kpi).label)


def scorecard_title(doc: ScorecardDocument) -> tuple[str, str]:
    """The dashboard's title of the branch page, in Chinese and English."""
    values = {"branch": doc.branch_name, "period": doc.period}
    zh, en = _pair(words.SCORECARD_TITLE)
    return zh % values, en % values


def _rate_label(rate: Decimal | None) -> str:
    # As on the web chart: one decimal, the rate itself even where the bar is clipped at the cap.
    return "—" if rate is None else f"{(rate * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def _heading(text):
    zh, en = _pair(text)
    return bilingual(zh, en, "heading", inline=True, bold=True)


def scorecard_pdf_story(doc: ScorecardDocument) -> list:
    kind_zh, kind_en = PERIOD_KIND_LABELS[doc.period_kind]
    title_zh, title_en = scorecard_title(doc)
    story: list = [
        paragraph(title_zh, "title", bold=True),
        paragraph(f"{title_en} · {doc.branch_code}（{kind_zh} {kind_en}）", "subtitle"),
        Spacer(1, 4 * mm),
        simple_table(
            [
                [
                    _pair(words.TOTAL_SCORE),
                    f"{doc.total_score:.2f}",
                    _pair(words.RANK),
                    f"{doc.rank} / {doc.ranked_branches}",
                ],
                [
                    _pair(words.FIGURES_AS_OF),
                    _beijing(doc.as_of),
                    _pair(words.COMPUTED_AT),
                    _beijing(doc.computed_at),
                ],
            ],
            col_widths=[30 * mm, 55 * mm, 30 * mm, 65 * mm],
            font_size=9,
        ),
        Spacer(1, 4 * mm),
        _heading(words.KPIS_AGAINST_TARGET),
    ]
    rows = [
        [
            "\n".join(_kpi_pair(line.kpi)),
            format_kpi_value(line.kpi, line.target),
            format_kpi_value(line.kpi, line.actual),
            format_rate(line.achievement_rate),
            format_percent(line.weight),
            f"{line.weighted_score:.2f}",
        ]
        for line in doc.lines
    ]
    rows.append(
        [
            "合计 Total",
            "",
            "",
            "",
            format_percent(sum((ln.weight for ln in doc.lines), Decimal(0))),
            f"{doc.total_score:.2f}",
        ]
    )
    story.append(
        long_table(
            [
                _pair(words.KPI_TERM),
                _pair(words.TARGET),
                _pair(words.ACTUAL),
                _pair(words.ACHIEVEMENT),
                _pair(words.WEIGHT),
                _pair(words.WEIGHTED_SCORE),
            ],
            rows,
            col_widths=[58 * mm, 30 * mm, 30 * mm, 20 * mm, 17 * mm, 25 * mm],
            align=["left", "right", "right", "right", "right", "right"],
        )
    )
    story.append(
        paragraph(
            f"达成率 = 实际 ÷ 目标；计分时封顶 {format_percent(doc.achievement_cap, places=0)}。"
            f"加权得分 = 计分达成率 × 权重 × 100。 Achievement = actual ÷ target, capped at "
            f"{format_percent(doc.achievement_cap, places=0)} for the score; weighted score = "
            "achievement × weight × 100.",
            "small",
        )
    )
    story.append(Spacer(1, 3 * mm))
    story.append(_achievement_chart(doc))
    story.append(Spacer(1, 3 * mm))
    story.extend(_trend(doc))
    # A heading is never left alone at the foot of a page.
    story.append(CondPageBreak(30 * mm))
    story.append(bilingual("重点服务商", "Top partners by bank revenue", "heading", inline=True, bold=True))
    if doc.top_partners:
        story.append(
            long_table(
                [
                    ("#", "#"),
                    ("服务商", "Partner"),
                    ("统一社会信用代码", "Credit code"),
                    ("交易规模", "Volume"),
                    ("银行收入", "Bank revenue"),
                    ("中小企业", "SMEs"),
                ],
                [
                    [
                        str(p.position),
                        p.name,
                        p.credit_code,
                        format_money(p.volume),
                        format_money(p.revenue),
                        format_count(p.smes),
                    ]
                    for p in doc.top_partners
                ],
                col_widths=[8 * mm, 62 * mm, 38 * mm, 28 * mm, 26 * mm, 18 * mm],
                align=["right", "left", "left", "right", "right", "right"],
                wrap_columns=[1],
            )
        )
    else:
        story.append(paragraph("本期无归属交易。 No attributed transactions in the period.", "small"))
    story.append(CondPageBreak(30 * mm))
    story.append(bilingual("分行排名", "Ranking of all branches", "heading", inline=True, bold=True))
    story.append(
        long_table(
            [("排名", "Rank"), ("分行", "Branch"), ("代码", "Code"), ("总分", "Total score")],
            [[str(row.rank), row.branch_name, row.branch_code, f"{row.total_score:.2f}"] for row in doc.ranking],
            col_widths=[18 * mm, 80 * mm, 30 * mm, 30 * mm],
            align=["right", "left", "left", "right"],
            extra_style=[
                ("BACKGROUND", (0, i + 1), (-1, i + 1), _HIGHLIGHT)
                for i, row in enumerate(doc.ranking)
                if row.branch_code == doc.branch_code
            ],
        )
    )
    return story


def _achievement_chart(doc: ScorecardDocument):
    """The web chart's bars: achievement per KPI clipped at the cap, its value above each bar, a 100 % line."""
    cap_points = doc.achievement_cap * 100
    rates = [line.achievement_rate for line in doc.lines]
    top = max([Decimal(100)] + [min(r * 100, cap_points) for r in rates if r is not None])
    # A labelled gridline above the tallest bar, with room for its value label. A zero target has no rate:
    # its bar is left out rather than drawn at an invented height.
    top = ((top + 12) / 25).to_integral_value(rounding=ROUND_CEILING) * 25
    zh, en = _pair(words.ACHIEVEMENT_PER_KPI)
    return bar_chart(
        [_kpi_pair(line.kpi)[0] for line in doc.lines],
        [[None if r is None else min(r * 100, cap_points).quantize(Decimal("0.01")) for r in rates]],
        series_names=[f"{_pair(words.ACHIEVEMENT)[0]} {_pair(words.ACHIEVEMENT)[1]} %"],
        title=f"{zh} {en} (%)",
        height=58 * mm,
        value_labels=[[_rate_label(r) if r is not None else "" for r in rates]],
        value_max=top,
        value_step=25,
        value_format=lambda v: f"{v:,.0f}%",
        reference=Decimal(100),
        reference_label="100% 目标 target",
    )


def _trend(doc: ScorecardDocument) -> list:
    """The total score over the last twelve periods, or a note when too few are scored to draw a line."""
    zh, en = _pair(words.TOTAL_SCORE_TREND)
    scored = len(doc.trend)
    if scored < 2:
        return [
            _heading(words.TOTAL_SCORE_TREND),
            paragraph(
                f"近 {TREND_PERIODS} 期中仅 {scored} 期有记分卡，至少 2 期才绘制趋势。 "
                f"Only {scored} of the last {TREND_PERIODS} periods scored: a trend needs at least 2.",
                "small",
            ),
        ]
    chart = line_chart(
        [point.period for point in doc.trend],
        [[point.total_score for point in doc.trend]],
        series_names=[" ".join(_pair(words.TOTAL_SCORE))],
        title=f"{zh} {en}（近 {TREND_PERIODS} 期 last {TREND_PERIODS} periods）",
        height=50 * mm,
        value_format=lambda v: f"{v:,.0f}",
        point_labels=[[f"{point.total_score:.1f}" for point in doc.trend]],
    )
    highest = max(point.total_score for point in doc.trend)
    for shape in chart.contents:
        if isinstance(shape, HorizontalLineChart):
            # From zero, so that a few points' difference does not look like a collapse; room above the highest
            # point for its label.
            shape.valueAxis.valueMin = 0
            shape.valueAxis.valueMax = float(((highest * Decimal("1.15")) / 25).to_integral_value(ROUND_CEILING) * 25)
    flowables = [chart]
    if scored < TREND_PERIODS:
        flowables.append(
            paragraph(
                f"近 {TREND_PERIODS} 期中有 {scored} 期记分卡。 {scored} of the last {TREND_PERIODS} periods scored.",
                "small",
            )
        )
    return flowables


def _draw_marking(canv, doc) -> None:
    """ "内部资料 INTERNAL" in a red box at the top centre of every page, above the header."""
    width, height = doc.pagesize
    text = MARKING
    size = 9
    text_width = canv.stringWidth(text, FONT_NAME, size)
    x, y = width / 2, height - 9 * mm
    canv.saveState()
    canv.setStrokeColor(MARKING_COLOUR)
    canv.setLineWidth(0.8)
    canv.rect(x - text_width / 2 - 2 * mm, y - 1.6 * mm, text_width + 4 * mm, size + 1.6 * mm, stroke=1, fill=0)
    canv.restoreState()
    draw_string(canv, x, y, text, size=size, bold=True, align="center", color=MARKING_COLOUR)


def scorecard_pdf_render(doc: ScorecardDocument) -> bytes:
    """The scorecard as PDF bytes (A4, Chinese text in the embedded font)."""
    title_zh, title_en = scorecard_title(doc)
    decor = PageDecor(
        header_left=PRODUCT_NAME,
        header_right=f"{title_zh} {title_en}",
        footer_left=f"{doc.branch_code} · 数据截至 as of {_beijing(doc.as_of)} · 内部资料 Internal",
    )
    return render_pdf(
        scorecard_pdf_story(doc),
        title=f"{title_zh} {title_en}",
        author=doc.author or PRODUCT_NAME,
        subject="分行业绩记分卡（内部资料） Branch scorecard (internal)",
        decor=decor,
        on_page=_draw_marking,
    )
