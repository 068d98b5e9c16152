"""Every statement of a generated month adds up line by line, and says its payable in capitals correctly.

A month built as in ``test_generated_month`` (every rule kind with floors and caps, co-served events,
reversals, late events of a closed month, a carried balance, a dispute resolution) is closed by the
one engine; then, for every statement: the lines' whole counts (events and reversals) add up to the
statement's attributed transactions and agree with the attributions behind each line; the lines'
shares, adjustments and carried balance add up to the net; and the payable in capitals is the one
of :func:`core.money_words.amount_in_capitals`, itself checked against a hand-written table.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from core.money import LARGEST_AMOUNT
from core.money_words import amount_in_capitals
from onboarding.models import PartnerType
from organisation.roles import Role
from revenue.ledger.choices import RuleKind
from revenue.settlement.choices import LineKind, RunState
from revenue.settlement.models import Settlement, SettlementLine
from revenue.settlement.selectors import settlement_line_attributions
from revenue.settlement.services import settlement_dispute_raise, settlement_dispute_resolve
from revenue.statements.documents import statement_pdf_render
from revenue.statements.selectors import statement_data
from revenue.vocabulary import SHARE_LIMITS
from tests.factories import PartnerFactory, UserFactory
from tests.revenue.factories import ProductFactory, make_active
from tests.revenue.settlement.conftest import D, agreement, book, reversal, row
from tests.revenue.settlement.test_generated_month import _events, _rule_terms
from tests.revenue.statements.pdftext import pdf_text

# Written out by hand from the rules for bills and settlement vouchers, not computed.
CAPITALS = [
    ("0.00", "零元整"),
    ("0.05", "伍分"),
    ("0.10", "壹角"),
    ("0.55", "伍角伍分"),
    ("1.00", "壹元整"),
    ("1.01", "壹元零壹分"),
    ("10.00", "壹拾元整"),
    ("15.20", "壹拾伍元贰角"),
    ("100.00", "壹佰元整"),
    ("100.10", "壹佰元壹角"),
    ("101.00", "壹佰零壹元整"),
    # The rules allow 零 or nothing for a zero 元 digit; core.money_words always writes the 零 (as in the rules'
    # own example, 1,680.32 below), so not "壹仟零壹拾元壹角".
    ("1,010.10", "壹仟零壹拾元壹角"),
    ("1,680.32", "壹仟陆佰捌拾元叁角贰分"),
    ("10,000.00", "壹万元整"),
    ("16,409.02", "壹万陆仟肆佰零玖元零贰分"),
    ("100,000.00", "壹拾万元整"),
    ("1,000,001.00", "壹佰万零壹元整"),
    ("1,234,567.89", "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
    ("10,000,000.00", "壹仟万元整"),
    ("100,000,000.00", "壹亿元整"),
    ("100,000,010.00", "壹亿零壹拾元整"),
    ("9,999,999,999,999.99", "玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
]


@pytest.mark.parametrize(("amount", "words"), CAPITALS)
def test_the_payable_in_capitals_matches_the_hand_written_table(amount, words):
    assert amount_in_capitals(Decimal(amount.replace(",", ""))) == words


def test_the_table_reaches_the_largest_payable_the_schema_allows():
    assert Decimal(CAPITALS[-1][0].replace(",", "")) == LARGEST_AMOUNT
    assert len(CAPITALS) >= 20


def _month(rng: random.Random, run_settlement, head_office_branch) -> None:
    products = [ProductFactory(code=code) for code in ("PAY_SETTLE", "SCF_LOAN", "WEALTH", "ACCOUNT")]
    types = list(PartnerType)
    partners = [make_active(PartnerFactory(partner_type=types[i % len(types)])) for i in range(9)]
    small = make_active(PartnerFactory(partner_type=PartnerType.SOFTWARE_DATA))  # under the minimum payout
    agreement(products[0], partner=small, rule_kind=RuleKind.PERCENTAGE, rate=D("0.300000"))
    for partner_type in types:
        for product in products:
            if rng.random() < 0.85:
                agreement(product, partner_type=partner_type, **_rule_terms(rng))
    book(*_events(rng, partners, products, prefix="S", count=120, month=9))
    book(row(small, "TINY", revenue="0.50", amount="10.00", at="2026-09-03T10:00:00+08:00"))
    assert run_settlement("2026-09").state == RunState.COMPLETED
    disputed = SettlementLine.objects.filter(settlement__partner=partners[1], kind="product").first()
    partner_user = UserFactory(username="p1", is_staff=False, partner=partners[1], roles=[Role.PARTNER_USER])
    finance = UserFactory(username="fin", branch=head_office_branch, roles=[Role.FINANCE])
    dispute = settlement_dispute_raise(line=disputed, by=partner_user, comment="Missing events.")
    settlement_dispute_resolve(dispute=dispute, by=finance, amount=D("37.45"), comment="Accepted.")
    book(*_events(rng, partners, products, prefix="L", count=25, month=9))
    book(*(reversal(f"R{i}", f"S{i}", at="2026-09-29T09:00:00+08:00") for i in range(0, 40, 7)))
    book(*_events(rng, partners, products, prefix="O", count=150, month=10))
    book(*(reversal(f"RO{i}", f"S{i}", at="2026-10-12T09:00:00+08:00") for i in range(4, 40, 9)))
    assert run_settlement("2026-10").state == RunState.COMPLETED


@pytest.mark.parametrize("seed", [4, 5])
def test_every_statement_of_a_generated_month_adds_up(seed, run_settlement, head_office_branch):
    _month(random.Random(seed), run_settlement, head_office_branch)
    settlements = list(Settlement.objects.filter(period__start__year=2026, period__start__month=10))
    assert settlements
    seen = {"reversals": 0, "coserved": 0, "limits": set(), "kinds": set()}
    for settlement in settlements:
        data = statement_data(settlement=settlement)
        ledger = [line for line in data.lines if line.priced]
        # Whole counts: each line's events and reversals, summed, are the statement's attributed transactions.
        assert all(line.event_count >= 0 and line.reversal_count >= 0 for line in ledger)
        assert sum(line.event_count + line.reversal_count for line in ledger) == data.transaction_count
        # Shares, adjustments and the carried balance add up to the net; the totals are those sums.
        assert sum((line.share for line in data.lines), D("0.00")) == data.net
        assert sum((line.share for line in data.lines if line.kind == "product"), D("0.00")) == data.share_total
        assert sum((line.share for line in data.lines if line.kind == "carry_forward"), D("0.00")) == data.carried_in
        assert data.share_total + data.adjustment_total + data.carried_in == data.net
        assert data.payable == (data.net + data.vat if data.payable else D("0.00"))
        for line in settlement.lines.filter(kind__in=(LineKind.PRODUCT, LineKind.ADJUSTMENT)):
            behind = settlement_line_attributions(line=line)
            # The engine's counts are those of the attributions the line is traced to.
            assert line.transaction_count == behind.count()
            assert line.reversal_count == behind.filter(is_reversal=True).count()
            assert line.coserved_count == behind.filter(weight__lt=1).count()
            assert 0 <= line.coserved_count <= line.transaction_count
            seen["reversals"] += line.reversal_count
            seen["coserved"] += line.coserved_count
            if line.share_limit:
                seen["limits"].add(line.share_limit)
                assert line.share_limit in SHARE_LIMITS
        seen["kinds"] |= {line.kind for line in data.lines}
        # The printed summary carries the payable in the capitals of the table's rules.
        text = "".join(pdf_text(statement_pdf_render(data)).split())
        assert f"人民币{amount_in_capitals(data.payable)}" in text
    # The month exercised what the statements explain.
    assert seen["reversals"] > 0 and seen["coserved"] > 0 and seen["limits"]
    assert {"product", "adjustment"} <= seen["kinds"]
