"""Writes of the revenue domain. Import services from here."""

from revenue.services.agreements import (
    agreement_create,
    agreement_update,
    agreement_version_create,
    agreement_version_delete,
    agreement_version_supersede,
    agreement_version_update,
    agreement_versions_lock,
    product_create,
    product_update,
)
from revenue.services.ingestion import (
    IngestionResult,
    transactions_ingest,
    transactions_ingest_csv,
    transactions_ingest_numbered,
)

__all__ = [
    "IngestionResult",
    "agreement_create",
    "agreement_update",
    "agreement_version_create",
    "agreement_version_delete",
    "agreement_version_supersede",
    "agreement_version_update",
    "agreement_versions_lock",
    "product_create",
    "product_update",
    "transactions_ingest",
    "transactions_ingest_csv",
    "transactions_ingest_numbered",
]
