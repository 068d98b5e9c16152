"""The settlement statement: a plain data object in, PDF bytes out (pure, no database).

:func:`revenue.statements.selectors.statement_data` builds a
:class:`StatementData` from a closed settlement; :func:`statement_pdf_render`
lays it out with the product's PDF toolkit (``core.pdf``): the embedded CJK
font, literal text, the bank's header and "page x of y" on every page, and a
line table that repeats its header on every page in bounded memory.

Page 1 is what a finance team files: the summary (payable in figures and in
Chinese capitals, issue date, payment due date, dispute deadline), the
invoicing instructions, the issuing bank, and the verification link with its
QR code. The lines follow; the totals always share a page with the last lines.

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
from urllib.parse import urlencode

from reportlab.graphics.barcode.qr import QrCode
from reportlab.lib.colors import black
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Spacer, Table

from core.money_words import amount_in_capitals
from core.pdf import (
    FONT_NAME,
    FittedText,
    PageDecor,
    break_lines,
    canonical_json,
    draw_strings,
    format_count,
    format_money,
    format_percent,
    get_styles,
    long_table,
    render_pdf,
    simple_table,
    verification_code,
    verify_code,
)
from core.pdf.tables import H_PADDING
from core.pdf.text import MUTED
from core.periods import CHINA_TZ
from revenue.vocabulary import (
    ATTRIBUTED_TRANSACTIONS,
    CARRIED_IN,
    CARRIED_OUT,
    EVENTS,
    LINE_KINDS,
    REVERSALS,
    SETTLEMENT_STATES,
    TIER_NOTE,
    Note,
    Term,
    carried_out_note,
    line_notes,
)

# Separates statement codes from any other document's (core.pdf.verification).
CODE_PURPOSE = "settlement-statement"
# Bumped when the layout changes: stored statements keep the layout they were issued with.
LAYOUT_VERSION = 4
# Characters a statement with something payable prints whatever its data (its labels, and the capitals of
# amounts), in the order the layout first prints them. Given the first character codes of every statement, they
# fill its first font subset, which is then the same bytes in every statement: built once per process
# (core.pdf.fonts.prime). Longer than the 160 codes a first subset has room for.
PRIMER = (
    "开银行服务商结算单验证码·摘要基号限期间（–）费不含税增值应付金额元¥大写人民币仟分出具日款到争议截止统一社会信用代所属"
    "第账户本状态时已关北京票息发抬头购买方纳识别—内容率价合计请按以上向般专，与致；核对无误后于前。：扫描二维或访问的、明细"
    "序类型产品说交易笔数冲正收入润规则比例支其中作权重理归调整转页共零壹贰叁肆伍陆柒捌玖拾佰万亿角"
)

# The vocabulary's fixed pairs (revenue.vocabulary): the same words as the portal, the admin and the API.
KIND_LABELS: dict[str, Term] = LINE_KINDS
STATE_LABELS: dict[str, Term] = SETTLEMENT_STATES


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
    # Of transaction_count (whole attributions): the reversals, and the co-served ones with their weight.
    reversal_count: int = 0
    coserved_count: int = 0
    coserved_net_count: Decimal = Decimal(0)
    # What shaped the share (revenue.vocabulary.SHARE_LIMITS key or ""), the tier reached and its basis.
    share_limit: str = ""
    tier_reached: int | None = None
    tier_basis_figure: Decimal | None = None
    # The period the line refers to ("YYYY-MM"): the one an adjustment corrects, or a carried balance's.
    corrected_label: str = ""

    @property
    def event_count(self) -> int:
        return self.transaction_count - self.reversal_count

    @property
    def priced(self) -> bool:
        return self.kind in ("product", "adjustment")


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
    # Dates in Beijing time: issued on the close; payment due and dispute deadline counted from the issue.
    issued_on: dt.date
    payment_due_on: dt.date
    dispute_deadline: dt.date
    # The issuer (the bank) and what the partner's VAT invoice names, as head office set them at issue.
    bank_address: str
    bank_service_line: str
    invoice_title: str
    taxpayer_number: str
    invoice_content: str
    bank_footer: str
    # Why nothing is payable: the minimum payout in force, and the period a carried-forward net goes to.
    minimum_payout: Decimal
    next_period: str

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
    "coserved_net_count",
    "tier_basis_figure",
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
    "minimum_payout",
}
_DATE_FIELDS = {"period_first_day", "period_last_day", "issued_on", "payment_due_on", "dispute_deadline"}


def _from_fields(cls, data: dict, **extra):
    values = {}
    for field in dataclasses.fields(cls):
        if field.name in extra:
            values[field.name] = extra[field.name]
            continue
        if field.name not in data and field.default is not dataclasses.MISSING:
            continue  # a field later layouts added: its default
        value = data[field.name]
        if value is not None:
            if field.name in _DECIMAL_FIELDS:
                value = Decimal(value)
            elif field.name in _DATE_FIELDS:
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


def stored_code_matches(stored: bytes | str, code: str) -> bool:
    """Whether stored canonical data digests to ``code``, read as stored (so any earlier layout's data verifies)."""
    return verify_code(json.loads(stored), code, purpose=CODE_PURPOSE)


def verify_link(data: StatementData, code: str) -> str:
    """The verification page with the code filled in: printed on the statement, and what its QR code opens."""
    return f"{data.verify_url}?{urlencode({'code': code})}"


def nothing_payable_reason(data: StatementData) -> tuple[str, str] | None:
    """Why nothing is paid, in Chinese and English (None when something is)."""
    if data.payable > 0:
        return None
    net = format_money(data.net)
    if data.carried_forward and data.net < 0:
        return (
            f"本期服务费为负（{net} 元），不予支付，全额结转至 {data.next_period} 结算抵扣。",
            f"The service fee is negative ({net} CNY): nothing is paid; it is carried forward to the "
            f"{data.next_period} settlement and set against it.",
        )
    if data.carried_forward:
        minimum = format_money(data.minimum_payout)
        return (
            f"本期服务费 {net} 元低于最低支付额 {minimum} 元，不予支付，全额结转至 {data.next_period} 结算。",
            f"The service fee of {net} CNY is below the minimum payout of {minimum} CNY: nothing is paid; "
            f"{net} CNY is carried forward to the {data.next_period} settlement.",
        )
    return (
        "本期无服务费，不予支付，无需开具发票，亦无结转。",
        "Nothing was earned in the period: nothing is paid, no invoice is needed and nothing is carried forward.",
    )


def _beijing(moment: dt.datetime | None) -> str:
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _rate(rate: Decimal | None) -> str:
    return "—" if rate is None else format_percent(rate)


def _count(line: StatementLineData) -> str:
    # Co-served transactions count as their weight: print the fraction only when there is one.
    if line.net_count == line.net_count.to_integral_value():
        return format_count(int(line.net_count))
    return f"{line.net_count.normalize():,f}"


def _text(text: str, width: float, size: float = 8) -> str:
    """Literal text broken into lines for a cell ``width`` wide (never inside a number or a Latin word)."""
    return "\n".join(break_lines(text, width - 2 * H_PADDING, size))


def _amount(text: str, width: float, *, size: float = 8, align: str = "right", bold: bool = False):
    """An amount in its own cell, on one line: plain text when it fits, drawn smaller when it does not."""
    if not bold and stringWidth(text, FONT_NAME, size) <= width - 2 * H_PADDING:
        return text
    return FittedText(text, size=size, align=align, bold=bold)


class Label(Flowable):
    """A fixed bilingual label — Chinese, then English smaller and muted, beneath or beside — drawn straight on
    the canvas.

    Looks like ``core.pdf.bilingual`` at a fraction of the cost: no markup
    parsing, plain strings per draw. Each language is broken into lines of the
    width it is given (``core.pdf.break_lines``: never inside a number or an
    English word), so a label never runs into the next cell; the break is
    worked out once per width. The text is drawn literally (canvas strings are
    never markup).
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
        self._gap = stringWidth(" ", FONT_NAME, self.size) if en else 0
        self.natural = zh_width + self._gap + en_width if inline else max(zh_width, en_width)
        self._zh_width = zh_width
        self._layouts: dict[float, tuple[bool, tuple[str, ...], tuple[str, ...]]] = {}
        self._layout = self._lines(self.natural)
        self.width = self.natural
        self.height = self.leading * (len(self._layout[1]) + len(self._layout[2]))

    def fits(self, width: float) -> bool:
        return self.natural <= width

    def _lines(self, width: float) -> tuple[bool, tuple[str, ...], tuple[str, ...]]:
        """(on one line side by side, Chinese lines, English lines) for ``width``."""
        layout = self._layouts.get(width)
        if layout is None:
            if self.inline and self.natural <= width + 0.01:
                layout = (True, (self.zh,), ())
            else:
                zh = break_lines(self.zh, width, self.size) if self.zh else ()
                en = break_lines(self.en, width, self.en_size) if self.en else ()
                layout = (False, zh, en)
            self._layouts[width] = layout
        return layout

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = availWidth
        self._layout = self._lines(availWidth)
        one_line, zh, en = self._layout
        self.height = self.leading * (1 if one_line else len(zh) + len(en))
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
        # First baseline a font size below the top, as a paragraph places it. Each language is one text object.
        y = self.height - self.size - (self.leading - self.size) / 2
        one_line, zh_lines, en_lines = self._layout
        color = None if self.color == black else self.color
        if one_line:
            x = self._x(self.natural)
            items = [(x, y, self.zh, self.size, color, self.bold)]
            if self.en:
                items.append((x + self._zh_width + self._gap, y, self.en, self.en_size, MUTED, False))
            draw_strings(self.canv, items)
            return
        items = []
        for text in zh_lines:
            items.append((self._x(stringWidth(text, FONT_NAME, self.size)), y, text, self.size, color, self.bold))
            y -= self.leading
        for text in en_lines:
            items.append((self._x(stringWidth(text, FONT_NAME, self.en_size)), y, text, self.en_size, MUTED, False))
            y -= self.leading
        draw_strings(self.canv, items)


def text_line(text: str, style: str, *, bold: bool = False, align: str = "left") -> Label:
    """Literal text in a style: one line when it fits, else broken into lines of the frame's width."""
    return Label(text, "", style, inline=True, bold=bold, align=align)


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

LINE_HEADER = [
    ("序号", "No."),
    ("类型", "Kind"),
    ("产品 / 说明", "Product / note"),
    (EVENTS.zh, EVENTS.en),
    (REVERSALS.zh, REVERSALS.en),
    ("银行收入", "Bank revenue"),
    ("分润规则", "Rule applied"),
    ("比例", "Rate"),
    ("分润", "Share"),
]
LINE_WIDTHS = [8 * mm, 14 * mm, 31 * mm, 14 * mm, 14 * mm, 23 * mm, 41 * mm, 13 * mm, 22 * mm]
LINE_ALIGN = ["right", "left", "left", "right", "right", "right", "left", "right", "right"]
# The last lines that always share the totals' page.
LINES_WITH_TOTALS = 3
# Room the lines' heading needs below it (its header row and a few lines), else it starts the next page.
LINES_HEADING_ROOM = 45 * mm
NOTE_SIZE = 7
NOTE_EN_SIZE = 6.5


class Stack(Flowable):
    """Lines of literal text stacked in a cell — ``(text, size, muted)`` parts, each broken to the cell's width
    (``core.pdf.break_lines``: never inside a number or an English word), so nothing runs into the next cell.
    """

    def __init__(self, parts: tuple[tuple[str, float, bool], ...]) -> None:
        super().__init__()
        self.parts = parts
        self._lines: tuple = ()

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = availWidth
        self._lines = _stack_lines(self.parts, round(availWidth, 2))
        self.height = sum(size * 1.2 for _text, size, _muted in self._lines)
        return availWidth, self.height

    def draw(self) -> None:
        y = self.height
        items = []
        for text, size, muted in self._lines:
            y -= size * 1.2
            items.append((0, y + size * 0.22, text, size, MUTED if muted else None, False))
        draw_strings(self.canv, items)


def _stack_lines(parts: tuple[tuple[str, float, bool], ...], width: float) -> tuple:
    return tuple((line, size, muted) for text, size, muted in parts if text for line in break_lines(text, width, size))


def _note_parts(notes: list[Note | Term]) -> list[tuple[str, float, bool]]:
    parts = []
    for note in notes:
        parts += [(note.zh, NOTE_SIZE, False), (note.en, NOTE_EN_SIZE, True)]
    return parts


def _cell(head: str, notes: list[Note | Term], width: float):
    """A cell's text with the notes beneath it (plain text when there are none: the cheapest cell)."""
    if not notes:
        return _text(head, width)
    return Stack(((head, 8, False), *_note_parts(notes)))


def _line_row(line: StatementLineData) -> list:
    widths = LINE_WIDTHS
    priced = line.priced
    notes = line_notes(line)
    # The limit and the tier go with the rule; counts, corrections and balances with the product.
    rule_notes = [n for n in notes if isinstance(n, Term) or n.term is TIER_NOTE]
    other_notes = [n for n in notes if n not in rule_notes]
    if priced:
        product = f"{line.product_name}\n{line.product_code}"
    elif line.kind == "carry_forward" and other_notes:
        product, other_notes = other_notes[0].zh, [Term("", other_notes[0].en)]
    else:
        product = line.description or "—"
    kind = KIND_LABELS.get(line.kind, Term(line.kind, ""))
    return [
        str(line.position),
        _labels.get(kind.zh, kind.en, inline=False),
        _cell(product, other_notes, widths[2]),
        _amount(format_count(line.event_count), widths[3]) if priced else "",
        _amount(format_count(line.reversal_count), widths[4]) if priced else "",
        _amount(format_money(line.bank_revenue), widths[5]) if priced else "",
        _cell(line.rule, rule_notes, widths[6]) if priced or line.rule else "",
        _rate(line.rate) if priced else "",
        _amount(format_money(line.share), widths[8]),
    ]


SUMMARY_WIDTHS = [32 * mm, 58 * mm, 32 * mm, 58 * mm]
_SPAN_VALUE = ("SPAN", (1, 0), (3, 0))


def _grid(rows: list[list], spans: list[int]) -> Flowable:
    """A four-column key/value grid; rows listed in ``spans`` have one value across the three right columns."""
    style = [("SPAN", (1, row), (3, row)) for row in spans]
    style.append(("VALIGN", (0, 0), (-1, -1), "TOP"))
    return simple_table(rows, col_widths=SUMMARY_WIDTHS, font_size=9, extra_style=style)


def _pair(zh: str, en: str) -> Label:
    return _labels.get(zh, en, inline=False)


def _summary(data: StatementData) -> list:
    value, wide = SUMMARY_WIDTHS[1], sum(SUMMARY_WIDTHS[1:])
    reason = nothing_payable_reason(data)
    payable = _amount(format_money(data.payable, symbol="¥"), value, size=9, align="left", bold=True)
    rows: list[list] = [
        [_pair("服务商", "Partner"), _text(data.partner_name, wide, 9), "", ""],
        [
            _pair("结算期间", "Period"),
            _text(f"{data.period}（{data.period_first_day:%Y-%m-%d} – {data.period_last_day:%Y-%m-%d}）", value, 9),
            _pair("结算单号", "Statement no."),
            data.number,
        ],
    ]
    spans = [0]
    if reason is None:
        rows += [
            [
                _pair("服务费（不含税）", "Net share before VAT"),
                _amount(format_money(data.net), value, size=9, align="left"),
                _pair("增值税", f"VAT {format_percent(data.vat_rate)}"),
                _amount(format_money(data.vat), value, size=9, align="left"),
            ],
            [_pair("应付金额（元）", "Payable (CNY)"), payable, "", ""],
            [
                _pair("金额大写", "Payable in words"),
                _text(f"人民币{amount_in_capitals(data.payable)}", wide, 9),
                "",
                "",
            ],
            [
                _pair("出具日期", "Issue date"),
                f"{data.issued_on:%Y-%m-%d}",
                _pair("付款到期日", "Payment due"),
                f"{data.payment_due_on:%Y-%m-%d}",
            ],
            [_pair("争议截止日", "Dispute deadline"), f"{data.dispute_deadline:%Y-%m-%d}", "", ""],
        ]
        spans += [3, 4, 6]
    else:
        rows += [
            [
                _pair("服务费（不含税）", "Net share before VAT"),
                _amount(format_money(data.net), value, size=9, align="left"),
                _pair("应付金额（元）", "Payable (CNY)"),
                payable,
            ],
            [
                _pair("金额大写", "Payable in words"),
                _text(f"人民币{amount_in_capitals(data.payable)}", wide, 9),
                "",
                "",
            ],
            [_pair("不予支付", "Nothing payable"), _text(f"{reason[0]}\n{reason[1]}", wide, 9), "", ""],
            [
                _pair("出具日期", "Issue date"),
                f"{data.issued_on:%Y-%m-%d}",
                _pair("争议截止日", "Dispute deadline"),
                f"{data.dispute_deadline:%Y-%m-%d}",
            ],
        ]
        spans += [3, 4]
    return [_labels.get("结算摘要", "Summary", "heading", bold=True), _grid(rows, spans)]


def _details(data: StatementData) -> list:
    value, wide = SUMMARY_WIDTHS[1], sum(SUMMARY_WIDTHS[1:])
    state = STATE_LABELS.get(data.state, (data.state, data.state))
    account = f"{data.account_name}\n{data.account_bank} {data.account_no}".strip()
    rows = [
        [
            _pair("统一社会信用代码", "Credit code"),
            data.credit_code,
            _pair("所属分行", "Branch"),
            _text(data.branch_name, value, 9),
        ],
        [_pair("结算账户", "Settlement account"), _text(account, wide, 9), "", ""],
        [
            _pair("结算状态（出具时）", "State at issue"),
            _text(f"{state[0]} {state[1]}", value, 9),
            _pair("关账时间", "Closed at"),
            _text(f"{_beijing(data.closed_at)}（北京时间 Beijing time）", value, 9),
        ],
    ]
    return [Spacer(1, 2 * mm), _grid(rows, [1])]


def _invoicing(data: StatementData) -> list:
    if nothing_payable_reason(data) is not None:
        return []
    value, wide = SUMMARY_WIDTHS[1], sum(SUMMARY_WIDTHS[1:])
    rows = [
        [_pair("发票抬头（购买方）", "Invoice title (buyer)"), _text(data.invoice_title or "—", wide, 9), "", ""],
        [
            _pair("纳税人识别号", "Taxpayer number"),
            data.taxpayer_number or "—",
            _pair("开票内容", "Invoice content"),
            _text(data.invoice_content or "—", value, 9),
        ],
        [
            _pair("不含税金额", "Amount before VAT"),
            _amount(format_money(data.net), value, size=9, align="left"),
            _pair("税率 / 税额", "VAT rate / VAT"),
            _amount(f"{format_percent(data.vat_rate)} / {format_money(data.vat)}", value, size=9, align="left"),
        ],
        [
            _pair("价税合计", "Invoice total"),
            _amount(format_money(data.payable, symbol="¥"), value, size=9, align="left"),
            "",
            "",
        ],
    ]
    due = f"{data.payment_due_on:%Y-%m-%d}"
    return [
        _labels.get("开票信息", "Invoicing instructions", "heading", bold=True),
        _grid(rows, [0, 3]),
        Spacer(1, 1 * mm),
        text_line(
            "请按以上信息向本行开具增值税发票（一般纳税人开具专用发票），金额与本结算单一致；"
            f"本行核对无误后于 {due} 前付款。",
            "small",
        ),
        text_line(
            "Issue the VAT invoice (a special VAT invoice if you are a general taxpayer) to the bank with these "
            f"details and amounts; once it matches this statement to the fen, the bank pays by {due}.",
            "small",
        ),
    ]


def _issuer(data: StatementData) -> list:
    name = f"{data.bank_name} {data.bank_name_en}".strip()
    contact = "　".join(
        part
        for part in (
            f"地址 Address：{data.bank_address}" if data.bank_address else "",
            f"客服电话 Service line：{data.bank_service_line}" if data.bank_service_line else "",
        )
        if part
    )
    block: list = [Spacer(1, 3 * mm), text_line(f"出具方 Issued by：{name}", "cell", bold=True)]
    if contact:
        block.append(text_line(contact, "cell"))
    if data.bank_footer:
        block.append(text_line(data.bank_footer, "small"))
    return block


QR_SIZE = 24 * mm


class _QrCode(QrCode):
    """reportlab's QR flowable with one fixed mask pattern.

    The standard lets the encoder pick any of the eight masks (every reader
    reads each); reportlab tries all eight and scores them, which took a third
    of a statement's rendering time. The codes printed here are short URLs on
    white paper, which any mask serves.
    """

    MASK_PATTERN = 0

    def draw(self) -> None:
        qr = self.qr
        if qr.version is None:
            qr.version = qr.calculate_version()
        qr.makeImpl(False, self.MASK_PATTERN)
        qr.make = lambda: None  # already made: the parent's draw() only reads the modules
        super().draw()


def _qr(value: str, size: float = QR_SIZE) -> Flowable:
    # reportlab's QR flowable draws the modules straight on the canvas (its Drawing widget would bring in
    # the graphics renderer's default font, Helvetica, unembedded). Level M: readable when a copy is smudged.
    return _QrCode(value, width=size, height=size, qrLevel="M")


def _verification(data: StatementData, code: str) -> list:
    link = verify_link(data, code)
    text = [
        text_line(f"验证码 Verification code: {code}", "cell", bold=True),
        text_line(f"扫描二维码或访问 {link} 核验本结算单的服务商、结算期间与应付金额。", "small"),
        text_line(
            f"Scan the QR code or open {link} to check this statement's partner, period and payable amount.", "small"
        ),
    ]
    text_width = FRAME_WIDTH - QR_SIZE - 4 * mm
    # Plain reportlab tables: the toolkit's look would rule every row, and a box of a code needs no rules.
    padded = [
        ("FONTNAME", (0, 0), (-1, -1), FONT_NAME),
        ("LEFTPADDING", (0, 0), (-1, -1), H_PADDING),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
    ]
    stacked = Table([[line] for line in text], colWidths=[text_width - 2 * H_PADDING], style=padded, hAlign="LEFT")
    box = Table(
        [[_qr(link), stacked]],
        colWidths=[QR_SIZE + 4 * mm, text_width],
        style=[("VALIGN", (0, 0), (-1, -1), "MIDDLE"), *padded],
        hAlign="LEFT",
    )
    return [Spacer(1, 3 * mm), box]


def _totals(data: StatementData) -> list:
    label = _labels.get
    reason = nothing_payable_reason(data)
    reversals = sum(line.reversal_count for line in data.lines if line.priced)
    rows = [
        [label(ATTRIBUTED_TRANSACTIONS.zh, ATTRIBUTED_TRANSACTIONS.en), format_count(data.transaction_count)],
        [label(f"其中{EVENTS.zh}", f"of which {EVENTS.en.lower()}"), format_count(data.transaction_count - reversals)],
        [label(f"其中{REVERSALS.zh}", f"of which {REVERSALS.en.lower()}"), format_count(reversals)],
        [label("银行收入合计", "Bank revenue"), format_money(data.bank_revenue)],
        [label("产品分润合计", "Product shares"), format_money(data.share_total)],
        [label("调整合计", "Adjustments"), format_money(data.adjustment_total)],
        [label(CARRIED_IN.zh, CARRIED_IN.en), format_money(data.carried_in)],
        [label("服务费（不含税）", "Service fee before VAT"), format_money(data.net)],
    ]
    if reason is None:
        rows.append([label("增值税", f"VAT {format_percent(data.vat_rate)}"), format_money(data.vat)])
    elif data.carried_forward:
        rows.append([label(CARRIED_OUT.zh, f"{CARRIED_OUT.en} ({data.next_period})"), format_money(data.net)])
    rows.append(
        [
            label("应付金额（元）", "Payable (CNY)", bold=True),
            _amount(format_money(data.payable, symbol="¥"), 40 * mm, bold=True),
        ]
    )
    block = [
        Spacer(1, 5 * mm),
        label("合计", "Totals", "heading", bold=True),
        simple_table(rows, col_widths=[75 * mm, 40 * mm], align=["left", "right"], font_size=9),
    ]
    if reason is not None:
        block += [Spacer(1, 1 * mm), text_line(reason[0], "small"), text_line(reason[1], "small")]
        if data.carried_forward:
            note = carried_out_note(net=data.net, next_period=data.next_period)
            block += [text_line(note.zh, "small"), text_line(note.en, "small")]
    return block


def statement_pdf_story(data: StatementData, code: str) -> list:
    label = _labels.get
    story: list = [
        label("服务商结算单", "", "title", inline=False, bold=True),
        text_line(f"Partner settlement statement · {data.period} · {data.number}", "subtitle"),
        Spacer(1, 3 * mm),
        *_summary(data),
        *_details(data),
        *_invoicing(data),
        *_issuer(data),
        *_verification(data, code),
        Spacer(1, 2 * mm),
        # The lines' heading never ends a page without at least a few of its lines beneath.
        CondPageBreak(LINES_HEADING_ROOM),
    ]
    heading = label("结算明细", "Settlement lines", "heading", bold=True)
    totals = _totals(data)
    if data.lines:
        # The totals follow the table on its last page, with its last lines: never alone on a page. The heading
        # is kept with the table, so a short table that moves to the next page takes its heading along.
        table = long_table(
            [
                label(zh, en, "cell" if how == "left" else f"cell_{how}", inline=False, bold=True)
                for (zh, en), how in zip(LINE_HEADER, LINE_ALIGN, strict=True)
            ],
            (_line_row(line) for line in data.lines),
            col_widths=LINE_WIDTHS,
            align=LINE_ALIGN,
            tail=totals,
            tail_rows=LINES_WITH_TOTALS,
        )
        story.append(KeepTogether([heading, table]))
    else:
        none = text_line("本期无结算明细。 No settlement lines in the period.", "small")
        story.append(KeepTogether([heading, none, *totals]))
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
        author=f"{data.bank_name} {data.bank_name_en}".strip(),
        subject=f"Partner settlement statement {data.period} · {data.partner_name}",
        decor=decor,
        created=data.issued_on,
        primer=PRIMER,
    )
