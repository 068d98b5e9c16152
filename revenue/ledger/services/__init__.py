"""Writes of the revenue domain. Import services from here."""

from revenue.ledger.services.agreements import (
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
from revenue.ledger.services.ingestion import (
    IngestionResult,
    file_sha256,
    source_system_register,
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
    "file_sha256",
    "product_create",
    "product_update",
    "source_system_register",
    "transactions_ingest",
    "transactions_ingest_csv",
    "transactions_ingest_numbered",
]
