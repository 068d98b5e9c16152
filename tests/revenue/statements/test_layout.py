"""The statement as a reader's tools see it: page 1's summary, nothing printed over anything, numbers whole.

Three statements: 8 lines, 60 lines, and one with nothing payable. Read back
with poppler (``pdftotext -layout`` and ``-bbox``) and the QR code decoded
from the rendered page with zxing-cpp.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pypdf
import pytest
import zxingcpp
from PIL import Image

from core.money_words import amount_in_capitals
from revenue.statements.documents import LINES_WITH_TOTALS, statement_code, statement_pdf_render, verify_link
from tests.revenue.statements.pdftext import pdf_page_png, pdf_text, pdf_words
from tests.revenue.statements.test_documents import line, statement

D = Decimal
TIERED = "按银行收入阶梯：100,000.00 元以下 30.00%，以上 25.00% · tiered: 30.00% up to 100,000.00, 25.00% above"
# An amount or a rate as printed: thousands separated, two places.
AMOUNT = re.compile(r"-?¥?\d{1,3}(,\d{3})*\.\d{2}%?")
NUMBER_LIKE = re.compile(r"(?<![\w.,])-?¥?[\d,]*\d\.\d+%?")


def lines(count: int):
    made = [line(n, rule=TIERED, bank_revenue=D("123456.78"), share=D("37037.03")) for n in range(1, count + 1)]
    # The carried-in line, with its Chinese and English description.
    made[1] = line(
        2, kind="carry_forward", description="", rate=None, rule="", corrected_label="2026-08", share=D("-12.34")
    )
    # Lines with notes under their product and rule: co-served events, a tier, a cap, a correction.
    for n in range(3, count + 1, 4):
        made[n - 1] = line(
            n,
            rule=TIERED,
            bank_revenue=D("123456.78"),
            share=D("30000.00"),
            reversal_count=7,
            coserved_count=12,
            coserved_net_count=D("6.6"),
            share_limit="cap",
            tier_reached=2,
            tier_basis_figure=D("1234567.89"),
        )
    made[2] = line(
        3,
        kind="adjustment",
        corrects_period="2026-09",
        bank_revenue=D("812.40"),
        previous_share=D("2915.79"),
        share=D("203.09"),
        share_limit="revenue",
    )
    return made


CASES = {
    "8 lines": dict(lines=lines(8)),
    "60 lines": dict(lines=lines(60)),
    "nothing payable": dict(lines=lines(3), net=D("50.00"), vat=D("0.00"), payable=D("0.00"), carried_forward=True),
}


@pytest.fixture(scope="module", params=list(CASES))
def rendered(request):
    data = statement(**CASES[request.param])
    pdf = statement_pdf_render(data)
    return request.param, data, pdf


def pages_of(pdf: bytes) -> list[str]:
    return pdf_text(pdf, layout=True).split("\f")[:-1]


def test_page_one_carries_the_summary(rendered):
    name, data, pdf = rendered
    first = pages_of(pdf)[0]
    for expected in [
        "结算摘要",
        data.partner_name,
        data.number,
        "2026-10",
        "服务费（不含税）",
        "应付金额",
        f"人民币{amount_in_capitals(data.payable)}",
        "出具日期",
        "2026-11-01",
        "争议截止日",
        "2026-12-31",
        "出具方 Issued by：开放联盟银行 Open Alliance Bank",
        "95588-8",
        data.bank_footer,
        verify_link(data, statement_code(data)),
    ]:
        assert expected in first, (name, expected)
    if name == "nothing payable":
        assert "增值税" not in pdf_text(pdf)  # no "VAT 6.00% … 0.00" for nothing
        assert "付款到期日" not in first and "开票信息" not in first
        assert "低于最低支付额 100.00 元" in first and "结转至 2026-11" in first
        assert "50.00 CNY is carried forward to the 2026-11 settlement" in " ".join(first.split())
    else:
        for expected in ["增值税", "付款到期日", "2026-12-01", "开票信息", "开放联盟银行股份有限公司",
                         "91310000MA1K000000", "*信息技术服务*技术服务费", "¥835.28"]:  # fmt: skip
            assert expected in first, (name, expected)


def test_the_verification_link_is_absolute(rendered):
    _name, data, pdf = rendered
    link = f"https://partners.bank.example/verify/?code={statement_code(data)}"
    assert verify_link(data, statement_code(data)) == link
    assert link in pdf_text(pdf, layout=True)


def test_no_word_is_printed_over_another(rendered):
    name, _data, pdf = rendered
    for page in pdf_words(pdf):
        ordered = sorted(page, key=lambda w: w.x_min)
        for i, word in enumerate(ordered):
            for other in ordered[i + 1 :]:
                if other.x_min >= word.x_max:
                    break
                assert not word.overlaps(other), (name, word, other)


def test_the_carried_in_line_keeps_its_languages_apart(rendered):
    _name, _data, pdf = rendered
    text = pdf_text(pdf, layout=True)
    # Named as the totals name it, with its period and amount, each language on lines of its own.
    assert "上期结转：2026-08 未" in text and "Carried in: the unpaid net" in text and "-12.34" in text
    assert text.count("上期结转") >= 2 and text.count("Carried in") >= 2  # the line's kind and the totals' row


def test_numbers_are_never_split(rendered):
    name, data, pdf = rendered
    text = pdf_text(pdf, layout=True)
    weights = {f"{line.coserved_net_count.normalize():f}" for line in data.lines if line.coserved_count}
    for row in text.splitlines():
        # an amount cut at a comma (a whole amount followed by a comma, "3,118.88,", is punctuation)
        assert not re.search(r"(?<!\.\d)\d,\s*$", row), (name, row)
        assert not re.search(r"(^|[^\d-])[\d,]+\.\s*$", row), (name, row)  # or at its decimal point (not a date)
        for number in NUMBER_LIKE.findall(row):
            # A co-served weight ("按权重计 6.6") is a count, not an amount: printed whole too.
            assert AMOUNT.fullmatch(number) or number in weights, (name, number, row)
    # Every rule text's amounts came out whole, and the notes' figures.
    assert text.count("100,000.00") == 2 * sum(1 for line in data.lines if line.rule == TIERED)
    assert text.count("1,234,567.89") == 2 * sum(1 for line in data.lines if line.tier_reached)
    assert "3,118.88" in text and "2,915.79" in text


def test_page_count_header_rows_and_totals_with_the_last_lines(rendered):
    name, data, pdf = rendered
    pages = pages_of(pdf)
    assert len(pages) <= {"8 lines": 2, "60 lines": 8, "nothing payable": 2}[name]
    with_lines = [page for page in pages if re.search(r"^\s*\d+\s+(产品|上期结转|以往期间)", page, re.M)]
    assert with_lines
    for page in with_lines:
        assert "分润规则" in page and "Rule applied" in page  # the header row on every page of lines
    last = pages[-1]
    assert "合计" in last and "Totals" in last
    last_numbers = [str(n) for n in range(len(data.lines) - LINES_WITH_TOTALS + 1, len(data.lines) + 1)]
    for number in last_numbers:
        assert re.search(rf"^\s*{number}\s+\S", last, re.M), (name, number)


def test_the_qr_code_opens_the_verification_page(rendered, tmp_path):
    _name, data, pdf = rendered
    png = pdf_page_png(pdf, 1, tmp_path)
    codes = zxingcpp.read_barcodes(Image.open(png))
    assert [code.text for code in codes] == [verify_link(data, statement_code(data))]


def test_metadata_and_determinism(rendered):
    _name, data, pdf = rendered
    import io

    from pypdf import PdfReader

    info = PdfReader(io.BytesIO(pdf)).metadata
    assert info.title == f"服务商结算单 {data.period} {data.number}"
    assert info.author == "开放联盟银行 Open Alliance Bank"
    assert data.partner_name in info.subject
    assert info["/CreationDate"].startswith("D:20261101")
    assert statement_pdf_render(data) == pdf


def test_the_largest_amounts_stay_whole_in_their_cells():
    from core.money import LARGEST_AMOUNT

    big = [
        line(
            n, bank_revenue=LARGEST_AMOUNT, share=LARGEST_AMOUNT, net_count=D("123456789"), transaction_count=123456789
        )
        for n in range(1, 4)
    ]
    data = statement(lines=big, net=LARGEST_AMOUNT, vat=D("0.00"), payable=LARGEST_AMOUNT)
    pdf = statement_pdf_render(data)
    text = pdf_text(pdf, layout=True)
    assert text.count("9,999,999,999,999.99") >= 2 * 3 + 2  # each line's revenue and share, the summary
    assert "人民币玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分" in "".join(text.split())
    for page in pdf_words(pdf):
        for i, word in enumerate(page):
            for other in page[i + 1 :]:
                assert not word.overlaps(other), (word, other)


def test_the_screenshots_command_writes_the_pages(tmp_path):
    from django.core.management import call_command

    from revenue.statements.samples import sample_statement_data

    call_command("statement_screenshots", out=str(tmp_path), dpi=30)
    written = sorted(path.name for path in tmp_path.glob("*.png"))
    pages = len(pypdf.PdfReader(io.BytesIO(statement_pdf_render(sample_statement_data(lines=8)))).pages)
    assert pages >= 2
    assert written == ["statement-nothing-payable.png", *(f"statement-page{n}.png" for n in range(1, pages + 1))]
    assert all(Image.open(tmp_path / name).size[0] > 200 for name in written)
