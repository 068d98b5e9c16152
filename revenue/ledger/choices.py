"""The revenue app's enumerations, shared by the models and the pure share computation.

They live apart from ``models.py`` so that :mod:`revenue.calculations` can use
them without touching the ORM.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RevenueKind(models.TextChoices):
    FEE = "fee", _("Fee income")
    INTEREST_MARGIN = "interest_margin", _("Interest margin")
    COMMISSION = "commission", _("Distribution commission")
    OTHER = "other", _("Other income")


class RuleKind(models.TextChoices):
    PERCENTAGE = "percentage", _("Percentage of bank revenue")
    FIXED_PER_TRANSACTION = "fixed_per_transaction", _("Fixed amount per transaction")
    TIERED_PROGRESSIVE = "tiered_progressive", _("Tiered, progressive (each slab at its own rate)")
    TIERED_RETROACTIVE = "tiered_retroactive", _("Tiered, retroactive (whole figure at the rate of the slab reached)")


TIERED_KINDS = (RuleKind.TIERED_PROGRESSIVE, RuleKind.TIERED_RETROACTIVE)


class TierBasis(models.TextChoices):
    """Which period-to-date figure of the partner decides the slab."""

    PRODUCT_VOLUME = "product_volume", _("Volume of this product")
    TOTAL_VOLUME = "total_volume", _("Volume across all products")
    PRODUCT_REVENUE = "product_revenue", _("Bank revenue of this product")
    TOTAL_REVENUE = "total_revenue", _("Bank revenue across all products")


class TransactionKind(models.TextChoices):
    NORMAL = "normal", _("Normal")
    REVERSAL = "reversal", _("Reversal")


class IngestionChannel(models.TextChoices):
    API = "api", _("REST API")
    ADMIN_IMPORT = "admin_import", _("Admin import")
    FILE = "file", _("Large-file command")
    GENERATOR = "generator", _("Synthetic generator")


# The currency of the ledger. Bank revenue and shares are CNY; amounts in other
# currencies are not accepted until volumes can be converted for tier bases.
LEDGER_CURRENCY = "CNY"
SUPPORTED_CURRENCIES = (LEDGER_CURRENCY,)
