"""Settings for the partner management middle office.

Everything comes from the environment (django-environ). With nothing set the
product runs on SQLite in the project folder with Celery tasks executed
in-process; with ``DATABASE_URL`` and ``CELERY_BROKER_URL`` set the same code
runs on PostgreSQL with real workers. Bad values fail loudly at start-up.
"""

from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# The default key only serves the embedded local set-up; production requires one.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-development-key-not-for-production")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_fsm_log",
    "django_celery_beat",
    "import_export",
    "core",
    "organisation",
    "onboarding",
    "revenue",
    "performance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
# Connections kept between requests and Celery tasks (checked before reuse): a settlement run is a
# dozen tasks, and a fresh PostgreSQL backend per task pays its connection and its cold catalog
# caches on every chunk's statement.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dev server read while a command writes; a busy timeout
    # turns brief write contention into a wait rather than an error.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "organisation.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Chinese first: the users speak zh-hans; English is the second language.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

FIXTURE_DIRS = [BASE_DIR / "fixtures"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")

LOGIN_URL = "admin:login"

# Money: two decimals (fen), one rounding rule (see core.money).
MONEY_MAX_DIGITS = 18
MONEY_DECIMAL_PLACES = 2

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Partner management middle office API",
    "DESCRIPTION": "服务商管理中台 API: transaction ingestion for source systems and settlement data for partners.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The interactive docs load Swagger UI and Redoc from the project's static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI would otherwise send the schema's URL to an online validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# Celery. Without a broker, tasks run eagerly in-process (the embedded default).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    # In-process transport: nothing ever tries to reach a broker host.
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND", default="cache+memory://" if CELERY_TASK_ALWAYS_EAGER else CELERY_BROKER_URL
)
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only after it finished, so a worker killed mid-task
# leaves it on the queue for another worker; tasks are idempotent for that reason.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per worker process: long settlement chunks must not
# sit prefetched behind a busy process while another process idles.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis re-delivers an unacknowledged message after the visibility timeout;
# it must exceed the longest task or a running task would be started twice.
CELERY_LONGEST_TASK_SECONDS = env.int("CELERY_LONGEST_TASK_SECONDS", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_LONGEST_TASK_SECONDS * 2}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = CELERY_BROKER_TRANSPORT_OPTIONS
CELERY_TASK_TIME_LIMIT = CELERY_LONGEST_TASK_SECONDS
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes the database connections before and after every task, whatever
# CONN_MAX_AGE says, unless told to reuse them: it recycles them every thousand tasks instead, and
# config.celery closes around each task only those unusable or older than CONN_MAX_AGE, as Django
# does around each request. A settlement run is a dozen tasks per worker process.
CELERY_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic schedules are declared here, in code; django-celery-beat mirrors them. Times are China time
# (CELERY_TIMEZONE). Two beat schedulers firing twice are harmless: a second close of a period is refused
# and a second accrual while one runs is refused (revenue.settlement.services.runs).
CELERY_BEAT_SCHEDULE: dict = {
    "settlement-nightly-accrual": {
        "task": "revenue.settlement_accrual_nightly",
        "schedule": crontab(hour=1, minute=0),
    },
    "settlement-month-end-close": {
        "task": "revenue.settlement_close_monthly",
        "schedule": crontab(hour=2, minute=0, day_of_month=1),
    },
    # Statements not issued, e-mails not sent and webhook deliveries no longer retried are queued again.
    "statements-sweep": {
        "task": "revenue.statements_sweep",
        "schedule": crontab(minute="*/15"),
    },
}

# Settlement: a net below this (yuan, before VAT) is not paid but carried forward to the next period;
# partners are settled in chunks of this many per task.
SETTLEMENT_MINIMUM_PAYOUT = Decimal(env.str("SETTLEMENT_MINIMUM_PAYOUT", default="100.00"))  # bad text fails here
SETTLEMENT_CHUNK_PARTNERS = env.int("SETTLEMENT_CHUNK_PARTNERS", default=1000)
# On PostgreSQL, how many connections one process uses side by side for a run: the aggregation's two halves
# of the partners (1: one connection) and, when tasks run in the process itself (no workers), its chunks.
SETTLEMENT_CONNECTIONS = env.int("SETTLEMENT_CONNECTIONS", default=2)
# After a month-end close: issue every settlement's statement and build the month's scorecards (tasks, on commit).
SETTLEMENT_ISSUE_STATEMENTS = env.bool("SETTLEMENT_ISSUE_STATEMENTS", default=True)
SETTLEMENT_BUILD_SCORECARDS = env.bool("SETTLEMENT_BUILD_SCORECARDS", default=True)

# Partner-facing links in statements and e-mails are absolute when this is set (e.g. https://partners.bank.example).
PARTNER_PORTAL_BASE_URL = env.str("PARTNER_PORTAL_BASE_URL", default="")
# Requests per partner API token (per user for a portal session); counted in CACHES["default"].
PARTNER_API_THROTTLE_RATE = env.str("PARTNER_API_THROTTLE_RATE", default="120/minute")

EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="partner-office@bank.example")

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Celery logs every task's success at INFO; in-process (eager) runs would drown the command output.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "celery.app.trace": {"level": "WARNING"}},
}
