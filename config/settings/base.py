"""Settings for the partner management middle office.

Everything comes from the environment (django-environ). With nothing set the
product runs on SQLite in the project folder with Celery tasks executed
in-process; with ``DATABASE_URL`` and ``CELERY_BROKER_URL`` set the same code
runs on PostgreSQL with real workers. Bad values fail loudly at start-up.
"""

import ipaddress
from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Off unless turned on explicitly (DJANGO_DEBUG=true, as bin/demo does for the development server).
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Required unless DEBUG is on: the development key below is public, so it only ever serves a debug set-up.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=true for a local development set-up).")
    SECRET_KEY = "insecure-local-development-key-not-for-production"  # noqa: S105 - public by design, DEBUG only
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    # The admin, as the staff site (core/sites.py: sections in the order of the work).
    "core.sites.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # The development server leaves static files to WhiteNoise too, so it serves them as production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_fsm_log",
    "django_celery_beat",
    "import_export",
    "axes",
    "core",
    "organisation",
    "onboarding",
    "revenue.ledger",
    "revenue.settlement",
    "revenue.statements",
    "revenue.payments",
    "portal",
    "performance",
    "workspace",
    "demo",
]

MIDDLEWARE = [
    # First: every response, a redirect or a static file too, returns the request's id (X-Request-ID).
    "core.request_id.RequestIdMiddleware",
    # Counts and times every request (core.metrics), static files and refusals by later middleware included.
    "core.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from the application server (gunicorn), before sessions and the rest.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RefuseNulCharacters",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in that axes refused or locked into the lock-out page (organisation/sign_in.py).
    "axes.middleware.AxesMiddleware",
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

# Every password sign-in (the admin's, the portal's, and so the API's session authentication) passes axes'
# backend first: it refuses a locked account or address before any password is checked. API tokens are not
# passwords and are not limited here.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Sign-in limits (django-axes, see organisation/sign_in.py): each failed sign-in is counted for its account and
# for its client address in CACHES["default"]; head office can lift a lock before it ends.
# Failed sign-ins on one account, from any address, that lock the account.
SIGN_IN_ACCOUNT_FAILURE_LIMIT = env.int("SIGN_IN_ACCOUNT_FAILURE_LIMIT", default=5)
# Failed sign-ins from one client address, on any accounts, that lock the address (above the account limit, so
# that one locked user does not lock colleagues behind the same proxy).
SIGN_IN_ADDRESS_FAILURE_LIMIT = env.int("SIGN_IN_ADDRESS_FAILURE_LIMIT", default=30)
# Minutes a lock lasts after the failure that set it; a count below the limit lapses this long after its last failure.
SIGN_IN_COOL_OFF_MINUTES = env.int("SIGN_IN_COOL_OFF_MINUTES", default=30)
if min(SIGN_IN_ACCOUNT_FAILURE_LIMIT, SIGN_IN_ADDRESS_FAILURE_LIMIT, SIGN_IN_COOL_OFF_MINUTES) < 1:
    raise ImproperlyConfigured(
        "SIGN_IN_ACCOUNT_FAILURE_LIMIT, SIGN_IN_ADDRESS_FAILURE_LIMIT and SIGN_IN_COOL_OFF_MINUTES must be at least 1"
    )
# On everywhere, tests included.
AXES_ENABLED = True
# Axes' cache handler (counts in the cache, not the database), applying each limit to its own counter.
AXES_HANDLER = "organisation.sign_in.SignInLimitHandler"
# The shared cache: Redis in production (CACHE_URL).
AXES_CACHE = "default"
# Two counters per failure: the account's, then the address's (the handler reads them in this order).
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Axes' own limit and cool-off, read from the SIGN_IN_* settings above.
AXES_FAILURE_LIMIT = "organisation.sign_in.sign_in_failure_limit"
AXES_COOLOFF_TIME = "organisation.sign_in.sign_in_cool_off"
# Accounts are counted under a prefixed name, so that no user name can share an address's counter.
AXES_USERNAME_CALLABLE = "organisation.sign_in.sign_in_counter_name"
# A refused or locking sign-in shows its own sign-in page with the lock-out message (429).
AXES_LOCKOUT_CALLABLE = "organisation.sign_in.sign_in_locked_response"
# Attempts while locked are refused without being counted, so they do not prolong the lock.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A successful sign-in clears the counts of its account and its address.
AXES_RESET_ON_SUCCESS = True
# No attempt records in the database (cache handler): nothing for axes to show in the admin.
AXES_ENABLE_ADMIN = False

# Chinese first: the users speak zh-hans; English is the second language.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

FIXTURE_DIRS = [BASE_DIR / "fixtures"]

STATIC_URL = "static/"
# Filled by ``manage.py collectstatic`` (the image's build, bin/serve); WhiteNoise serves it. With DEBUG on it
# serves the apps' own folders instead, so the demo needs no collectstatic.
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")
# Private files (admission evidence): outside MEDIA_ROOT, no URL; served only by views that authorise the reader.
PRIVATE_MEDIA_ROOT = env.path("DJANGO_PRIVATE_MEDIA_ROOT", default=BASE_DIR / "private")
# Media on S3-compatible object storage (django-storages) when a bucket is named, for machines that share no
# folder: statements under "media/", and evidence, invoices and payment files under "private/" (never a URL:
# core.storage). Credentials come from the usual AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the instance role).
MEDIA_STORAGE_BUCKET = env.str("MEDIA_STORAGE_BUCKET", default="")
if MEDIA_STORAGE_BUCKET:
    _object_storage = {
        "bucket_name": MEDIA_STORAGE_BUCKET,
        "endpoint_url": env.str("MEDIA_STORAGE_ENDPOINT_URL", default="") or None,
        "region_name": env.str("MEDIA_STORAGE_REGION", default="") or None,
        "default_acl": "private",
        "querystring_auth": True,
        "file_overwrite": False,
    }
    MEDIA_STORAGE = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**_object_storage, "location": "media"}}
    PRIVATE_MEDIA_STORAGE = {"BACKEND": "core.storage.PrivateObjectStorage", "OPTIONS": {**_object_storage}}
    PRIVATE_MEDIA_STORAGE["OPTIONS"]["location"] = "private"
else:
    MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    PRIVATE_MEDIA_STORAGE = None  # core.storage.PrivateStorage under PRIVATE_MEDIA_ROOT
STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Largest evidence document accepted, in bytes (PDF, JPEG or PNG).
EVIDENCE_MAX_UPLOAD_BYTES = env.int("EVIDENCE_MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)
# Largest invoice file a partner uploads, in bytes (PDF or OFD).
INVOICE_MAX_UPLOAD_BYTES = env.int("INVOICE_MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)

LOGIN_URL = "admin:login"

# Money: two decimals (fen), one rounding rule (see core.money).
MONEY_MAX_DIGITS = 18
MONEY_DECIMAL_PLACES = 2

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.api.BoundedLimitOffsetPagination",
    "DEFAULT_PARSER_CLASSES": [
        "core.api.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
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
# A prefix of every key the broker uses in Redis, for deployments that share one Redis database (a staging and a
# test stack, say): each reads only its own queues.
CELERY_BROKER_KEY_PREFIX = env.str("CELERY_BROKER_KEY_PREFIX", default="")
if CELERY_BROKER_KEY_PREFIX:
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = CELERY_BROKER_KEY_PREFIX
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = CELERY_BROKER_TRANSPORT_OPTIONS
CELERY_TASK_TIME_LIMIT = CELERY_LONGEST_TASK_SECONDS
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes the database connections before and after every task, whatever
# CONN_MAX_AGE says, unless told to reuse them: it recycles them every thousand tasks instead, and
# config.celery closes around each task only those unusable or older than CONN_MAX_AGE, as Django
# does around each request. A settlement run is a dozen tasks per worker process.
CELERY_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Queues by kind of work, each read by workers of its own (Procfile, compose.yaml), so that a flood of webhook
# deliveries or a month's statements never waits in front of a settlement run:
#   settlement  the runs (accrual and close), their chunks and the run sweep;
#   documents   statements and scorecards (PDFs), issued after a close;
#   messages    e-mails and webhook deliveries to partners (retried with back-off);
#   celery      anything else (the default queue).
# A worker started without --queues reads all four (the test suite's does).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue(name) for name in ("settlement", "documents", "messages", CELERY_TASK_DEFAULT_QUEUE)]
CELERY_TASK_ROUTES = [
    # A process that moved its default queue (the settlement benchmark, to isolate a run) keeps every task there.
    "config.celery.route_to_moved_default_queue",
    {
        # Exact names are matched before patterns.
        "statements.partner_event_email": {"queue": "messages"},
        "statements.webhook_deliver": {"queue": "messages"},
        "onboarding.notice_email": {"queue": "messages"},
        "workspace.notification_email": {"queue": "messages"},
        "workspace.emails_sweep": {"queue": "messages"},
        "settlement.*": {"queue": "settlement"},
        "statements.*": {"queue": "documents"},
        "performance.*": {"queue": "documents"},
    },
]
# Processes per worker; by default one per core.
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=None)
# Periodic schedules are declared here, in code; django-celery-beat mirrors them. Times are China time
# (CELERY_TIMEZONE). Two beat schedulers firing twice are harmless: a second close of a period is refused
# and a second accrual while one runs is refused (revenue.settlement.services.runs).
CELERY_BEAT_SCHEDULE: dict = {
    "settlement-nightly-accrual": {
        "task": "settlement.accrual_nightly",
        "schedule": crontab(hour=1, minute=0),
    },
    "settlement-month-end-close": {
        "task": "settlement.close_monthly",
        "schedule": crontab(hour=2, minute=0, day_of_month=1),
    },
    # Statements not issued, e-mails not sent and webhook deliveries no longer retried are queued again.
    # Runs never queued (the broker was lost at their start) are queued again; runs whose worker died resume.
    "settlement-runs-sweep": {
        "task": "settlement.runs_sweep",
        "schedule": crontab(minute="7,22,37,52"),
    },
    "statements-sweep": {
        "task": "statements.sweep",
        "schedule": crontab(minute="*/15"),
    },
    # Staff notifications whose e-mail was lost on the way (workspace.services.notification_emails_requeue).
    "workspace-emails-sweep": {
        "task": "workspace.emails_sweep",
        "schedule": crontab(minute="4,19,34,49"),
    },
    # Re-reviews (年审): open those falling due, suspend partners overdue past the grace period.
    "onboarding-reviews-nightly": {
        "task": "onboarding.reviews_nightly",
        "schedule": crontab(hour=0, minute=30),
    },
}

# Settlement: a net below this (yuan, before VAT) is not paid but carried forward to the next period;
# partners are settled in chunks of this many per task.
SETTLEMENT_MINIMUM_PAYOUT = Decimal(env.str("SETTLEMENT_MINIMUM_PAYOUT", default="100.00"))  # bad text fails here
SETTLEMENT_CHUNK_PARTNERS = env.int("SETTLEMENT_CHUNK_PARTNERS", default=1000)
if SETTLEMENT_CHUNK_PARTNERS < 1:
    raise ValueError("SETTLEMENT_CHUNK_PARTNERS must be at least 1")
# On PostgreSQL, how many connections one process uses side by side for a run: the aggregation's two halves
# of the partners (1: one connection) and, when tasks run in the process itself (no workers), its chunks.
SETTLEMENT_CONNECTIONS = max(1, env.int("SETTLEMENT_CONNECTIONS", default=2))
# After a month-end close: issue every settlement's statement and build the month's scorecards (tasks, on commit).
SETTLEMENT_ISSUE_STATEMENTS = env.bool("SETTLEMENT_ISSUE_STATEMENTS", default=True)
SETTLEMENT_BUILD_SCORECARDS = env.bool("SETTLEMENT_BUILD_SCORECARDS", default=True)

# The admin's transaction import (larger files go through manage.py ingest_transactions): upload size, rows,
# and what an XLSX may unpack to (checked before it is parsed: a small file can unpack to gigabytes).
TRANSACTION_IMPORT_MAX_BYTES = env.int("TRANSACTION_IMPORT_MAX_BYTES", default=20 * 2**20)
TRANSACTION_IMPORT_MAX_ROWS = env.int("TRANSACTION_IMPORT_MAX_ROWS", default=100_000)
TRANSACTION_IMPORT_MAX_XLSX_UNPACKED_BYTES = env.int("TRANSACTION_IMPORT_MAX_XLSX_UNPACKED_BYTES", default=150 * 2**20)
# How far ahead of now an event may be dated (clock skew between systems); later ones are refused, from every channel.
TRANSACTION_MAX_DAYS_AHEAD = env.int("TRANSACTION_MAX_DAYS_AHEAD", default=1)

# Periodic re-review (年审): months between re-reviews by risk rating; days before the due date (or an evidence
# item's expiry) the nightly job opens the re-review; days past the due date before the partner is suspended.
REREVIEW_MONTHS_HIGH = env.int("REREVIEW_MONTHS_HIGH", default=6)
REREVIEW_MONTHS_MEDIUM = env.int("REREVIEW_MONTHS_MEDIUM", default=12)
REREVIEW_MONTHS_LOW = env.int("REREVIEW_MONTHS_LOW", default=24)
REREVIEW_LEAD_DAYS = env.int("REREVIEW_LEAD_DAYS", default=30)
REREVIEW_GRACE_DAYS = env.int("REREVIEW_GRACE_DAYS", default=30)
if (
    min(REREVIEW_MONTHS_HIGH, REREVIEW_MONTHS_MEDIUM, REREVIEW_MONTHS_LOW) < 1
    or min(REREVIEW_LEAD_DAYS, REREVIEW_GRACE_DAYS) < 0
):
    raise ImproperlyConfigured("REREVIEW_MONTHS_* must be at least 1, REREVIEW_LEAD_DAYS and _GRACE_DAYS 0 or more")
# Applications to join in the portal: hours an e-mail confirmation link stays valid; applications (and
# confirmation e-mails) per client address and per e-mail address within the window, counted in CACHES["default"].
APPLICATION_CONFIRM_HOURS = env.int("APPLICATION_CONFIRM_HOURS", default=48)
APPLICATION_MAX_PER_ADDRESS = env.int("APPLICATION_MAX_PER_ADDRESS", default=5)
APPLICATION_MAX_PER_EMAIL = env.int("APPLICATION_MAX_PER_EMAIL", default=3)
APPLICATION_WINDOW_SECONDS = env.int("APPLICATION_WINDOW_SECONDS", default=3600)

# The partner import (admin and service), checked before a row is parsed: largest file and most rows per file.
PARTNER_IMPORT_MAX_BYTES = env.int("PARTNER_IMPORT_MAX_BYTES", default=5 * 2**20)
PARTNER_IMPORT_MAX_ROWS = env.int("PARTNER_IMPORT_MAX_ROWS", default=5_000)
if PARTNER_IMPORT_MAX_BYTES < 1 or PARTNER_IMPORT_MAX_ROWS < 1:
    raise ValueError("PARTNER_IMPORT_MAX_BYTES and PARTNER_IMPORT_MAX_ROWS must be at least 1")

# Partner-facing links in statements and e-mails are absolute when this is set (e.g. https://partners.bank.example).
PARTNER_PORTAL_BASE_URL = env.str("PARTNER_PORTAL_BASE_URL", default="")
# The staff site's address (scheme and host, e.g. https://mo.bank.example) put before the admin links in
# notification e-mails; empty: the links are paths on the staff site.
WORKSPACE_BASE_URL = env.str("WORKSPACE_BASE_URL", default="")
# The bank's name on statements (Chinese, English) until head office sets the statement issuer in the admin.
STATEMENT_BANK_NAME = env.str("STATEMENT_BANK_NAME", default="开放联盟银行")
STATEMENT_BANK_NAME_EN = env.str("STATEMENT_BANK_NAME_EN", default="Open Alliance Bank")
# Days from a statement's issue date to the payment due date printed on it (the partner's invoice received).
STATEMENT_PAYMENT_TERMS_DAYS = env.int("STATEMENT_PAYMENT_TERMS_DAYS", default=30)
# Days from a statement's issue date within which a partner disputes a line (printed as the dispute deadline).
STATEMENT_DISPUTE_WINDOW_DAYS = env.int("STATEMENT_DISPUTE_WINDOW_DAYS", default=60)
if STATEMENT_PAYMENT_TERMS_DAYS < 0 or STATEMENT_DISPUTE_WINDOW_DAYS < 1:
    raise ImproperlyConfigured(
        "STATEMENT_PAYMENT_TERMS_DAYS must be 0 or more, STATEMENT_DISPUTE_WINDOW_DAYS 1 or more"
    )
# Settlements whose statements one task issues after a close (read, inserted and evented together).
STATEMENT_ISSUE_CHUNK = env.int("STATEMENT_ISSUE_CHUNK", default=50)
if STATEMENT_ISSUE_CHUNK < 1:
    raise ImproperlyConfigured("STATEMENT_ISSUE_CHUNK must be 1 or more")
# Public statement verification (/verify/): lookups per client address and window, counted in CACHES["default"].
STATEMENT_VERIFY_MAX_LOOKUPS = env.int("STATEMENT_VERIFY_MAX_LOOKUPS", default=20)
STATEMENT_VERIFY_WINDOW_SECONDS = env.int("STATEMENT_VERIFY_WINDOW_SECONDS", default=600)
# Webhook URLs may point into private networks only when this is set (a test or an internal deployment).
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)
# Requests per partner to the partner API (all its users' tokens and sessions together); counted in CACHES["default"].
PARTNER_API_THROTTLE_RATE = env.str("PARTNER_API_THROTTLE_RATE", default="120/minute")
# Days an API token (partner users' and source systems') lives from its creation.
API_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=90)
if API_TOKEN_TTL_DAYS < 1:
    raise ImproperlyConfigured("API_TOKEN_TTL_DAYS must be at least 1")
# A suspended partner's users may still sign in to the portal to read and download past statements (nothing else).
PORTAL_SUSPENDED_PARTNER_CAN_READ_STATEMENTS = env.bool("PORTAL_SUSPENDED_PARTNER_CAN_READ_STATEMENTS", default=True)
# Statement and detail-file downloads per partner in the portal; counted in CACHES["default"].
PORTAL_DOWNLOAD_THROTTLE_RATE = env.str("PORTAL_DOWNLOAD_THROTTLE_RATE", default="60/minute")

# Addresses (networks) that see each component's result on /health/ready, besides staff users; others see the
# status only. The connecting address: behind a reverse proxy on the same machine every request would come from
# 127.0.0.1, so there set the proxy's internal probes' network instead (or nothing).
HEALTH_DETAIL_NETWORKS = env.list("HEALTH_DETAIL_NETWORKS", default=["127.0.0.1/32", "::1/128"])
try:
    [ipaddress.ip_network(net, strict=False) for net in HEALTH_DETAIL_NETWORKS]
except ValueError as exc:
    raise ImproperlyConfigured(f"HEALTH_DETAIL_NETWORKS: {exc}") from exc

# Prometheus metrics (/metrics, core.metrics): readable from HEALTH_DETAIL_NETWORKS, by staff users, and by a scraper
# sending "Authorization: Bearer <token>" whose SHA-256 (hex) is listed here.
METRICS_TOKEN_SHA256 = [d.lower() for d in env.list("METRICS_TOKEN_SHA256", default=[])]
if any(len(d) != 64 or set(d) - set("0123456789abcdef") for d in METRICS_TOKEN_SHA256):
    raise ImproperlyConfigured("METRICS_TOKEN_SHA256 lists SHA-256 digests: 64 hexadecimal characters each")
# A directory every process of the machine writes its metric files to (gunicorn's workers, Celery's pool), so that
# /metrics adds them up; prometheus_client reads it from the environment. Empty: each process reports its own.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR and not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
    raise ImproperlyConfigured(f"PROMETHEUS_MULTIPROC_DIR ({PROMETHEUS_MULTIPROC_DIR}) is not an existing directory")

# Error reporting to Sentry (or a compatible service) when a DSN is set; off otherwise. No personal data is sent.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="production")
# Share of requests and tasks also traced for performance (0 to 1); errors are always reported.
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if not 0 <= SENTRY_TRACES_SAMPLE_RATE <= 1:
    raise ImproperlyConfigured("SENTRY_TRACES_SAMPLE_RATE must be between 0 and 1")
if SENTRY_DSN:
    from core.error_reporting import error_reporting_init

    error_reporting_init(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT, traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)

# Backups (manage.py backup / restore, core.backups): one timestamped folder per backup set under BACKUP_ROOT,
# which must be outside every media folder. ``backup --prune`` deletes sets older than the retention, never the newest.
BACKUP_ROOT = env.path("BACKUP_ROOT", default=BASE_DIR / "backups")
BACKUP_RETENTION_DAYS = env.int("BACKUP_RETENTION_DAYS", default=35)
if BACKUP_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("BACKUP_RETENTION_DAYS must be at least 1")

EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="partner-office@bank.example")

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Every log line carries the id of the request it was written in (core.request_id); readable lines here,
# JSON lines in production (config.settings.production), one object per line for the log collector.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.request_id.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(request_id)s %(run_id)s %(task_id)s %(process)d %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            # ISO 8601 in UTC, with milliseconds: unambiguous whatever the machines' time zones.
            "timestamp": "time",
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Celery logs every task's success at INFO; in-process (eager) runs would drown the command output.
    # Axes greets every process at INFO with its version.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
        "axes.apps": {"level": "WARNING"},
    },
}
# Workers log through LOGGING above (JSON lines in production), not through Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
