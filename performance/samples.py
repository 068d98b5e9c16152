"""A sample branch scorecard (fixed data, no database): for the documentation's screenshots."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from core.periods import CHINA_TZ
from performance.documents import (
    RankingRowData,
    ScorecardDocument,
    ScorecardLineData,
    TopPartnerData,
    TrendPointData,
)

D = Decimal


def sample_scorecard_document() -> ScorecardDocument:
    """Shenzhen branch, October 2026: five KPIs (one above the cap, one with no target), twelve months of trend."""
    months = [f"2025-{m:02d}" for m in range(11, 13)] + [f"2026-{m:02d}" for m in range(1, 11)]
    scores = ["78.40", "81.25", "84.10", "79.95", "88.30", "91.75", "95.20", "93.80", "99.45", "102.60", "98.15"]
    return ScorecardDocument(
        branch_code="SZ",
        branch_name="深圳分行",
        period="2026-10",
        period_kind="month",
        as_of=dt.datetime(2026, 11, 5, 0, 0, tzinfo=CHINA_TZ),
        computed_at=dt.datetime(2026, 11, 5, 8, 30, tzinfo=CHINA_TZ),
        total_score=D("104.36"),
        rank=2,
        ranked_branches=6,
        achievement_cap=D("1.5000"),
        lines=(
            ScorecardLineData("partners_onboarded", D("12.00"), D("9.00"), D("0.1500"), D("0.7500"), D("11.25")),
            ScorecardLineData("active_partners", D("80.00"), D("86.00"), D("0.1500"), D("1.0750"), D("16.13")),
            ScorecardLineData("smes_reached", D("1500.00"), D("2610.00"), D("0.2000"), D("1.7400"), D("30.00")),
            ScorecardLineData(
                "transaction_volume", D("250000000.00"), D("231456789.12"), D("0.3000"), D("0.9258"), D("27.77")
            ),
            ScorecardLineData("bank_revenue", D("1800000.00"), D("1728401.56"), D("0.2000"), D("0.9602"), D("19.20")),
            ScorecardLineData("revenue_share_paid", D("0.00"), D("412345.67"), D("0.0000"), None, D("0.00")),
        ),
        trend=tuple(
            TrendPointData(month, D(score), rank)
            for month, score, rank in zip(
                months, [*scores, "104.36"], [4, 4, 3, 4, 3, 3, 2, 2, 2, 1, 2, 2], strict=True
            )
        ),
        top_partners=(
            TopPartnerData(1, "深圳云账房科技有限公司", "91440300192185379H", D("86543210.00"), D("612345.67"), 812),
            TopPartnerData(2, "深圳智造物联科技有限公司", "91110000100017643K", D("54321098.76"), D("401234.50"), 367),
            TopPartnerData(
                3, "前海供应链管理服务有限公司", "91310000132200821H", D("43210987.65"), D("298765.43"), 1204
            ),
        ),
        ranking=(
            RankingRowData(1, "HZ", "杭州分行", D("108.92")),
            RankingRowData(2, "SZ", "深圳分行", D("104.36")),
            RankingRowData(3, "SH", "上海分行", D("97.41")),
            RankingRowData(4, "BJ", "北京分行", D("93.05")),
            RankingRowData(5, "CD", "成都分行", D("88.70")),
            RankingRowData(6, "WH", "武汉分行", D("81.12")),
        ),
        author="开放联盟银行 Open Alliance Bank",
    )
