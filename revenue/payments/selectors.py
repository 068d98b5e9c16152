"""Reads of invoices and payment batches: scoped lists, what a settlement's invoice stands at, what is due."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from organisation.models import User
from organisation.services import user_sees_all_branches
from revenue.payments.choices import LIVE_ITEM_STATES, InvoiceState
from revenue.payments.models import Invoice, PaymentBatch, PaymentBatchItem
from revenue.settlement.choices import SettlementState
from revenue.settlement.models import Settlement
from revenue.settlement.selectors import settlement_list
from revenue.statements.selectors import statement_number


def settlement_end_to_end_id(settlement: Settlement) -> str:
    """The settlement's number (its statement's), which names its transfer in payment files and results."""
    return statement_number(settlement)


def invoice_list(*, user: User) -> QuerySet[Invoice]:
    """Invoices a user may see: those of the settlements the user may see (branch scope; own partner's)."""
    visible = settlement_list(user=user).values("pk")
    return Invoice.objects.select_related("settlement__period", "partner", "submitted_by", "decided_by").filter(
        settlement__in=visible
    )


def partner_invoices(*, partner_id: int) -> QuerySet[Invoice]:
    """A partner's own invoices (the portal always passes the signed-in user's partner)."""
    return Invoice.objects.select_related("settlement__period").filter(partner_id=partner_id)


def settlement_invoices(*, settlement: Settlement) -> QuerySet[Invoice]:
    return settlement.invoices.select_related("submitted_by", "decided_by").order_by("-submitted_at", "-id")


def settlement_awaits_invoice(settlement: Settlement) -> bool:
    """Approved with something payable: the partner's invoice is what the payment waits for."""
    return settlement.state == SettlementState.APPROVED and not settlement.carried_forward and settlement.payable > 0


def settlement_live_invoice(settlement: Settlement) -> Invoice | None:
    """The settlement's submitted or accepted invoice, if any."""
    return settlement.invoices.filter(state__in=[InvoiceState.SUBMITTED, InvoiceState.ACCEPTED]).first()


def settlement_invoice_status(settlement: Settlement) -> dict:
    """What a settlement's page shows of its invoice: the invoices so far, and whether one may be submitted."""
    invoices = list(settlement_invoices(settlement=settlement))
    awaits = settlement_awaits_invoice(settlement)
    return {
        "invoices": invoices,
        "awaits_invoice": awaits,
        "can_submit": awaits and not any(i.is_live for i in invoices),
    }


def _accepted_invoice() -> Exists:
    return Exists(Invoice.objects.filter(settlement=OuterRef("pk"), state=InvoiceState.ACCEPTED))


def _in_live_batch() -> Exists:
    return Exists(PaymentBatchItem.objects.filter(settlement=OuterRef("pk"), state__in=list(LIVE_ITEM_STATES)))


def settlements_due_for_payment() -> QuerySet[Settlement]:
    """Approved settlements with something payable and an accepted invoice, in no live payment batch."""
    return (
        Settlement.objects.select_related("partner", "period")
        .filter(state=SettlementState.APPROVED, carried_forward=False, payable__gt=0)
        .filter(_accepted_invoice())
        .exclude(_in_live_batch())
        .order_by("period__start", "partner_id", "pk")
    )


def payment_batch_list(*, user: User) -> QuerySet[PaymentBatch]:
    """Batches span every branch: head office and finance only."""
    qs = PaymentBatch.objects.select_related("created_by", "approved_by")
    if not (user.is_active and user_sees_all_branches(user) and user.has_perm("payments.view_paymentbatch")):
        return qs.none()
    return qs


def batch_items(*, batch: PaymentBatch) -> QuerySet[PaymentBatchItem]:
    return batch.items.select_related("settlement__partner", "settlement__period", "invoice").order_by("position")


def settlement_payment_items(*, settlement: Settlement) -> QuerySet[PaymentBatchItem]:
    return settlement.payment_items.select_related("batch").order_by("-batch__created_at")


def invoices_awaiting_review() -> QuerySet[Invoice]:
    return Invoice.objects.filter(state=InvoiceState.SUBMITTED)


__all__ = [
    "batch_items",
    "invoice_list",
    "invoices_awaiting_review",
    "partner_invoices",
    "payment_batch_list",
    "settlement_awaits_invoice",
    "settlement_end_to_end_id",
    "settlement_invoice_status",
    "settlement_invoices",
    "settlement_live_invoice",
    "settlement_payment_items",
    "settlements_due_for_payment",
]
