"""Invoices (发票) partners send before they are paid, payment batches (ISO 20022 pain.001) and their results."""
