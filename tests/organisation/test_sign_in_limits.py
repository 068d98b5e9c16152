"""Failed sign-ins lock an account (from any address) and an address (on any accounts), in the admin and the portal;
head office, and no one else, unlocks them.

The limits are lowered here: an account locks after 3 failures, an address after 7. Each attempt
comes from a new client (no cookies), as a guesser's would.
"""

from __future__ import annotations

import io
import re
import uuid

import pytest
from axes.helpers import make_cache_key_list
from django.conf import settings as django_settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.core.management import call_command
from django.test import Client

from core.errors import NotPermitted
from organisation.services import sign_in_unlock
from organisation.sign_in import sign_in_failures, sign_in_is_locked
from tests.revenue.conftest import token_client

ADMIN = "/admin/login/"
PORTAL = "/portal/login/"
USERS = "/admin/organisation/user/"
ADDRESS_UNLOCK = "/admin/organisation/user/sign-in-unlock/"
LOCKED_ZH = "登录失败次数过多"
OFFICE = "203.0.113.20"  # a partner's office: every user behind its proxy signs in from this address


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.SIGN_IN_ACCOUNT_FAILURE_LIMIT = 3
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 7
    settings.SIGN_IN_COOL_OFF_MINUTES = 30


def sign_in(url: str, username: str, password: str, address: str = "198.51.100.1", **extra):
    return Client(REMOTE_ADDR=address).post(url, {"username": username, "password": password}, **extra)


def page(response) -> str:
    """The page without its CSRF token (a new one on every response)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


def signed_in(response) -> bool:
    return "_auth_user_id" in response.wsgi_request.session


def lock_account(username: str, url: str = PORTAL) -> None:
    for n in range(3):
        sign_in(url, username, "wrong", address=f"198.51.100.{10 + n}")
    assert sign_in_is_locked(username=username)


def staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# ---- the lock ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "username", "form_marker"), [(ADMIN, "hq_admin", 'id="login-form"'), (PORTAL, "partner_x", 'class="card"')]
)
def test_after_the_limit_even_the_right_password_is_refused(url, username, form_marker, head_office, partner_user_x):
    for _ in range(2):
        response = sign_in(url, username, "wrong")
        assert response.status_code == 200 and LOCKED_ZH not in page(response)
    locking = sign_in(url, username, "wrong")
    assert locking.status_code == 429 and LOCKED_ZH in page(locking)

    right = sign_in(url, username, "pw")
    assert right.status_code == 429 and not signed_in(right)
    shown = page(right)
    assert LOCKED_ZH in shown and "30 分钟" in shown
    assert form_marker in shown and '<html lang="zh' in shown  # the sign-in page itself, in Chinese
    # Nothing tells that the password was right: a wrong one now gets the very same page.
    assert shown == page(sign_in(url, username, "wrong"))


def test_the_lock_out_message_is_english_when_asked(partner_user_x):
    lock_account("partner_x")
    response = sign_in(PORTAL, "partner_x", "pw", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 429
    assert "Too many failed sign-ins. Signing in is locked for up to 30 minutes" in page(response)
    assert LOCKED_ZH not in page(response)


def test_failures_on_several_accounts_lock_their_address(partner_user_x):
    for n in range(6):  # one failure each: no account reaches its limit
        assert sign_in(PORTAL, f"guess{n}", "wrong", address=OFFICE).status_code == 200
    assert sign_in(PORTAL, "guess6", "wrong", address=OFFICE).status_code == 429  # the address's 7th
    assert sign_in_is_locked(address=OFFICE) and not sign_in_is_locked(username="partner_x")

    refused = sign_in(PORTAL, "partner_x", "pw", address=OFFICE)
    assert refused.status_code == 429 and LOCKED_ZH in page(refused) and not signed_in(refused)
    assert sign_in(PORTAL, "partner_x", "pw", address="198.51.100.77").status_code == 302


def test_failures_from_several_addresses_lock_the_account(partner_user_x, partner_user_y):
    for n in range(2):
        assert sign_in(PORTAL, "partner_x", "wrong", address=f"198.51.100.{n + 1}").status_code == 200
    assert sign_in(PORTAL, "partner_x", "wrong", address="198.51.100.3").status_code == 429

    assert sign_in(PORTAL, "partner_x", "pw", address="198.51.100.99").status_code == 429
    # The addresses are not locked: one failure each.
    assert sign_in(PORTAL, "partner_y", "pw", address="198.51.100.1").status_code == 302


def test_a_locked_partner_user_leaves_colleagues_behind_the_same_address_free_until_the_address_limit(
    partner_user_x, partner_user_y
):
    for _ in range(3):
        sign_in(PORTAL, "partner_x", "wrong", address=OFFICE)
    assert sign_in(PORTAL, "partner_x", "pw", address=OFFICE).status_code == 429
    assert sign_in(PORTAL, "partner_y", "pw", address=OFFICE).status_code == 302  # (and clears the office's count)

    for n in range(6):
        assert sign_in(PORTAL, f"typo{n}", "wrong", address=OFFICE).status_code == 200
    assert sign_in(PORTAL, "typo6", "wrong", address=OFFICE).status_code == 429  # the office's 7th since
    assert sign_in(PORTAL, "partner_y", "pw", address=OFFICE).status_code == 429


def test_an_account_named_like_an_address_does_not_count_for_that_address(partner_user_x):
    # Failing to sign in as "203.0.113.20" from elsewhere must not add to the failures of the address 203.0.113.20.
    for n in range(3):
        sign_in(PORTAL, OFFICE, "wrong", address=f"198.51.100.{n + 1}")
    for n in range(4):
        assert sign_in(PORTAL, f"typo{n}", "wrong", address=OFFICE).status_code == 200
    assert sign_in_failures(address=OFFICE) == 4
    assert sign_in(PORTAL, "partner_x", "pw", address=OFFICE).status_code == 302


# ---- a right password on the wrong door ---------------------------------------------------------------


def test_a_staff_password_at_the_portal_is_refused_like_a_wrong_one_and_counted(head_office):
    right = sign_in(PORTAL, "hq_admin", "pw")
    wrong = sign_in(PORTAL, "hq_admin", "wrong")
    assert right.status_code == wrong.status_code == 200 and not signed_in(right)
    assert page(right) == page(wrong)
    assert "请输入一个正确的用户名和密码" in page(right)
    assert sign_in_failures(username="hq_admin") == 2
    assert sign_in(PORTAL, "hq_admin", "pw").status_code == 429  # the third failure locks, as any would
    assert sign_in(ADMIN, "hq_admin", "pw").status_code == 429


def test_a_partner_password_at_the_admin_is_refused_like_a_wrong_one_and_counted(partner_user_x):
    right = sign_in(ADMIN, "partner_x", "pw")
    wrong = sign_in(ADMIN, "partner_x", "wrong")
    assert right.status_code == wrong.status_code == 200 and not signed_in(right)
    assert page(right) == page(wrong)
    assert sign_in_failures(username="partner_x") == 2


# ---- where the counts live ----------------------------------------------------------------------------


def test_the_counts_live_in_the_default_cache(partner_user_x):
    lock_account("partner_x")
    (key,) = make_cache_key_list([{"username": "account:partner_x"}])
    assert cache.get(key) == 3  # django.core.cache.cache, i.e. CACHES["default"]
    assert sign_in(PORTAL, "partner_x", "pw").status_code == 429  # a new client, a new address: still locked
    cache.clear()
    assert sign_in(PORTAL, "partner_x", "pw").status_code == 302


def test_the_lock_is_shared_through_redis(settings, partner_user_x):
    """With a Redis cache the count is in Redis: another connection (another process's) reads it."""
    if not django_settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs Redis (CELERY_BROKER_URL)")
    prefix = f"test-sign-in-{uuid.uuid4().hex}"
    redis = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": django_settings.CELERY_BROKER_URL}
    # A cache alias of its own: the tests' clean-up clears the default cache, never the broker's Redis database.
    settings.CACHES = {**settings.CACHES, "sign-in": {**redis, "KEY_PREFIX": prefix}}
    settings.AXES_CACHE = "sign-in"
    elsewhere = RedisCache(redis["LOCATION"], {"KEY_PREFIX": prefix})
    keys = make_cache_key_list([{"username": "account:partner_x"}, {"ip_address": OFFICE}])
    try:
        for _ in range(3):
            sign_in(PORTAL, "partner_x", "wrong", address=OFFICE)
        assert elsewhere.get(keys[0]) == 3 and elsewhere.get(keys[1]) == 3
        assert cache.get(keys[0]) is None  # not in the process's own memory
        assert sign_in(PORTAL, "partner_x", "pw").status_code == 429
        sign_in_unlock_by_command("partner_x")
        assert elsewhere.get(keys[0]) is None
    finally:
        elsewhere.delete_many(keys)


def sign_in_unlock_by_command(username: str) -> None:
    call_command("axes_reset_username", username, stdout=io.StringIO())


def test_a_locked_partner_user_keeps_api_token_access(partner_user_x):
    # Tokens are not passwords: the sign-in limits leave token authentication alone.
    lock_account("partner_x")
    assert token_client(partner_user_x).get("/api/v1/partner/settlements/").status_code == 200


# ---- unlocking ----------------------------------------------------------------------------------------


def test_head_office_unlocks_a_user_and_the_unlock_is_recorded(head_office, partner_user_x):
    lock_account("partner_x")
    admin = staff_client(head_office)
    listing = admin.get(USERS, {"q": "partner_x"}).content.decode()
    assert "解除登录锁定" in listing and listing.count('alt="True"') == 2  # active, and locked

    response = admin.post(USERS, {"action": "unlock_sign_in", "_selected_action": [partner_user_x.pk]}, follow=True)
    assert response.status_code == 200 and "已解除 1 个用户的登录锁定" in response.content.decode()
    assert not sign_in_is_locked(username="partner_x")
    assert admin.get(USERS, {"q": "partner_x"}).content.decode().count('alt="True"') == 1
    assert sign_in(PORTAL, "partner_x", "pw").status_code == 302

    entry = LogEntry.objects.get()
    assert entry.user == head_office and entry.content_type.model == "user"
    assert entry.object_id == str(partner_user_x.pk) and entry.is_change()
    assert entry.change_message == "解除登录锁定：用户 partner_x"


def test_head_office_unlocks_an_address(head_office, partner_user_x):
    for n in range(7):
        sign_in(PORTAL, f"guess{n}", "wrong", address=OFFICE)
    assert sign_in(PORTAL, "partner_x", "pw", address=OFFICE).status_code == 429
    admin = staff_client(head_office)
    assert "解除客户端地址锁定" in admin.get(USERS).content.decode()
    assert admin.get(ADDRESS_UNLOCK).status_code == 200

    response = admin.post(ADDRESS_UNLOCK, {"address": OFFICE})
    assert response.status_code == 302 and response["Location"] == USERS
    assert sign_in(PORTAL, "partner_x", "pw", address=OFFICE).status_code == 302
    entry = LogEntry.objects.get()
    assert (entry.user, entry.content_type, entry.object_repr) == (head_office, None, OFFICE)
    assert entry.change_message == f"解除登录锁定：地址 {OFFICE}"


@pytest.mark.parametrize("persona", ["rm_a", "reviewer_a", "finance", "partner_user_y"])
def test_no_one_but_head_office_unlocks(request, persona, partner_user_x):
    user = request.getfixturevalue(persona)
    lock_account("partner_x")
    client = staff_client(user)
    posted = client.post(USERS, {"action": "unlock_sign_in", "_selected_action": [partner_user_x.pk]})
    assert posted.status_code in (302, 403)  # 302: a partner's user is sent to the admin's sign-in
    assert client.post(ADDRESS_UNLOCK, {"address": OFFICE}).status_code in (302, 403)
    with pytest.raises(NotPermitted):
        sign_in_unlock(by=user, user=partner_user_x)
    assert sign_in_is_locked(username="partner_x")
    assert not LogEntry.objects.exists()


def test_head_office_without_the_permission_cannot_unlock(head_office, partner_user_x):
    # The action is there for the permission, not the role's name.
    head_office.groups.clear()
    head_office.user_permissions.add(
        Permission.objects.get(content_type__app_label="organisation", codename="view_user")
    )
    lock_account("partner_x")
    client = staff_client(head_office)
    assert "unlock_sign_in" not in client.get(USERS).content.decode()
    client.post(USERS, {"action": "unlock_sign_in", "_selected_action": [partner_user_x.pk]})
    assert client.get(ADDRESS_UNLOCK).status_code == 403
    assert sign_in_is_locked(username="partner_x")


def test_operations_unlock_from_the_command_line(partner_user_x):
    lock_account("partner_x")
    sign_in_unlock_by_command("partner_x")
    assert sign_in(PORTAL, "partner_x", "pw").status_code == 302

    for n in range(7):
        sign_in(PORTAL, f"guess{n}", "wrong", address=OFFICE)
    call_command("axes_reset_ip", OFFICE, stdout=io.StringIO())
    assert sign_in(PORTAL, "partner_x", "pw", address=OFFICE).status_code == 302
