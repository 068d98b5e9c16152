"""``python manage.py setup_revenue_demo``: the demo product catalogue and default agreements (idempotent)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.console import ConsoleCommand
from demo.revenue import revenue_demo_setup


class Command(ConsoleCommand):
    help = gettext_lazy("Create the demo product catalogue and the default revenue-share agreement per partner type.")

    def handle(self, *args, **options):
        created = revenue_demo_setup()
        self.say(
            _("%(products)s products and %(agreements)s agreements created.")
            % {"products": created["products"], "agreements": created["agreements"]},
            self.style.SUCCESS,
        )
