from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from core import storage  # noqa: F401 - registers the private storage's system check
        from core.metrics import celery_signals_connect
        from core.migrations_sql import sqlite_guard_function_register

        connection_created.connect(sqlite_guard_function_register, dispatch_uid="core.sqlite_guard_function")
        celery_signals_connect()
