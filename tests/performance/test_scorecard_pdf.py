"""The PDF scorecard: Chinese text that extracts back, the KPI table, charts, and the data it is built from."""

import datetime as dt
import io
from decimal import Decimal as D

import pytest
from pypdf import PdfReader

from performance.documents import (
    RankingRowData,
    ScorecardDocument,
    ScorecardLineData,
    TopPartnerData,
    TrendPointData,
    scorecard_pdf_render,
)
from performance.models import BranchScorecard, BranchTarget
from performance.selectors import scorecard_document
from performance.services import scorecard_pdf, scorecards_build
from tests.performance.ledger import at


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def fonts_of(pdf: bytes) -> set[str]:
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names


DOCUMENT = ScorecardDocument(
    branch_code="SZ",
    branch_name="深圳分行",
    period="2026-10",
    period_kind="month",
    as_of=at(2026, 11, 5),
    computed_at=at(2026, 11, 5, 8, 30),
    total_score=D("105.00"),
    rank=3,
    ranked_branches=4,
    achievement_cap=D("1.5000"),
    lines=(
        ScorecardLineData("transaction_volume", D("2000.00"), D("2100.00"), D("0.5000"), D("1.0500"), D("52.50")),
        ScorecardLineData("smes_reached", D("2.00"), D("3.00"), D("0.2000"), D("1.5000"), D("30.00")),
        ScorecardLineData("bank_revenue", D("0.00"), D("15.00"), D("0.3000"), None, D("30.00")),
    ),
    trend=(TrendPointData("2026-09", D("150.00"), 1), TrendPointData("2026-10", D("105.00"), 3)),
    top_partners=(TopPartnerData(1, "深圳云账房科技有限公司", "91440300192185379H", D("1600.00"), D("12.00"), 3),),
    ranking=(
        RankingRowData(1, "HZ", "杭州分行", D("115.00")),
        RankingRowData(3, "SZ", "深圳分行", D("105.00")),
    ),
)


def test_chinese_branch_names_and_figures_extract_from_the_pdf():
    pdf = scorecard_pdf_render(DOCUMENT)
    text = text_of(pdf)
    assert "深圳分行 2026-10 计分卡" in text  # the branch page's title
    assert "杭州分行" in text  # the ranking table
    assert "深圳云账房科技有限公司" in text
    assert "交易金额" in text and "2,100.00" in text and "52.50" in text  # the dashboard's KPI name
    assert "105.00" in text and "3 / 4" in text
    assert "—" in text  # the zero target has no rate
    assert "第 1 页 / 共" in text
    # One embedded font subset, no unembedded standard font.
    (font,) = fonts_of(pdf)
    assert font.endswith("MicroHei-0") and "+" in font  # a subset tag: embedded


def test_rendering_is_deterministic():
    assert scorecard_pdf_render(DOCUMENT) == scorecard_pdf_render(DOCUMENT)


def test_charts_are_vector_drawings():
    # The bar and line charts put their titles into the page as text.
    text = text_of(scorecard_pdf_render(DOCUMENT))
    assert "各考核指标达成率" in text and "历史各期总分" in text


@pytest.fixture
def built(alliance, make_target):
    make_target(alliance.branch_a, "bank_revenue", target="20.00", weight="0.6")
    make_target(alliance.branch_a, "smes_reached", target="2", weight="0.4")
    make_target(alliance.branch_b, "bank_revenue", target="20.00", weight="1")
    scorecards_build(period_kind="month", period_start=dt.date(2026, 10, 1), as_of=at(2026, 11, 5))
    return alliance


def test_the_document_of_a_stored_scorecard(built):
    card = BranchScorecard.objects.get(branch=built.branch_a)
    doc = scorecard_document(scorecard=card)
    # A: 15 / 20 = 0.75 × 0.6 → 45.00, 3 / 2 = 1.5 × 0.4 → 60.00; B: 34 / 20 = 1.7, capped → 150.00.
    assert (doc.branch_name, doc.period, doc.rank, doc.total_score) == ("深圳分行", "2026-10", 2, D("105.00"))
    assert [line.kpi for line in doc.lines] == ["smes_reached", "bank_revenue"]  # in the KPI order
    assert [p.name for p in doc.top_partners] == [built.x.legal_name, built.a2.legal_name]
    assert [(r.branch_name, r.rank) for r in doc.ranking] == [("杭州分行", 1), ("深圳分行", 2)]
    text = text_of(scorecard_pdf(scorecard=card))
    assert "深圳分行" in text and built.x.legal_name in text


def test_a_scorecard_rebuilt_since_it_was_read_prints_as_rebuilt(built, make_target):
    card = BranchScorecard.objects.get(branch=built.branch_b)
    BranchTarget.objects.filter(branch=built.branch_b).update(target_value=D("68.00"))  # 34 / 68 → 50.00
    scorecards_build(period_kind="month", period_start=dt.date(2026, 10, 1), as_of=at(2026, 11, 5))

    text = text_of(scorecard_pdf(scorecard=card))  # the object read before the rebuild
    assert "50.00" in text and "150.00" not in text.split("分行排名")[0]


def test_a_scorecard_gone_since_it_was_read_is_missing_not_half_printed(built):
    card = BranchScorecard.objects.get(branch=built.branch_b)
    BranchScorecard.objects.filter(pk=card.pk).delete()
    with pytest.raises(BranchScorecard.DoesNotExist):
        scorecard_pdf(scorecard=card)
