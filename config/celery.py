"""Celery application.

With no broker configured (the embedded default) tasks run eagerly in-process;
with ``CELERY_BROKER_URL`` set they go to real workers. Reliability settings
live in ``config.settings.base`` next to the broker URL they depend on.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("partner_office")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Autodiscovery imports ``<app>.tasks`` of each installed app; task modules of packages inside an app are named here.
app.autodiscover_tasks(["revenue.statements"])
