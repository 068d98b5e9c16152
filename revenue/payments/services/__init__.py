"""Writes of payments: invoices, payment batches and their result files. Import from here."""

from revenue.payments.services.batches import (
    BatchFile,
    payment_batch_approve,
    payment_batch_cancel,
    payment_batch_create,
    payment_batch_file,
    payment_debtor,
    settlement_payment_blockers,
)
from revenue.payments.services.invoices import (
    InvoiceFigures,
    invoice_mismatches,
    invoice_return,
    invoice_review,
    invoice_submit,
)
from revenue.payments.services.results import ImportReport, payment_result_import, result_file_parse

__all__ = [
    "BatchFile",
    "ImportReport",
    "InvoiceFigures",
    "invoice_mismatches",
    "invoice_return",
    "invoice_review",
    "invoice_submit",
    "payment_batch_approve",
    "payment_batch_cancel",
    "payment_batch_create",
    "payment_batch_file",
    "payment_debtor",
    "payment_result_import",
    "result_file_parse",
    "settlement_payment_blockers",
]
