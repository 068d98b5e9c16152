"""The product's main job on the demo alliance, as run by ``./bin/demo``."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from onboarding.models import Partner
from organisation.models import User

DEMO_PASSWORD = "demo12345"  # noqa: S105 - the documented password of the demo fixture's users


class Command(BaseCommand):
    help = "Load the demo alliance (idempotent) and run the main job on it."

    def handle(self, *args, **options):
        if not Partner.objects.exists():
            call_command("loaddata", "demo", verbosity=0)
            self.stdout.write(self.style.SUCCESS("Loaded the demo alliance."))
        else:
            self.stdout.write("Demo alliance already loaded.")
        self._print_logins()

    def _print_logins(self) -> None:
        self.stdout.write(f"\nDemo logins (password {DEMO_PASSWORD}):")
        users = User.objects.filter(is_active=True).select_related("branch", "partner").prefetch_related("groups")
        for user in users.order_by("branch__code", "username"):
            roles = ", ".join(g.name for g in user.groups.all())
            where = user.branch or user.partner or ""
            self.stdout.write(f"  {user.username:<16} {roles:<22} {where}")
        self.stdout.write("\nAdmin: http://127.0.0.1:8000/admin/")
