"""The statement document (pure): text that comes back out of the PDF, pages, literal markup, codes, determinism."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import tracemalloc
from decimal import Decimal

import pytest
from pypdf import PdfReader

from core.periods import CHINA_TZ
from revenue.statements.documents import (
    StatementData,
    StatementLineData,
    statement_code,
    statement_code_matches,
    statement_pdf_render,
)
from tests.revenue.statements.pdftext import pdf_fonts, pdf_text

D = Decimal


def line(position: int, **overrides) -> StatementLineData:
    values = dict(
        position=position,
        kind="product",
        product_code="PAY_SETTLE",
        product_name="支付结算",
        corrects_period=None,
        transaction_count=120,
        net_count=D("120.000000"),
        bank_revenue=D("1000.00"),
        rule="按银行收入的 30.00% · 30.00% of bank revenue",
        rate=D("0.30000000"),
        previous_share=None,
        share=D("300.00"),
        description="",
    )
    values.update(overrides)
    values.setdefault("corrected_label", values["corrects_period"] or "")
    return StatementLineData(**values)


def statement(lines=None, **overrides) -> StatementData:
    values = dict(
        layout=2,
        number="ST-202610-000007",
        bank_name="开放联盟银行",
        bank_name_en="Open Alliance Bank",
        partner_name="深圳云账房科技有限公司",
        credit_code="91440300192185379H",
        branch_name="深圳分行",
        account_name="深圳云账房科技有限公司",
        account_bank="本行",
        account_no="6222 **** 0001",
        period="2026-10",
        period_first_day=dt.date(2026, 10, 1),
        period_last_day=dt.date(2026, 10, 31),
        state="closed",
        closed_at=dt.datetime(2026, 11, 1, 2, 0, tzinfo=CHINA_TZ),
        transaction_count=126,
        bank_revenue=D("3460.00"),
        share_total=D("800.00"),
        adjustment_total=D("-12.00"),
        carried_in=D("0.00"),
        net=D("788.00"),
        vat_rate=D("0.0600"),
        vat=D("47.28"),
        payable=D("835.28"),
        carried_forward=False,
        verify_url="https://partners.bank.example/verify/",
        lines=tuple(
            lines
            if lines is not None
            else [
                line(1),
                line(
                    2, product_code="SCF_LOAN", product_name="供应链贷款", bank_revenue=D("2500.00"), share=D("500.00")
                ),
                line(3, kind="adjustment", corrects_period="2026-09", bank_revenue=D("-40.00"), share=D("-12.00")),
            ]
        ),
    )
    values.update(
        issued_on=dt.date(2026, 11, 1),
        payment_due_on=dt.date(2026, 12, 1),
        dispute_deadline=dt.date(2026, 12, 31),
        bank_address="上海市浦东新区世纪大道 100 号",
        bank_service_line="95588-8",
        invoice_title="开放联盟银行股份有限公司",
        taxpayer_number="91310000MA1K000000",
        invoice_content="*信息技术服务*技术服务费",
        bank_footer="本结算单由系统生成，经验证码核验有效。",
        minimum_payout=D("100.00"),
        next_period="2026-11",
    )
    values.update(overrides)
    return StatementData(**values)


def page_texts(pdf: bytes) -> list[str]:
    # pdftotext ends every page with a form feed.
    return pdf_text(pdf).split("\f")[:-1]


def test_the_statement_reads_back_with_every_figure():
    data = statement()
    text = pdf_text(statement_pdf_render(data))
    for expected in [
        "服务商结算单",
        "Partner settlement statement",
        "开放联盟银行",
        "深圳云账房科技有限公司",
        "91440300192185379H",
        "深圳分行",
        "6222 **** 0001",
        "2026-10",
        "已关账",
        "支付结算",
        "供应链贷款",
        "2026-09",  # the period the adjustment corrects
        "1,000.00",
        "2,500.00",
        "30.00%",
        "-12.00",
        "788.00",
        "47.28",
        "¥835.28",
        "应付金额",
        "Payable (CNY)",
        "第 1 页 / 共 2 页",
        "Page 2 of 2",
        statement_code(data),
    ]:
        assert expected in text, expected


def test_the_font_is_embedded_and_no_base_font_is_referenced():
    pdf = statement_pdf_render(statement())
    rows = pdf_fonts(pdf)
    assert rows
    for row in rows:
        assert "WenQuanYiMicroHei" in row and " yes " in row, row  # an embedded subset of the bundled font
    assert b"Helvetica" not in pdf


def test_partner_text_is_printed_literally_never_as_markup():
    name = '<font size="40" color="red">大</font> & <img src="https://evil.example/x.png"/> &amp;'
    data = statement(partner_name=name, lines=[line(1, product_name="<b>粗体</b>", rule="<para>x</para>")])
    pdf = statement_pdf_render(data)
    text = pdf_text(pdf)
    assert name in text.replace("\n", "")
    assert "<b>粗体</b>" in text
    assert "<para>x</para>" in text
    # Nothing was fetched or embedded for the <img> tag: no image object at all.
    assert b"/Subtype /Image" not in pdf
    assert all("/XObject" not in (page.get("/Resources") or {}) for page in PdfReader(io.BytesIO(pdf)).pages)


def test_rendering_is_deterministic():
    assert statement_pdf_render(statement()) == statement_pdf_render(statement())


def test_long_statements_paginate_with_the_header_on_every_page():
    lines = [line(n, share=D("1.00"), product_name=f"产品{n}") for n in range(1, 2001)]
    pdf = statement_pdf_render(statement(lines=lines))
    pages = page_texts(pdf)
    total = len(pages)
    assert total > 20
    for number, text in enumerate(pages, start=1):
        assert f"第 {number} 页 / 共 {total} 页" in text
        assert "服务商结算单 Settlement statement ST-202610-000007" in text  # the page header
    for text in pages[1:-1]:
        # The lines table's header row repeats on each page the table spans (page 1 is the summary).
        assert "分润规则" in text and "Rule applied" in text
    every_line = "".join(pages)
    assert "产品1\n" in every_line and "产品2000" in every_line
    assert re.search(r"验证码 Verification code \w{4}-", pages[-1])


def test_memory_stays_bounded_as_statements_grow():
    """Peak memory grows with the lines' data only, not with pages laid out (no whole-table layout)."""

    def peak(count: int) -> int:
        lines = [line(n, share=D("1.00")) for n in range(1, count + 1)]
        data = statement(lines=lines)
        tracemalloc.start()
        statement_pdf_render(data)
        result = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return result

    small, large = peak(100), peak(600)
    # About 6 KiB per line here (the page drawings held for "page x of y", the PDF being written): linear,
    # never the whole table's layout (reportlab's own Table would hold every styled cell and re-split it
    # on every page).
    assert (large - small) / 500 < 16 * 2**10
    assert large < 32 * 2**20


def test_code_round_trip_and_tampering():
    data = statement()
    code = statement_code(data)
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code)
    assert statement_code_matches(data, code)
    assert statement_code_matches(data, code.lower().replace("-", " "))  # as a person types it
    for tampered in [
        dataclasses.replace(data, payable=D("835.29")),
        dataclasses.replace(data, partner_name="深圳云账房科技有限公司 "),
        dataclasses.replace(data, lines=data.lines[:2]),
        dataclasses.replace(data, lines=(dataclasses.replace(data.lines[0], share=D("301.00")), *data.lines[1:])),
    ]:
        assert not statement_code_matches(tampered, code)
        assert statement_code(tampered) != code


def test_code_depends_on_the_secret_key(settings):
    data = statement()
    code = statement_code(data)
    settings.SECRET_KEY = "another-key-entirely-another-key-entirely-0123456789"
    assert statement_code(data) != code
    assert not statement_code_matches(data, code)


def test_stored_data_round_trips_exactly():
    data = statement(carried_forward=True, lines=[line(1, rate=None, previous_share=D("3.10"), kind="carry_forward")])
    again = StatementData.from_json(data.canonical())
    assert again == data
    assert statement_pdf_render(again) == statement_pdf_render(data)


def test_a_carried_forward_statement_says_so():
    data = statement(net=D("-5.00"), vat=D("0.00"), payable=D("0.00"), carried_forward=True)
    text = pdf_text(statement_pdf_render(data))
    assert "结转至下期" in text and "carried forward" in text.replace("\n", " ")


@pytest.mark.parametrize("state", ["closed", "approved", "paid"])
def test_the_state_at_issue_is_printed(state):
    labels = {"closed": "已关账 Closed", "approved": "已审批 Approved", "paid": "已支付 Paid"}
    assert labels[state] in pdf_text(statement_pdf_render(statement(state=state)))


def test_a_paragraph_pushed_whole_to_the_next_page_is_laid_out_again():
    """Room for one line of a three-line paragraph: it does not split (no orphans) and moves on whole."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

    from core.pdf import paragraph, render_pdf

    frame_height = A4[1] - 20 * mm - 18 * mm - 2 * 6  # render_pdf's margins, the frame's own padding
    story = [Spacer(1, frame_height - 1.5 * 12.5), paragraph("第一行\n第二行\n第三行")]
    text = pdf_text(render_pdf(story, title="t"))
    assert "第一行" in text.split("\f")[1]


def test_every_length_renders_wherever_the_page_breaks_fall():
    """Blocks pushed to the next page whole (no room to split them) are laid out again there."""
    for count in range(1, 61):
        lines = [
            line(n, rule="按银行收入的 30.00% · 30.00% of bank revenue " * (n % 3 + 1)) for n in range(1, count + 1)
        ]
        pdf = statement_pdf_render(statement(lines=lines))
        assert pdf_text(pdf).count("验证码 Verification code:") == 1, count
