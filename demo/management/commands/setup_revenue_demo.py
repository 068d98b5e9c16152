"""``python manage.py setup_revenue_demo``: the demo product catalogue and default agreements (idempotent)."""

from django.core.management.base import BaseCommand

from demo.revenue import revenue_demo_setup


class Command(BaseCommand):
    help = "Create the demo product catalogue and the default revenue-share agreement per partner type."

    def handle(self, *args, **options):
        created = revenue_demo_setup()
        self.stdout.write(
            self.style.SUCCESS(f"{created['products']} products and {created['agreements']} agreements created.")
        )
