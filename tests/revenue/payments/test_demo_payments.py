"""The demo's payments step: invoices in each state and a paid batch, and nothing more when run again."""

from __future__ import annotations

from demo.payments import demo_payments_create
from revenue.payments.choices import BatchState, InvoiceState
from revenue.payments.models import Invoice, PaymentBatch
from revenue.settlement.choices import SettlementState
from tests.revenue.payments.conftest import D
from tests.revenue.statements.factories import LineSpec, make_settlement


def test_invoices_in_each_state_and_a_paid_batch(pay, partner_x, partner_y, partner_user_x, partner_user_y, finance):
    for period in ("2026-09", "2026-10"):
        for partner in (partner_x, partner_y):
            make_settlement(partner, period, lines=[LineSpec(product=pay, bank_revenue=D("1000.00"))])
    assert demo_payments_create() == {"invoices": 4, "batches": 1}
    states = sorted(Invoice.objects.values_list("state", flat=True))
    assert states == sorted(
        [InvoiceState.ACCEPTED, InvoiceState.ACCEPTED, InvoiceState.RETURNED, InvoiceState.SUBMITTED]
    )
    batch = PaymentBatch.objects.get()
    assert (batch.state, batch.created_by.username, batch.approved_by.username) == (
        BatchState.COMPLETED,
        "finance",
        "finance2",
    )
    assert {i.settlement.state for i in batch.items.all()} == {SettlementState.PAID}
    assert demo_payments_create() == {}
    assert Invoice.objects.count() == 4
