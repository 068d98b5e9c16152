from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.console import ConsoleCommand
from organisation.models import User
from portal.services import api_token_issue


class Command(ConsoleCommand):
    help = gettext_lazy(
        "Issue an API token for an account (typically a source system's API account), replacing the one it held. "
        "The key is printed once and never stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help=gettext_lazy("What the token is for (shown in the admin)."))

    def handle(self, *args, username: str, name: str, **options):
        try:
            user = User.objects.get(username=username, is_active=True)
        except User.DoesNotExist as exc:
            raise CommandError(_("No active account named %(name)r.") % {"name": username}) from exc
        issued = api_token_issue(user=user, name=name)
        self.say(
            _("Token for %(name)s (expires %(date)s):")
            % {"name": username, "date": f"{issued.token.expires_at:%Y-%m-%d}"}
        )
        self.say(issued.key)
