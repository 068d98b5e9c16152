import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import translation

from performance.models import BranchTarget


@pytest.fixture
def english():
    """Messages in English, so that assertions on their text hold whatever catalogue is installed."""
    with translation.override("en"):
        yield


@pytest.fixture
def client(client):
    """The test client asking for English pages, so assertions on message texts hold whatever catalogue is built."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def make_target():
    def make(
        branch,
        kpi="bank_revenue",
        *,
        period_kind="month",
        period_start=dt.date(2026, 10, 1),
        target="100.00",
        weight="1",
    ):
        return BranchTarget.objects.create(
            branch=branch,
            period_kind=period_kind,
            period_start=period_start,
            kpi=kpi,
            target_value=Decimal(target),
            weight=Decimal(weight),
        )

    return make


@pytest.fixture
def pay(db):
    from revenue.ledger.choices import RevenueKind
    from tests.revenue.factories import ProductFactory

    return ProductFactory(code="PAY_SETTLE", name="支付结算", revenue_kind=RevenueKind.FEE)


@dataclass
class Alliance:
    branch_a: object
    branch_b: object
    branch_c: object
    branch_d: object
    x: object
    a2: object
    a3: object
    y: object
    c1: object


@pytest.fixture
def alliance(rm_a, rm_b, partner_x, partner_y, pay):
    """A small ledger with hand-computed figures (Beijing time; October booked on 2 November 10:00).

    Branch A 深圳分行: x (active since 1 Sep), a2 (since 5 Oct), a3 (gold, admitted, no business).
    Branch B 杭州分行: y (silver). Branch C 广州分行: c1 (onboarded 3 Oct). Branch D 成都分行: nobody.
    """
    from onboarding.models import PartnerTier
    from tests.factories import BranchFactory, PartnerFactory
    from tests.performance.ledger import at, book, reversal_row, txn_row
    from tests.revenue.factories import make_active

    branch_c = BranchFactory(code="GZ", name="广州分行")
    branch_d = BranchFactory(code="CD", name="成都分行")
    x = make_active(partner_x, since=at(2026, 9, 1))
    a2 = make_active(PartnerFactory(branch=rm_a.branch, relationship_manager=rm_a), since=at(2026, 10, 5))
    a3 = make_active(
        PartnerFactory(branch=rm_a.branch, relationship_manager=rm_a, tier=PartnerTier.GOLD), since=at(2026, 1, 1)
    )
    y = make_active(partner_y, since=at(2026, 10, 1))
    type(y).objects.filter(pk=y.pk).update(tier=PartnerTier.SILVER)
    y.refresh_from_db()
    c1 = make_active(PartnerFactory(branch=branch_c), since=at(2026, 10, 3))

    book(
        [txn_row(x, "SEP-X", sme_id="SME001", amount="800.00", bank_revenue="8.00", occurred_at="2026-09-20T10:00")],
        booked_at=at(2026, 9, 21),
    )
    co_served = f"{x.credit_code}:0.6;{y.credit_code}:0.4"
    book(
        [
            txn_row(x, "T1", sme_id="SME001", amount="1000.00", bank_revenue="6.00", occurred_at="2026-10-08T10:00"),
            txn_row(x, "T2", sme_id="SME002", amount="2000.50", bank_revenue="12.01", occurred_at="2026-10-09T10:00"),
            txn_row(a2, "T3", sme_id="SME001", amount="500.00", bank_revenue="3.00", occurred_at="2026-10-10T10:00"),
            txn_row(
                co_served, "T4", sme_id="SME100", amount="1000.00", bank_revenue="10.00", occurred_at="2026-10-11T10:00"
            ),
            txn_row(y, "T5", sme_id="SME200", amount="3000.00", bank_revenue="30.00", occurred_at="2026-10-31T23:30"),
            txn_row(y, "T6", sme_id="SME201", amount="999.00", bank_revenue="9.99", occurred_at="2026-11-01T00:00"),
            reversal_row("T2-R", "T2", occurred_at="2026-10-20T09:00"),
            txn_row(c1, "C1", sme_id="SME300", amount="100.00", bank_revenue="1.00", occurred_at="2026-10-12T10:00"),
            txn_row(c1, "C2", sme_id="SME301", amount="100.00", bank_revenue="1.00", occurred_at="2026-10-13T10:00"),
        ],
        booked_at=at(2026, 11, 2, 10),
    )
    return Alliance(
        branch_a=rm_a.branch, branch_b=rm_b.branch, branch_c=branch_c, branch_d=branch_d, x=x, a2=a2, a3=a3, y=y, c1=c1
    )
