"""What each role may do in performance control (merged into the role groups by ``roles_sync``)."""

from organisation.roles import Role

ROLE_PERMISSIONS = {
    Role.HEAD_OFFICE_ADMIN: [
        "performance.view_branchtarget",
        "performance.add_branchtarget",
        "performance.change_branchtarget",
        "performance.delete_branchtarget",
        "performance.import_branchtarget",
        "performance.export_branchtarget",
        "performance.view_tierrule",
        "performance.add_tierrule",
        "performance.change_tierrule",
        "performance.delete_tierrule",
        "performance.view_branchscorecard",
        "performance.view_scorecardkpiline",
    ],
    # Branch staff see their own branch's targets and scorecards (scoped in the selectors).
    Role.BRANCH_RM: [
        "performance.view_branchtarget",
        "performance.view_branchscorecard",
        "performance.view_scorecardkpiline",
    ],
    Role.FINANCE: [
        "performance.view_branchtarget",
        "performance.view_branchscorecard",
        "performance.view_scorecardkpiline",
    ],
}
