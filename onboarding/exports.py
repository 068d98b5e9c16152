"""Partners as a labelled CSV or XLSX for bank staff (``core.spreadsheets``), scoped like the partner list.

The columns are the import's (:class:`onboarding.resources.PartnerResource`)
under the model's verbose names, so a file exported here, in either language,
imports again: the import reads these headers as well as the field names.
Branches are written as their codes and relationship managers as their user
names, as the import expects.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.spreadsheets import Column, ColumnKind, field_label
from onboarding.models import AdmissionState, Partner, PartnerTier, PartnerType, RiskRating
from onboarding.selectors import partner_list
from organisation.models import User

PARTNER_EXPORT_FIELDS: dict[str, Column] = {
    "partner_type": Column(field_label(Partner, "partner_type"), meaning=_("One of the five partner types.")),
    "legal_name": Column(field_label(Partner, "legal_name"), meaning=_("The registered company name."), width=34),
    "credit_code": Column(
        field_label(Partner, "credit_code"), meaning=_("18 characters, GB 32100-2015 check character."), width=22
    ),
    "legal_representative": Column(field_label(Partner, "legal_representative"), meaning=_("As registered.")),
    "registered_capital": Column(
        field_label(Partner, "registered_capital"), ColumnKind.MONEY, meaning=_("As registered, in yuan.")
    ),
    "contact_name": Column(field_label(Partner, "contact_name"), meaning=_("The partner's contact person.")),
    "contact_phone": Column(field_label(Partner, "contact_phone"), meaning=_("The contact's phone.")),
    "contact_email": Column(field_label(Partner, "contact_email"), meaning=_("The contact's e-mail."), width=24),
    "settlement_account_name": Column(
        field_label(Partner, "settlement_account_name"), meaning=_("The account the shares are paid to."), width=30
    ),
    "settlement_bank": Column(field_label(Partner, "settlement_bank"), meaning=_("The bank holding that account.")),
    "settlement_account_no": Column(
        field_label(Partner, "settlement_account_no"), meaning=_("The account number."), width=24
    ),
    "branch": Column(field_label(Partner, "branch"), meaning=_("The owning branch's code.")),
    "relationship_manager": Column(
        field_label(Partner, "relationship_manager"), meaning=_("The relationship manager's user name.")
    ),
    "risk_rating": Column(field_label(Partner, "risk_rating"), meaning=_("Low, medium or high.")),
    "vat_rate": Column(
        field_label(Partner, "vat_rate"), ColumnKind.PERCENT, meaning=_("The VAT rate on the partner's service fee.")
    ),
    "state": Column(field_label(Partner, "state"), meaning=_("Where the admission case stands.")),
    "tier": Column(field_label(Partner, "tier"), meaning=_("The partner's tier.")),
}
PARTNER_EXPORT_COLUMNS = tuple(PARTNER_EXPORT_FIELDS.values())
_CHOICES = {"partner_type": PartnerType, "risk_rating": RiskRating, "state": AdmissionState, "tier": PartnerTier}


def partner_export_queryset(*, user: User, queryset: QuerySet[Partner] | None = None) -> QuerySet[Partner]:
    """The partners of ``queryset`` (default: all) that ``user`` may see: never wider than the partner list."""
    visible = partner_list(user=user)
    qs = queryset if queryset is not None else Partner.objects.all()
    return (
        qs.filter(pk__in=visible.values("pk"))
        .select_related("branch", "relationship_manager")
        .order_by("branch__code", "legal_name", "pk")
    )


def partner_export_rows(qs: QuerySet[Partner]) -> Iterator[tuple]:
    for partner in qs.iterator(chunk_size=2000):
        values = []
        for name in PARTNER_EXPORT_FIELDS:
            if name == "branch":
                values.append(partner.branch.code)
            elif name == "relationship_manager":
                values.append(partner.relationship_manager.username)
            elif name in _CHOICES:
                value = getattr(partner, name)
                values.append(_CHOICES[name](value).label if value else "")
            else:
                values.append(getattr(partner, name))
        yield tuple(values)
