"""Writes of performance control. Import services from here."""

from performance.services.documents import scorecard_pdf, scorecard_pdf_directory, scorecard_pdfs_write
from performance.services.exports import SCORECARD_EXPORT_PERMISSION, scorecards_export
from performance.services.scorecards import BUILD_PERMISSION, ScorecardBuild, scorecards_build
from performance.services.targets import (
    CSV_EXPORT_ENCODING,
    CSV_IMPORT_ENCODINGS,
    EXPORT_PERMISSION,
    FileFormat,
    TargetImportSummary,
    branch_target_delete,
    branch_target_save,
    branch_targets_export,
    branch_targets_import,
    branch_targets_import_file,
    import_result_errors,
)
from performance.services.tiers import (
    DECIDE_PERMISSION,
    TierProposalRun,
    partner_tier_proposals,
    tier_proposal_confirm,
    tier_proposal_dismiss,
)

__all__ = [
    "BUILD_PERMISSION",
    "CSV_EXPORT_ENCODING",
    "CSV_IMPORT_ENCODINGS",
    "DECIDE_PERMISSION",
    "EXPORT_PERMISSION",
    "SCORECARD_EXPORT_PERMISSION",
    "FileFormat",
    "ScorecardBuild",
    "TargetImportSummary",
    "TierProposalRun",
    "branch_target_delete",
    "branch_target_save",
    "branch_targets_export",
    "branch_targets_import",
    "branch_targets_import_file",
    "import_result_errors",
    "partner_tier_proposals",
    "scorecard_pdf",
    "scorecard_pdf_directory",
    "scorecard_pdfs_write",
    "scorecards_build",
    "scorecards_export",
    "tier_proposal_confirm",
    "tier_proposal_dismiss",
]
