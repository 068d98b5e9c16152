"""The ledger permissions of each role (merged into the role groups by ``organisation.services.roles_sync``).

Products and agreements are head office's to edit; branches and finance read
them. Transactions are read-only for everyone in the admin (branch scope is
applied by the admin and selectors, not by the permission). Source systems
post transactions through the API; partner users read their own.
"""

from organisation.roles import Role

_CATALOGUE_VIEW = [
    "ledger.view_product",
    "ledger.view_agreement",
    "ledger.view_agreementversion",
    "ledger.view_agreementtier",
]
_LEDGER_VIEW = [
    "ledger.view_transaction",
    "ledger.view_transactionattribution",
    "ledger.view_ingestionbatch",
]

ROLE_PERMISSIONS = {
    Role.HEAD_OFFICE_ADMIN: [
        *_CATALOGUE_VIEW,
        *_LEDGER_VIEW,
        "ledger.add_product",
        "ledger.change_product",
        "ledger.add_agreement",
        "ledger.change_agreement",
        "ledger.add_agreementversion",
        "ledger.change_agreementversion",
        "ledger.delete_agreementversion",
        "ledger.add_agreementtier",
        "ledger.change_agreementtier",
        "ledger.delete_agreementtier",
        "ledger.import_transactions",
        "ledger.view_sourcesystem",
        "ledger.add_sourcesystem",
        "ledger.change_sourcesystem",
    ],
    Role.BRANCH_RM: [*_CATALOGUE_VIEW, *_LEDGER_VIEW],
    Role.RISK_REVIEWER: [*_CATALOGUE_VIEW],
    Role.FINANCE: [*_CATALOGUE_VIEW, *_LEDGER_VIEW],
    Role.PARTNER_USER: ["ledger.view_partner_transactions"],
    Role.SOURCE_SYSTEM: ["ledger.ingest_transactions"],
}
