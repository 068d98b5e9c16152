"""The PDF scorecard of a branch: a plain data object in, PDF bytes out (pure, no database).

:func:`performance.selectors.scorecard_document` builds the
:class:`ScorecardDocument` from a stored scorecard; :func:`scorecard_pdf_render`
lays it out with the product's PDF toolkit (``core.pdf``): an embedded CJK
font, a KPI table, a bar chart of achievement per KPI, a line chart of the
total score over the previous periods, the top partners and the ranking of all
branches. A printed document carries both languages whatever the reader's UI
language, so its labels are fixed Chinese/English pairs (like the page footer),
not translations. The same document always renders to the same bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Spacer

from core.pdf import (
    PageDecor,
    bar_chart,
    bilingual,
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

PRODUCT_NAME = "服务商管理中台 Partner management middle office"

# (Chinese, English) for each KPI code; the English matches performance.models.KPI.
KPI_LABELS: dict[str, tuple[str, str]] = {
    "partners_onboarded": ("新增服务商", "Partners onboarded"),
    "active_partners": ("活跃服务商", "Active partners"),
    "smes_reached": ("触达中小企业", "SMEs reached through partners"),
    "transaction_volume": ("交易规模", "Transaction volume"),
    "bank_revenue": ("渠道银行收入", "Bank revenue through partner channels"),
    "revenue_share_paid": ("已付分润", "Revenue share paid"),
}
MONEY_KPIS = frozenset({"transaction_volume", "bank_revenue", "revenue_share_paid"})
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


def scorecard_pdf_story(doc: ScorecardDocument) -> list:
    kind_zh, kind_en = PERIOD_KIND_LABELS[doc.period_kind]
    story: list = [
        paragraph(f"{doc.branch_name} 业绩记分卡", "title", bold=True),
        paragraph(f"Branch scorecard · {doc.branch_code} · {doc.period}（{kind_zh} {kind_en}）", "subtitle"),
        Spacer(1, 4 * mm),
        simple_table(
            [
                [
                    ("总分", "Total score"),
                    f"{doc.total_score:.2f}",
                    ("排名", "Rank"),
                    f"{doc.rank} / {doc.ranked_branches}",
                ],
                [
                    ("数据截至", "Figures as of"),
                    _beijing(doc.as_of),
                    ("计算时间", "Computed at"),
                    _beijing(doc.computed_at),
                ],
            ],
            col_widths=[30 * mm, 55 * mm, 30 * mm, 65 * mm],
            font_size=9,
        ),
        Spacer(1, 4 * mm),
        bilingual("指标达成", "KPIs against target", "heading", inline=True, bold=True),
    ]
    rows = [
        [
            f"{KPI_LABELS[line.kpi][0]}\n{KPI_LABELS[line.kpi][1]}",
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
                ("指标", "KPI"),
                ("目标", "Target"),
                ("实际", "Actual"),
                ("达成率", "Achievement"),
                ("权重", "Weight"),
                ("加权得分", "Weighted score"),
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
    story.append(
        bar_chart(
            [KPI_LABELS[line.kpi][0] for line in doc.lines],
            [[_percent_points(line.achievement_rate) for line in doc.lines]],
            series_names=["达成率 % Achievement %"],
            title="各指标达成率 Achievement per KPI (%)",
            height=52 * mm,
        )
    )
    if doc.trend:
        story.append(Spacer(1, 3 * mm))
        trend = line_chart(
            [point.period for point in doc.trend],
            [[point.total_score for point in doc.trend]],
            series_names=["总分 Total score"],
            title="总分趋势 Total score trend",
            height=45 * mm,
            value_format=lambda v: f"{v:,.0f}",
        )
        for shape in trend.contents:
            if isinstance(shape, HorizontalLineChart):
                # From zero, so that a few points' difference does not look like a collapse.
                shape.valueAxis.valueMin = 0
        story.append(trend)
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


def _percent_points(rate: Decimal | None) -> Decimal | None:
    # A zero target has no rate: the bar is left out rather than drawn at an invented height.
    return None if rate is None else (rate * 100).quantize(Decimal("0.01"))


def scorecard_pdf_render(doc: ScorecardDocument) -> bytes:
    """The scorecard as PDF bytes (A4, Chinese text in the embedded font)."""
    title = f"{doc.branch_name} 业绩记分卡 {doc.period}"
    decor = PageDecor(
        header_left=PRODUCT_NAME,
        header_right=f"分行业绩记分卡 Branch scorecard {doc.period}",
        footer_left=f"{doc.branch_code} · 数据截至 as of {_beijing(doc.as_of)}",
    )
    return render_pdf(scorecard_pdf_story(doc), title=title, subject="Branch scorecard", decor=decor)
