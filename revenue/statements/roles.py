"""The statements permissions of each role (merged into the role groups by ``organisation.services.roles_sync``).

Head office sets the bank's details printed on statements; finance reads them.
"""

from organisation.roles import Role

ROLE_PERMISSIONS = {
    Role.HEAD_OFFICE_ADMIN: ["statements.view_statementissuer", "statements.change_statementissuer"],
    Role.FINANCE: ["statements.view_statementissuer"],
}
