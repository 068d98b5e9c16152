"""Limits on failed sign-ins: django-axes, counted in the shared cache (``CACHES["default"]``).

Every password sign-in (the admin's, the portal's, and so the API's session authentication) goes
through ``django.contrib.auth.authenticate``. Axes' backend refuses a locked account or address
there before any password is checked, and each failure is counted twice: for its account (from any
address) and for its client address (on any account). An account locks after
``SIGN_IN_ACCOUNT_FAILURE_LIMIT`` failures, an address after ``SIGN_IN_ADDRESS_FAILURE_LIMIT``; a
lock lasts ``SIGN_IN_COOL_OFF_MINUTES`` unless head office lifts it sooner
(``organisation.services.sign_in_unlock``, or ``manage.py axes_reset_username`` / ``axes_reset_ip``).

The settings in ``config/settings/base.py`` point axes at the functions here.
"""

from __future__ import annotations

from datetime import timedelta

from axes.handlers.cache import AxesCacheHandler
from axes.helpers import get_cache, get_client_cache_keys, get_client_username, make_cache_key_list
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import BaseCache
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import ngettext

from organisation.models import User

# Axes keys a counter by the hash of its value alone: an account named "203.0.113.5" would share the
# counter of the address 203.0.113.5, and anyone could lock an office's address by failing to sign in
# under its number. Accounts are counted under this prefix instead.
ACCOUNT_COUNTER_PREFIX = "account:"


def _counter_name(username: str | None) -> str | None:
    return None if username is None else f"{ACCOUNT_COUNTER_PREFIX}{username}"


def sign_in_counter_name(request: HttpRequest, credentials: dict | None) -> str | None:
    """The name an account's failures are counted under (``AXES_USERNAME_CALLABLE``)."""
    if credentials:
        username = credentials.get(User.USERNAME_FIELD)
    else:
        username = getattr(request, "data", request.POST).get(User.USERNAME_FIELD)
    return _counter_name(username)


def sign_in_failure_limit(request: HttpRequest | None, credentials: dict | None) -> int:
    """Axes' single limit (``AXES_FAILURE_LIMIT``): the higher one, so axes alone never locks too early."""
    return max(settings.SIGN_IN_ACCOUNT_FAILURE_LIMIT, settings.SIGN_IN_ADDRESS_FAILURE_LIMIT)


def sign_in_cool_off(request: HttpRequest | None) -> timedelta:
    """How long a lock lasts (``AXES_COOLOFF_TIME``)."""
    return timedelta(minutes=settings.SIGN_IN_COOL_OFF_MINUTES)


class SignInLimitHandler(AxesCacheHandler):
    """Axes' cache handler with a limit of its own for each of the two counters.

    Axes compares the highest of a request's counters with one limit. Here the account's counter is
    compared with the account limit and the address's with the (higher) address limit, so that one
    partner user's lock leaves the colleagues behind the same proxy free to sign in.
    """

    def __init__(self) -> None:
        # No cache object is kept: Django hands one out per thread, and anew when settings.CACHES changes.
        pass

    @property
    def cache(self) -> BaseCache:
        return get_cache()

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        account_key, address_key = get_client_cache_keys(request, credentials)  # AXES_LOCKOUT_PARAMETERS' order
        counts = self.cache.get_many([account_key, address_key])
        return (
            counts.get(account_key, 0) >= settings.SIGN_IN_ACCOUNT_FAILURE_LIMIT
            or counts.get(address_key, 0) >= settings.SIGN_IN_ADDRESS_FAILURE_LIMIT
        )

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        # Axes locked only if a counter reached the higher limit; the account's own limit is applied here.
        if request is not None and not request.axes_locked_out and self.is_locked(request, credentials):
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send(
                "axes",
                request=request,
                username=get_client_username(request, credentials),
                ip_address=request.axes_ip_address,
            )

    def reset_attempts(
        self, *, ip_address: str | None = None, username: str | None = None, ip_or_username: bool = False
    ) -> int:
        return super().reset_attempts(
            ip_address=ip_address, username=_counter_name(username), ip_or_username=ip_or_username
        )


def sign_in_failures(*, username: str | None = None, address: str | None = None) -> int:
    """Failed sign-ins counted now for an account or a client address (0 after a cool-off or an unlock)."""
    if (username is None) == (address is None):
        raise ValueError("name an account or an address")
    parameter = {"username": _counter_name(username)} if username is not None else {"ip_address": address}
    (key,) = make_cache_key_list([parameter])
    return get_cache().get(key, 0)


def sign_in_is_locked(*, username: str | None = None, address: str | None = None) -> bool:
    """Whether an account (or a client address) is locked now."""
    if username is not None:
        return sign_in_failures(username=username) >= settings.SIGN_IN_ACCOUNT_FAILURE_LIMIT
    return sign_in_failures(address=address) >= settings.SIGN_IN_ADDRESS_FAILURE_LIMIT


def sign_in_refused(*, request: HttpRequest, username: str) -> None:
    """Count a right password for an account that may not sign in on this page as a failed sign-in.

    The form then raises its wrong-password error: neither the page nor the count (nor so the lock)
    tells that the password was right.
    """
    user_login_failed.send(sender=__name__, credentials={User.USERNAME_FIELD: username}, request=request)


def sign_in_locked_message() -> str:
    minutes = settings.SIGN_IN_COOL_OFF_MINUTES
    return ngettext(
        "Too many failed sign-ins. Signing in is locked for up to %(minutes)d minute; "
        "the bank's head office can unlock it sooner.",
        "Too many failed sign-ins. Signing in is locked for up to %(minutes)d minutes; "
        "the bank's head office can unlock it sooner.",
        minutes,
    ) % {"minutes": minutes}


def sign_in_locked_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """The page that was signed in on, again, with the lock-out message and 429 (``AXES_LOCKOUT_CALLABLE``).

    The same message whatever was typed: a locked sign-in checks no password.
    """
    message = sign_in_locked_message()
    context = getattr(original_response, "context_data", None) or {}
    form = context.get("form")
    if form is None:  # not a sign-in page (no such page calls authenticate() today)
        return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    form.errors.clear()
    form.add_error(None, message)
    # Rendered here: the middleware runs after the view's own response was rendered.
    return TemplateResponse(request, original_response.template_name, context, status=429).render()
