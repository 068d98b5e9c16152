"""Production settings: everything from base, hardened.

Required environment (one message names every one missing): see ``REQUIRED``.
``python manage.py check --deploy --fail-level WARNING`` passes.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

# Checked before base is loaded, so that one message names all that is missing, not the first base trips on.
REQUIRED = (
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    # A cache shared by every process (Redis): sign-in limits and throttles count there. Local memory would count
    # per process, multiplying the limits by the number of processes.
    "CACHE_URL",
    # Statements and e-mails link partners to the portal: without it the links would be relative, so broken.
    "PARTNER_PORTAL_BASE_URL",
)
environ.Env.read_env(Path(__file__).resolve().parent.parent.parent / ".env", overwrite=False)
_missing = [name for name in REQUIRED if not environ.Env().str(name, default="").strip()]
if _missing:
    raise ImproperlyConfigured(
        f"Production needs these environment variables, which are not set: {', '.join(_missing)}"
    )
if environ.Env().cache("CACHE_URL")["BACKEND"].rsplit(".", 2)[-2] in ("locmem", "dummy"):
    raise ImproperlyConfigured("CACHE_URL must name a cache shared by every process (Redis), not local memory")

from .base import *  # noqa: E402, F403
from .base import env  # noqa: E402

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = False
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CACHES = {"default": env.cache("CACHE_URL")}

# Static files with hashed names (cached for ever by browsers) and compressed copies, built by collectstatic.
STORAGES = {
    "default": MEDIA_STORAGE,  # noqa: F405 - the local folder, or object storage when MEDIA_STORAGE_BUCKET is set
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Served over HTTPS, behind a proxy that terminates TLS and says so in X-Forwarded-Proto. Off only for a
# production-like stack on one's own machine over plain HTTP (bin/serve): no redirect, no secure-only cookies.
SERVED_OVER_HTTPS = env.bool("DJANGO_HTTPS", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=SERVED_OVER_HTTPS)
# Load balancers and orchestrators probe the health endpoints, and Prometheus scrapes the metrics, over plain HTTP
# inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000 if SERVED_OVER_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = SERVED_OVER_HTTPS
CSRF_COOKIE_SECURE = SERVED_OVER_HTTPS
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# One JSON object per log line, for the log collector.
LOGGING["handlers"]["console"]["formatter"] = "json"  # noqa: F405
