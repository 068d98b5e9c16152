"""The admission permissions of each role (merged into the role groups by ``organisation.services.roles_sync``)."""

from organisation.roles import Role

_VIEW = [
    "onboarding.view_partner",
    "onboarding.view_evidenceitem",
    "onboarding.view_evidencedownload",
    "onboarding.view_evidencerequirement",
    "onboarding.view_partneractiveperiod",
    "onboarding.view_partnertierchange",
]

ROLE_PERMISSIONS = {
    Role.HEAD_OFFICE_ADMIN: [
        *_VIEW,
        "onboarding.add_partner",
        "onboarding.change_partner",
        "onboarding.add_evidenceitem",
        "onboarding.change_evidenceitem",
        "onboarding.add_evidencerequirement",
        "onboarding.change_evidencerequirement",
        "onboarding.submit_partner",
        "onboarding.review_partner",
        "onboarding.approve_partner",
        "onboarding.approve_partner_head_office",
        "onboarding.reject_partner",
        "onboarding.contract_partner",
        "onboarding.activate_partner",
        "onboarding.suspend_partner",
        "onboarding.terminate_partner",
        "onboarding.import_partner",
        "onboarding.change_partner_tier",
    ],
    # Branch scope (own branch only) is applied by the selectors and policies, not by the permission.
    Role.BRANCH_RM: [
        *_VIEW,
        "onboarding.add_partner",
        "onboarding.change_partner",
        "onboarding.add_evidenceitem",
        "onboarding.change_evidenceitem",
        "onboarding.submit_partner",
        "onboarding.contract_partner",
        "onboarding.activate_partner",
        "onboarding.suspend_partner",
        "onboarding.terminate_partner",
        "onboarding.import_partner",
        "onboarding.change_partner_tier",
    ],
    Role.RISK_REVIEWER: [
        *_VIEW,
        "onboarding.review_partner",
        "onboarding.approve_partner",
        "onboarding.reject_partner",
    ],
    Role.FINANCE: ["onboarding.view_partner", "onboarding.view_partneractiveperiod", "onboarding.view_evidenceitem"],
}
