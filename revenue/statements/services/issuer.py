"""The statement issuer: the bank's details that head office sets and every statement issued afterwards prints."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from organisation.models import User
from revenue.statements.errors import NotPermitted
from revenue.statements.models import StatementIssuer

CHANGE_PERMISSION = "statements.change_statementissuer"
ISSUER_FIELDS = (
    "name",
    "name_en",
    "address",
    "service_line",
    "invoice_title",
    "taxpayer_number",
    "invoice_content",
    "footer",
    "settlement_account_name",
    "settlement_account_no",
    "settlement_bank_name",
    "settlement_bank_code",
)


def statement_issuer_update(*, by: User, **values: str) -> StatementIssuer:
    """Set the issuer's details (head office only). Statements already issued keep the details they printed."""
    if not (by.is_active and by.has_perm(CHANGE_PERMISSION)):
        raise NotPermitted(_("Only head office sets the bank's details printed on statements."))
    unknown = set(values) - set(ISSUER_FIELDS)
    if unknown:
        raise TypeError(f"not issuer fields: {sorted(unknown)}")
    with transaction.atomic():
        issuer, _created = StatementIssuer.objects.select_for_update().get_or_create(pk=StatementIssuer.SINGLETON_PK)
        for field, value in values.items():
            setattr(issuer, field, (value or "").strip())
        issuer.updated_by = by
        issuer.full_clean()
        issuer.save()
    return issuer
