from django.core.management.base import BaseCommand, CommandError

from organisation.models import User
from portal.services import api_token_issue


class Command(BaseCommand):
    help = (
        "Issue an API token for an account (typically a source system's API account), replacing the one it held. "
        "The key is printed once and never stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the token is for (shown in the admin).")

    def handle(self, *args, username: str, name: str, **options):
        try:
            user = User.objects.get(username=username, is_active=True)
        except User.DoesNotExist as exc:
            raise CommandError(f"No active account named {username!r}.") from exc
        issued = api_token_issue(user=user, name=name)
        self.stdout.write(f"Token for {username} (expires {issued.token.expires_at:%Y-%m-%d}):")
        self.stdout.write(issued.key)
