"""Writes of the admission domain. Every change to a partner or its evidence goes through one of these."""

from onboarding.services.admission import (
    ACTION_SERVICES,
    partner_activate,
    partner_approve,
    partner_approve_head_office,
    partner_assign_reviewer,
    partner_contract,
    partner_reinstate,
    partner_reject,
    partner_request_info,
    partner_resubmit,
    partner_start_review,
    partner_submit,
    partner_suspend,
    partner_terminate,
)
from onboarding.services.evidence import (
    EvidenceDocument,
    evidence_document_download,
    evidence_item_decide,
    evidence_item_record,
)
from onboarding.services.imports import (
    PartnerImportReport,
    partner_export,
    partner_import,
    partner_import_file_check,
)
from onboarding.services.partners import EDITABLE_FIELDS, partner_create, partner_tier_change, partner_update

__all__ = [
    "ACTION_SERVICES",
    "EDITABLE_FIELDS",
    "EvidenceDocument",
    "PartnerImportReport",
    "evidence_document_download",
    "evidence_item_decide",
    "evidence_item_record",
    "partner_activate",
    "partner_approve",
    "partner_approve_head_office",
    "partner_assign_reviewer",
    "partner_contract",
    "partner_create",
    "partner_export",
    "partner_import",
    "partner_import_file_check",
    "partner_reinstate",
    "partner_reject",
    "partner_request_info",
    "partner_resubmit",
    "partner_start_review",
    "partner_submit",
    "partner_suspend",
    "partner_terminate",
    "partner_tier_change",
    "partner_update",
]
