"""Writes of statements, partner access, events and webhooks. Import from here."""

from revenue.statements.services.downloads import download_event_record, is_partner_user
from revenue.statements.services.events import (
    dispute_decided_record,
    partner_event_email,
    partner_event_record,
    partner_events_dispatch,
    partner_events_record,
)
from revenue.statements.services.issuer import statement_issuer_update
from revenue.statements.services.statements import (
    VerifiedStatement,
    statement_generate,
    statement_get_or_generate,
    statement_pdf,
    statement_regenerate,
    statement_render,
    statement_stored_data,
    statement_verify,
    statements_issue,
)
from revenue.statements.services.sweep import statements_sweep
from revenue.statements.services.webhooks import (
    webhook_create,
    webhook_delete,
    webhook_deliver,
    webhook_delivery_give_up,
    webhook_set_active,
    webhook_signature,
    webhook_signature_verify,
    webhook_url_check,
)

__all__ = [
    "VerifiedStatement",
    "dispute_decided_record",
    "download_event_record",
    "is_partner_user",
    "partner_event_email",
    "partner_event_record",
    "partner_events_dispatch",
    "partner_events_record",
    "statement_generate",
    "statement_get_or_generate",
    "statement_issuer_update",
    "statement_pdf",
    "statement_regenerate",
    "statement_render",
    "statement_stored_data",
    "statement_verify",
    "statements_issue",
    "statements_sweep",
    "webhook_create",
    "webhook_delete",
    "webhook_deliver",
    "webhook_delivery_give_up",
    "webhook_set_active",
    "webhook_signature",
    "webhook_signature_verify",
    "webhook_url_check",
]
