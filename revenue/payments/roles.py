"""The payments permissions of each role (merged into the role groups by ``organisation.services.roles_sync``).

Finance reviews invoices, creates, approves (someone else's) and reads payment
batches, and imports their results; head office reads them; RMs read their
branch's partners' invoices; partner users submit their own partner's invoices.
"""

from organisation.roles import Role

_READ = [
    "payments.view_invoice",
    "payments.view_paymentbatch",
    "payments.view_paymentbatchitem",
    "payments.view_paymentresultimport",
]

ROLE_PERMISSIONS = {
    Role.HEAD_OFFICE_ADMIN: _READ,
    Role.FINANCE: [
        *_READ,
        "payments.review_invoice",
        "payments.create_paymentbatch",
        "payments.approve_paymentbatch",
        "payments.import_payment_result",
    ],
    Role.BRANCH_RM: ["payments.view_invoice"],
    Role.PARTNER_USER: ["payments.submit_invoice"],
}
