from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatementsConfig(AppConfig):
    name = "revenue.statements"
    label = "statements"
    verbose_name = _("Statements")

    def ready(self) -> None:
        # Statements hear of dispute decisions through django-fsm's transition signal (see the module).
        from revenue.statements import checks, receivers  # noqa: F401
