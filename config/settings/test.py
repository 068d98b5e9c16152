"""Settings of the test suite: the defaults of ``base`` (DEBUG off), with a key of its own.

The suite runs on the embedded default (SQLite, eager Celery) or, with DATABASE_URL and
CELERY_BROKER_URL set, on PostgreSQL with real workers, which inherit these settings.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-suite-only-key-never-used-outside-the-tests-0123456789")

from .base import *  # noqa: F403

# Static files from the apps' folders, looked up per request: the suite (the browser test included) needs no
# collectstatic, and WhiteNoise does not warn about an empty STATIC_ROOT.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
