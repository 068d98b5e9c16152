"""The settlement permissions of each role (merged into the role groups by ``organisation.services.roles_sync``).

Finance runs, approves and pays settlements and decides disputes; head office
runs them and decides disputes; RMs read (and preview) their branch's; partner
users read their own and dispute lines.
"""

from organisation.roles import Role

_SETTLEMENT_VIEW = [
    "settlement.view_settlementperiod",
    "settlement.view_settlementrun",
    "settlement.view_settlementrunchunk",
    "settlement.view_settlement",
    "settlement.view_settlementline",
    "settlement.view_settlementdispute",
]
_SETTLEMENT_RUN = [
    "settlement.run_settlement",
    "settlement.preview_settlement",
    "settlement.resolve_settlement_dispute",
]

ROLE_PERMISSIONS = {
    Role.HEAD_OFFICE_ADMIN: [*_SETTLEMENT_VIEW, *_SETTLEMENT_RUN],
    Role.BRANCH_RM: [
        "settlement.view_settlement",
        "settlement.view_settlementline",
        "settlement.view_settlementdispute",
        "settlement.preview_settlement",
    ],
    Role.FINANCE: [
        *_SETTLEMENT_VIEW,
        *_SETTLEMENT_RUN,
        "settlement.approve_settlement",
        "settlement.pay_settlement",
    ],
    Role.PARTNER_USER: [
        "settlement.view_partner_settlements",
        "settlement.raise_settlement_dispute",
    ],
}
