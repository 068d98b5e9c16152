"""The portal's permissions of each role (merged into the role groups by ``organisation.services.roles_sync``).

Head office sees every API token's name, prefix, expiry and last use (never a key) and revokes
tokens; partners manage their own in the portal, which needs no admin permission.
"""

from organisation.roles import Role

ROLE_PERMISSIONS = {
    Role.HEAD_OFFICE_ADMIN: ["portal.view_apitoken", "portal.change_apitoken"],
}
