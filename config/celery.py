"""Celery application.

With no broker configured (the embedded default) tasks run eagerly in-process;
with ``CELERY_BROKER_URL`` set they go to real workers. Reliability settings
live in ``config.settings.base`` next to the broker URL they depend on.
"""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("partner_office")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Imports ``<app>.tasks`` of each installed app.
app.autodiscover_tasks()


def route_to_moved_default_queue(name, args, kwargs, options, task=None, **kw) -> dict | None:
    """Every task on the default queue when a process has moved it away from the product's (else the routes decide).

    The settlement benchmark sends to, and its workers read, a queue named after its database, so that
    no other worker on the same broker takes its tasks: the queues by kind of work
    (``CELERY_TASK_ROUTES``) would send them where its workers do not read.
    """
    from django.conf import settings

    if app.conf.task_default_queue != settings.CELERY_TASK_DEFAULT_QUEUE:
        return {"queue": app.conf.task_default_queue}
    return None


@signals.before_task_publish.connect
def send_the_request_id(headers=None, **kwargs) -> None:
    """A task queued while a request is handled carries the request's id in its message (``request_id``)."""
    from core.request_id import NONE, current_request_id

    request_id = current_request_id()
    if headers is not None and request_id != NONE:
        headers.setdefault("request_id", request_id)


@signals.task_prerun.connect
def log_with_the_request_id(task=None, **kwargs) -> None:
    """A worker's log lines for a task show the id of the request that queued it (``-`` for beat's)."""
    request = getattr(task, "request", None)
    if request is None or getattr(request, "is_eager", False):
        return  # in-process: the caller's own id is already there
    from core.request_id import use_request_id

    use_request_id(getattr(request, "request_id", None))


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_old_database_connections(sender=None, **kwargs) -> None:
    """Around each task a worker runs, close the database connections unusable or older than CONN_MAX_AGE.

    What Django does around each request (see ``CELERY_DB_REUSE_MAX``): a task reuses its worker
    process's connection, and with it the server process's warm caches. A task run in-process (eager)
    shares its caller's connection and transaction, and is left alone.
    """
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
