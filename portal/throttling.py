"""The portal's download limit: statement PDFs and detail files per partner, counted in the shared cache."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int]:
    """``"60/minute"`` → (60, 60): requests and window in seconds (DRF's notation)."""
    try:
        count, period = rate.split("/")
        return int(count), _PERIODS[period.strip().lower()]
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"Not a rate such as 60/minute: {rate!r}") from exc


def portal_download_wait(*, partner_id: int, now: float | None = None) -> int | None:
    """Count one download of the partner; the seconds to wait when it is over ``PORTAL_DOWNLOAD_THROTTLE_RATE``.

    A fixed window per partner (all its users together, so a second account does not double the
    allowance): the counter's key names the window, so it needs no reset.
    """
    limit, window = rate_parse(settings.PORTAL_DOWNLOAD_THROTTLE_RATE)
    now = time.time() if now is None else now
    window_index = int(now // window)
    key = f"portal-download:{partner_id}:{window_index}"
    if cache.add(key, 1, window):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.set(key, 1, window)
            count = 1
    if count <= limit:
        return None
    return max(1, int((window_index + 1) * window - now))
