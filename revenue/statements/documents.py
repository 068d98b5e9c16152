"""The settlement statement: a plain data object in, PDF bytes out (pure, no database).

:func:`revenue.statements.selectors.statement_data` builds a
:class:`StatementData` from a closed settlement; :func:`statement_pdf_render`
lays it out with the product's PDF toolkit (``core.pdf``): the embedded CJK
font, literal text, the bank's header and "page x of y" on every page, and a
line table that repeats its header on every page in bounded memory.

A printed statement carries both languages whatever the reader's UI language,
so its labels are fixed Chinese/English pairs, not translations. The data is
what the verification code digests (:func:`statement_code`) and what the
statement row stores: rendering the stored data again gives the stored PDF
byte for byte.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from dataclasses import dataclass
from decimal import Decimal

from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, KeepTogether, Spacer

from core.pdf import (
    FONT_NAME,
    PageDecor,
    canonical_json,
    draw_string,
    format_count,
    format_money,
    format_percent,
    get_styles,
    long_table,
    paragraph,
    render_pdf,
    simple_table,
    verification_code,
    verify_code,
)
from core.pdf.text import MUTED
from core.periods import CHINA_TZ

# Separates statement codes from any other document's (core.pdf.verification).
CODE_PURPOSE = "settlement-statement"
# Bumped when the layout changes: stored statements keep the layout they were issued with.
LAYOUT_VERSION = 1

KIND_LABELS: dict[str, tuple[str, str]] = {
    "product": ("产品", "Product"),
    "adjustment": ("调整", "Adjustment"),
    "carry_forward": ("结转", "Carried forward"),
    "dispute_resolution": ("争议处理", "Dispute resolution"),
}
STATE_LABELS: dict[str, tuple[str, str]] = {
    "draft": ("预提（未关账）", "Draft (accrued)"),
    "closed": ("已关账", "Closed"),
    "approved": ("已审批", "Approved"),
    "paid": ("已支付", "Paid"),
}


@dataclass(frozen=True)
class StatementLineData:
    """One printed line. ``corrects_period`` ("YYYY-MM") only on adjustments; ``rate`` a fraction."""

    position: int
    kind: str
    product_code: str
    product_name: str
    corrects_period: str | None
    transaction_count: int
    net_count: Decimal
    bank_revenue: Decimal
    rule: str
    rate: Decimal | None
    previous_share: Decimal | None
    share: Decimal
    description: str


@dataclass(frozen=True)
class StatementData:
    """Everything printed on a statement, as plain values (amounts in CNY at two places)."""

    layout: int
    number: str
    bank_name: str
    bank_name_en: str
    partner_name: str
    credit_code: str
    branch_name: str
    account_name: str
    account_bank: str
    account_no: str
    period: str
    period_first_day: dt.date
    period_last_day: dt.date
    state: str
    closed_at: dt.datetime | None
    transaction_count: int
    bank_revenue: Decimal
    share_total: Decimal
    adjustment_total: Decimal
    carried_in: Decimal
    net: Decimal
    vat_rate: Decimal
    vat: Decimal
    payable: Decimal
    carried_forward: bool
    verify_url: str
    lines: tuple[StatementLineData, ...]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def canonical(self) -> bytes:
        """The canonical JSON the code digests and the statement row stores."""
        return canonical_json(self.as_dict())

    @classmethod
    def from_json(cls, raw: bytes | str) -> StatementData:
        """Back from :meth:`canonical` (Decimals from their exact strings, dates and instants from ISO)."""
        data = json.loads(raw)
        lines = tuple(_from_fields(StatementLineData, line) for line in data.pop("lines"))
        return _from_fields(cls, data, lines=lines)


_DECIMAL_FIELDS = {
    "net_count",
    "bank_revenue",
    "rate",
    "previous_share",
    "share",
    "share_total",
    "adjustment_total",
    "carried_in",
    "net",
    "vat_rate",
    "vat",
    "payable",
}


def _from_fields(cls, data: dict, **extra):
    values = {}
    for field in dataclasses.fields(cls):
        if field.name in extra:
            values[field.name] = extra[field.name]
            continue
        value = data[field.name]
        if value is not None:
            if field.name in _DECIMAL_FIELDS:
                value = Decimal(value)
            elif field.name in ("period_first_day", "period_last_day"):
                value = dt.date.fromisoformat(value)
            elif field.name == "closed_at":
                value = dt.datetime.fromisoformat(value)
        values[field.name] = value
    return cls(**values)


def statement_code(data: StatementData) -> str:
    """The verification code printed on the statement: a keyed digest of its data."""
    return verification_code(data.as_dict(), purpose=CODE_PURPOSE)


def statement_code_matches(data: StatementData, code: str) -> bool:
    return verify_code(data.as_dict(), code, purpose=CODE_PURPOSE)


def _beijing(moment: dt.datetime | None) -> str:
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _rate(rate: Decimal | None) -> str:
    return "—" if rate is None else format_percent(rate)


def _count(line: StatementLineData) -> str:
    # Co-served transactions count as their weight: print the fraction only when there is one.
    if line.net_count == line.net_count.to_integral_value():
        return format_count(int(line.net_count))
    return f"{line.net_count.normalize():,f}"


def _label(pair: tuple[str, str]) -> str:
    return f"{pair[0]}\n{pair[1]}"


def _line_row(line: StatementLineData) -> list[str]:
    if line.kind in ("product", "adjustment"):
        product = f"{line.product_name}\n{line.product_code}"
    else:
        product = line.description or "—"
    return [
        str(line.position),
        _label(KIND_LABELS.get(line.kind, (line.kind, ""))),
        product,
        line.corrects_period or "",
        _count(line) if line.kind in ("product", "adjustment") else "",
        format_money(line.bank_revenue) if line.kind in ("product", "adjustment") else "",
        line.rule,
        _rate(line.rate) if line.kind in ("product", "adjustment") else "",
        format_money(line.share),
    ]


LINE_HEADER = [
    ("序号", "No."),
    ("类型", "Kind"),
    ("产品 / 说明", "Product / note"),
    ("更正期间", "Corrects"),
    ("笔数", "Count"),
    ("银行收入", "Bank revenue"),
    ("分润规则", "Rule applied"),
    ("比例", "Rate"),
    ("分润", "Share"),
]
LINE_WIDTHS = [9 * mm, 16 * mm, 30 * mm, 15 * mm, 15 * mm, 22 * mm, 40 * mm, 13 * mm, 20 * mm]
LINE_ALIGN = ["right", "left", "left", "center", "right", "right", "left", "right", "right"]


class Label(Flowable):
    """A fixed bilingual label — Chinese, then English smaller and muted, beneath or beside — drawn straight on
    the canvas.

    Looks like ``core.pdf.bilingual`` for labels that fit on their lines, at a
    fraction of the cost: no markup parsing, no line breaking, two plain
    strings per draw. The text is drawn literally (canvas strings are never markup).
    """

    def __init__(
        self, zh: str, en: str, style: str, *, inline: bool, bold: bool, align: str = "left", color=None
    ) -> None:
        super().__init__()
        st = get_styles()[style]
        # The style's colour (muted for small print and subtitles) unless one is given.
        self.color = color if color is not None else st.textColor
        self.zh, self.en, self.inline, self.bold = zh, en, inline, bold
        self.size, self.leading = st.fontSize, st.leading
        self.en_size = round(st.fontSize * 0.8, 1)
        self.align = {TA_CENTER: "center", TA_RIGHT: "right"}.get(st.alignment, align)
        self.space_before, self.space_after = st.spaceBefore, st.spaceAfter
        zh_width = stringWidth(zh, FONT_NAME, self.size)
        en_width = stringWidth(en, FONT_NAME, self.en_size) if en else 0
        gap = stringWidth(" ", FONT_NAME, self.size) if en else 0
        self.natural = zh_width + gap + en_width if inline else max(zh_width, en_width)
        self._zh_width = zh_width
        lines = 1 if inline or not en else 2
        self.height = self.leading * lines
        self.width = self.natural

    def fits(self, width: float) -> bool:
        return self.natural <= width

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = availWidth
        return availWidth, self.height

    def getSpaceBefore(self) -> float:
        return self.space_before

    def getSpaceAfter(self) -> float:
        return self.space_after

    def _x(self, text_width: float) -> float:
        if self.align == "right":
            return self.width - text_width
        if self.align == "center":
            return (self.width - text_width) / 2
        return 0.0

    def draw(self) -> None:
        canv = self.canv
        # First baseline a font size below the top, as a paragraph places it.
        top = self.height - self.size - (self.leading - self.size) / 2
        if self.inline or not self.en:
            x = self._x(self.natural)
            draw_string(canv, x, top, self.zh, size=self.size, bold=self.bold, color=self.color)
            if self.en:
                gap = stringWidth(" ", FONT_NAME, self.size)
                draw_string(canv, x + self._zh_width + gap, top, self.en, size=self.en_size, color=MUTED)
            return
        draw_string(canv, self._x(self._zh_width), top, self.zh, size=self.size, bold=self.bold, color=self.color)
        en_width = stringWidth(self.en, FONT_NAME, self.en_size)
        draw_string(canv, self._x(en_width), top - self.leading, self.en, size=self.en_size, color=MUTED)


def text_line(text: str, style: str, *, bold: bool = False, align: str = "left", width: float | None = None):
    """One line of literal text in a style; a wrapping paragraph instead when it is wider than ``width``."""
    line = Label(text, "", style, inline=True, bold=bold, align=align)
    if width is not None and not line.fits(width):
        return paragraph(text, style, bold=bold)
    return line


FRAME_WIDTH = 180 * mm


class _Labels(threading.local):
    """The statement's fixed labels, built once per thread and reused by every statement it draws."""

    def __init__(self) -> None:
        self.cache: dict[tuple, Label] = {}

    def get(
        self, zh: str, en: str, style: str = "cell", *, inline: bool = True, bold: bool = False, align: str = "left"
    ) -> Label:
        key = (zh, en, style, inline, bold, align)
        label = self.cache.get(key)
        if label is None:
            label = self.cache[key] = Label(zh, en, style, inline=inline, bold=bold, align=align)
        return label


_labels = _Labels()
VALUE_WIDTH = 138 * mm
_CELL_PADDING = 2 * 3  # the toolkit's horizontal cell padding, both sides


def _value(text: str, *, size: float = 9):
    """A value cell: plain text when each of its lines fits, a wrapping paragraph only when one does not."""
    room = VALUE_WIDTH - _CELL_PADDING
    if all(stringWidth(part, FONT_NAME, size) <= room for part in text.split("\n")):
        return text
    return paragraph(text, ParagraphStyle("value", parent=get_styles()["cell"], fontSize=size, leading=size * 1.25))


def statement_pdf_story(data: StatementData, code: str) -> list:
    state = STATE_LABELS.get(data.state, (data.state, data.state))
    label = _labels.get
    story: list = [
        label("服务商结算单", "", "title", inline=False, bold=True),
        text_line(f"Partner settlement statement · {data.period} · {data.number}", "subtitle", width=FRAME_WIDTH),
        Spacer(1, 4 * mm),
        simple_table(
            [
                [label("服务商", "Partner", inline=False), _value(data.partner_name)],
                [label("统一社会信用代码", "Credit code", inline=False), _value(data.credit_code)],
                [label("所属分行", "Branch", inline=False), _value(data.branch_name)],
                [
                    label("结算账户", "Settlement account", inline=False),
                    _value(f"{data.account_name}\n{data.account_bank} {data.account_no}".strip()),
                ],
                [
                    label("结算期间", "Period", inline=False),
                    f"{data.period}（{data.period_first_day:%Y-%m-%d} – {data.period_last_day:%Y-%m-%d}）",
                ],
                [label("结算状态（出具时）", "State at issue", inline=False), f"{state[0]} {state[1]}"],
                [label("关账时间", "Closed at", inline=False), f"{_beijing(data.closed_at)}（北京时间 Beijing time）"],
            ],
            col_widths=[42 * mm, VALUE_WIDTH],
            font_size=9,
        ),
        Spacer(1, 4 * mm),
        label("结算明细", "Settlement lines", "heading", bold=True),
    ]
    if data.lines:
        story.append(
            long_table(
                [
                    label(zh, en, "cell" if how == "left" else f"cell_{how}", inline=False, bold=True)
                    for (zh, en), how in zip(LINE_HEADER, LINE_ALIGN, strict=True)
                ],
                (_line_row(line) for line in data.lines),
                col_widths=LINE_WIDTHS,
                align=LINE_ALIGN,
                wrap_columns=[2, 6],
            )
        )
    else:
        story.append(paragraph("本期无结算明细。 No settlement lines in the period.", "small"))
    totals = [
        [label("归属交易笔数", "Attributed transactions"), format_count(data.transaction_count)],
        [label("银行收入合计", "Bank revenue"), format_money(data.bank_revenue)],
        [label("产品分润合计", "Product shares"), format_money(data.share_total)],
        [label("调整合计", "Adjustments"), format_money(data.adjustment_total)],
        [label("上期结转", "Carried in"), format_money(data.carried_in)],
        [label("服务费（不含税）", "Service fee before VAT"), format_money(data.net)],
        [label("增值税", f"VAT {format_percent(data.vat_rate)}"), format_money(data.vat)],
        [
            label("应付金额（元）", "Payable (CNY)", bold=True),
            text_line(format_money(data.payable, symbol="¥"), "cell_right", bold=True, align="right"),
        ],
    ]
    block = [
        Spacer(1, 5 * mm),
        label("合计", "Totals", "heading", bold=True),
        simple_table(totals, col_widths=[75 * mm, 40 * mm], align=["left", "right"], font_size=9),
    ]
    if data.carried_forward:
        block += [
            label("本期净额为负或低于最低支付额，不予支付，结转至下期结算。", "", "small"),
            label("The net is negative or below the minimum payout: it is not paid but carried forward.", "", "small"),
        ]
    # Literal lines (not one long paragraph): CJK line breaking would cost more than the rest of the page.
    block += [
        Spacer(1, 5 * mm),
        text_line(f"验证码 Verification code: {code}", "small", width=FRAME_WIDTH),
        text_line(
            f"本结算单可凭验证码在 {data.verify_url} 核验服务商、结算期间与应付金额。", "small", width=FRAME_WIDTH
        ),
        text_line(
            f"Check this statement's partner, period and payable amount with its code at {data.verify_url}.",
            "small",
            width=FRAME_WIDTH,
        ),
    ]
    # The totals and the code are kept together, never split from their heading across pages.
    story.append(KeepTogether(block))
    return story


def statement_pdf_render(data: StatementData, *, code: str | None = None) -> bytes:
    """The statement as PDF bytes (A4). The same data always renders to the same bytes."""
    code = code or statement_code(data)
    decor = PageDecor(
        header_left=f"{data.bank_name} {data.bank_name_en}".strip(),
        header_right=f"服务商结算单 Settlement statement {data.number}",
        footer_left=f"验证码 Verification code {code}",
    )
    return render_pdf(
        statement_pdf_story(data, code),
        title=f"服务商结算单 {data.period} {data.number}",
        author=data.bank_name,
        subject="Partner settlement statement",
        decor=decor,
    )
