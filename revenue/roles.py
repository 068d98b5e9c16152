"""The revenue permissions of each role (merged into the role groups by ``organisation.services.roles_sync``).

Products and agreements are head office's to edit; branches and finance read
them. Transactions are read-only for everyone in the admin (branch scope is
applied by the admin and selectors, not by the permission). Source systems
post transactions through the API; partner users read their own.
"""

from organisation.roles import Role

_CATALOGUE_VIEW = [
    "revenue.view_product",
    "revenue.view_agreement",
    "revenue.view_agreementversion",
    "revenue.view_agreementtier",
]
_LEDGER_VIEW = [
    "revenue.view_transaction",
    "revenue.view_transactionattribution",
    "revenue.view_ingestionbatch",
]

_SETTLEMENT_VIEW = [
    "revenue.view_settlementperiod",
    "revenue.view_settlementrun",
    "revenue.view_settlementrunchunk",
    "revenue.view_settlement",
    "revenue.view_settlementline",
    "revenue.view_settlementdispute",
]
# Settlements: finance runs, approves and pays them and decides disputes; head office runs them and
# decides disputes; RMs read (and preview) their branch's; partner users read their own and dispute lines.
_SETTLEMENT_RUN = ["revenue.run_settlement", "revenue.preview_settlement", "revenue.resolve_settlement_dispute"]

ROLE_PERMISSIONS = {
    Role.HEAD_OFFICE_ADMIN: [
        *_CATALOGUE_VIEW,
        *_LEDGER_VIEW,
        "revenue.add_product",
        "revenue.change_product",
        "revenue.add_agreement",
        "revenue.change_agreement",
        "revenue.add_agreementversion",
        "revenue.change_agreementversion",
        "revenue.delete_agreementversion",
        "revenue.add_agreementtier",
        "revenue.change_agreementtier",
        "revenue.delete_agreementtier",
        "revenue.import_transactions",
        *_SETTLEMENT_VIEW,
        *_SETTLEMENT_RUN,
    ],
    Role.BRANCH_RM: [
        *_CATALOGUE_VIEW,
        *_LEDGER_VIEW,
        "revenue.view_settlement",
        "revenue.view_settlementline",
        "revenue.view_settlementdispute",
        "revenue.preview_settlement",
    ],
    Role.RISK_REVIEWER: [*_CATALOGUE_VIEW],
    Role.FINANCE: [
        *_CATALOGUE_VIEW,
        *_LEDGER_VIEW,
        *_SETTLEMENT_VIEW,
        *_SETTLEMENT_RUN,
        "revenue.approve_settlement",
        "revenue.pay_settlement",
    ],
    Role.PARTNER_USER: [
        "revenue.view_partner_transactions",
        "revenue.view_partner_settlements",
        "revenue.raise_settlement_dispute",
    ],
    Role.SOURCE_SYSTEM: ["revenue.ingest_transactions"],
}
