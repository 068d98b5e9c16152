"""What a settlement line says about its share: the limit that shaped it, the tier reached, whole counts, notes.

Computed by the one engine (revenue.calculations through the close) and worded by revenue.vocabulary, the
same for the statement, the portal, the admin and the API.
"""

from __future__ import annotations

import pytest
from django.utils import translation

from revenue.calculations import ShareRule, TierBracket, partner_share_terms
from revenue.ledger.choices import RuleKind, TierBasis
from revenue.settlement.choices import LineKind, SettlementState, ShareLimit
from revenue.settlement.compute import Figures
from revenue.settlement.selectors import line_notes_shown, line_rule_text
from revenue.vocabulary import LINE_KINDS, SETTLEMENT_STATES, SHARE_LIMITS, line_notes
from tests.revenue.settlement.conftest import D, book, lines_of, pct, reversal, row, settlement_of


def figures(revenue: str, *, count: str = "10", volume: str = "0") -> Figures:
    return Figures(int(D(count)), D(count), D(volume), D(revenue))


def terms(rule, fig):
    return partner_share_terms(rules={1: rule}, figures={1: fig})[1]


def test_each_limit_is_named_when_it_shaped_the_share():
    assert terms(ShareRule(RuleKind.PERCENTAGE, rate=D("0.30")), figures("100.00")).limit == ""
    assert terms(ShareRule(RuleKind.PERCENTAGE, rate=D("0.30"), floor=D("50")), figures("100.00")).limit == "floor"
    assert terms(ShareRule(RuleKind.PERCENTAGE, rate=D("0.30"), cap=D("20")), figures("100.00")).limit == "cap"
    # 188.8 transactions × 50.00 = 9,440.00 is more than the 5,581.72 the line earned the bank.
    fixed = terms(ShareRule(RuleKind.FIXED_PER_TRANSACTION, fixed_amount=D("50.00")), figures("5581.72", count="188.8"))
    assert (fixed.share, fixed.limit) == (D("5581.72"), "revenue")
    assert terms(None, figures("100.00")).limit == "no_agreement"


def test_a_tiered_line_keeps_the_tier_reached_and_its_basis():
    tiers = (TierBracket(D(0), D(100_000), D("0.30")), TierBracket(D(100_000), None, D("0.25")))
    rule = ShareRule(RuleKind.TIERED_RETROACTIVE, tier_basis=TierBasis.PRODUCT_VOLUME, tiers=tiers)
    reached = terms(rule, figures("1000.00", volume="150000.00"))
    assert (reached.tier, reached.basis, reached.share) == (2, D("150000.00"), D("250.00"))
    assert terms(rule, figures("1000.00", volume="99999.99")).tier == 1


def test_the_choices_read_as_the_vocabulary():
    for choices, terms_ in ((LineKind, LINE_KINDS), (SettlementState, SETTLEMENT_STATES), (ShareLimit, SHARE_LIMITS)):
        assert {value: str(label) for value, label in choices.choices} == {k: str(t.label) for k, t in terms_.items()}


@pytest.mark.django_db
def test_a_closed_line_counts_reversals_whole_and_explains_itself(run_settlement, active_x, pay):
    pct(pay, "0.30", cap=D("2.00"))
    book(row(active_x, "E1", revenue="6.00"), row(active_x, "E2", revenue="6.00"), row(active_x, "E3", revenue="6.00"))
    book(reversal("R1", "E1"))
    run_settlement("2026-10")
    (line,) = lines_of(settlement_of(active_x, "2026-10"))
    # Three events and one reversal: four attributed transactions, counted whole; the cap shaped the share.
    assert (line.transaction_count, line.reversal_count, line.event_count) == (4, 1, 3)
    assert line.net_count == D("2") and line.share == D("2.00") and line.share_limit == ShareLimit.CAP
    with translation.override("en"):
        assert line_notes_shown(line) == ["Cap applied"]
        assert line_rule_text(line) == "30% of bank revenue, cap CNY 2.00"
    with translation.override("zh-hans"):
        assert "按银行收入的 30%" in line_rule_text(line)


@pytest.mark.django_db
def test_co_served_events_are_counted_whole_with_their_weight_beside(run_settlement, active_x, active_y, pay):
    pct(pay, "0.30")
    book(row(f"{active_x.credit_code}:0.6;{active_y.credit_code}:0.4", "C1", revenue="10.00"))
    book(row(active_x, "S1", revenue="10.00"))
    run_settlement("2026-10")
    (line,) = lines_of(settlement_of(active_x, "2026-10"))
    assert (line.transaction_count, line.coserved_count, line.coserved_net_count) == (2, 1, D("0.6"))
    [note] = line_notes(line)
    assert note.zh == "其中合作服务 1 笔，按权重计 0.6"
    assert note.en == "of which 1 co-served, counted at their weight as 0.6"


def test_an_adjustment_note_names_the_period_and_the_difference():
    class Line:
        kind = "adjustment"
        coserved_count = 0
        coserved_net_count = D(0)
        share_limit = ""
        tier_reached = tier_basis_figure = None
        corrected_label = "2026-09"
        previous_share = D("2915.79")
        share = D("203.09")

    [note] = line_notes(Line())
    assert note.zh == "更正 2026-09：重算分润 3,118.88，此前已结算 2,915.79，差额 203.09"
    assert note.en == "corrects 2026-09: share recomputed 3,118.88, settled before 2,915.79, difference 203.09"
