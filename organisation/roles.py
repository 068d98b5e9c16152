"""Roles are Django groups with named permissions, declared here as data.

Each app contributes the permissions its roles need in its own ``roles.py``
(``ROLE_PERMISSIONS = {role: ["app_label.codename", ...]}``); the union is
synced into the groups after every ``migrate`` and by ``manage.py sync_roles``.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    HEAD_OFFICE_ADMIN = "head_office_admin", _("Head-office administrator")
    BRANCH_RM = "branch_rm", _("Branch relationship manager")
    RISK_REVIEWER = "risk_reviewer", _("Risk reviewer")
    FINANCE = "finance", _("Finance")
    PARTNER_USER = "partner_user", _("Partner user")
    # A source system (payments, lending, account opening) that posts transactions through the API.
    SOURCE_SYSTEM = "source_system", _("Source system")


# Roles whose members work in the Django admin (partner users use the portal and API).
STAFF_ROLES = {Role.HEAD_OFFICE_ADMIN, Role.BRANCH_RM, Role.RISK_REVIEWER, Role.FINANCE}

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.HEAD_OFFICE_ADMIN: [
        "organisation.access_all_branches",
        "organisation.view_branch",
        "organisation.view_user",
        "organisation.unlock_sign_in",
    ],
    Role.BRANCH_RM: ["organisation.view_branch"],
    Role.RISK_REVIEWER: ["organisation.view_branch"],
    Role.FINANCE: ["organisation.access_all_branches", "organisation.view_branch"],
    Role.PARTNER_USER: [],
    Role.SOURCE_SYSTEM: [],
}
