from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.console import ConsoleCommand, table
from organisation.roles import Role
from organisation.services import roles_sync


class Command(ConsoleCommand):
    help = gettext_lazy("Create or update the role groups and their permissions from the roles declared in code.")

    def handle(self, *args, **options):
        rows = [(role, Role(role).label if role in Role.values else "", count) for role, count in roles_sync().items()]
        self.lines(table(rows, headers=(_("Group"), _("Role"), _("Permissions")), align="<<>", indent=0))
