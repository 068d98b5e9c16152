"""gunicorn's settings for the web process (Procfile ``web``, the image's ``web`` service).

Read from the environment so that one image serves every size of deployment.
"""

import os

# The address and port to listen on (the platform's PORT convention; bin/serve and compose set it).
bind = f"{os.environ.get('GUNICORN_BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104 - in a container
# Worker processes: about two per core. Each holds its own database connection (CONN_MAX_AGE).
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# A request longer than this is killed and logged; large exports stream, long work goes to Celery.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# Access log on stdout, with the request id the application returns (core.request_id).
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
# Heartbeat files in memory: a container's /tmp may be a slow overlay.
_shm = "/dev/shm"  # noqa: S108 - gunicorn's heartbeat files, no data
worker_tmp_dir = _shm if os.path.isdir(_shm) else None
# The application is imported once, then forked: less memory per worker.
preload_app = True
# No control socket (gunicornc): its default path is one per user, which several servers on one machine would share.
control_socket_disable = True


def child_exit(server, worker) -> None:
    """A worker that exits leaves its metric files (counts stay in the totals); its live gauges are dropped."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        import socket

        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(f"{socket.gethostname()}-{worker.pid}")
