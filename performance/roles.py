"""What each role may do in performance control (merged into the role groups by ``roles_sync``)."""

from organisation.roles import Role

_SCORECARD_READ = [
    "performance.view_branchtarget",
    "performance.view_branchscorecard",
    "performance.view_scorecardkpiline",
    "performance.view_scorecardtoppartner",
    "performance.export_branchscorecard",
]

ROLE_PERMISSIONS = {
    Role.HEAD_OFFICE_ADMIN: [
        *_SCORECARD_READ,
        "performance.add_branchtarget",
        "performance.change_branchtarget",
        "performance.delete_branchtarget",
        "performance.import_branchtarget",
        "performance.export_branchtarget",
        "performance.view_tierrule",
        "performance.add_tierrule",
        "performance.change_tierrule",
        "performance.delete_tierrule",
        "performance.build_branchscorecard",
        "performance.view_tierproposal",
        "performance.decide_tierproposal",
    ],
    # Branch staff see their own branch's targets, scorecard, partners and tier proposals and
    # the ranking of all branches (scoped in the selectors, not by the permission).
    Role.BRANCH_RM: [
        *_SCORECARD_READ,
        "performance.view_tierproposal",
        "performance.decide_tierproposal",
    ],
    Role.FINANCE: _SCORECARD_READ,
}
