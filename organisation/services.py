from __future__ import annotations

import importlib
import logging
from collections import defaultdict

from axes.handlers.proxy import AxesProxyHandler
from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from core.errors import NotPermitted
from organisation.models import User
from organisation.roles import STAFF_ROLES, Role

logger = logging.getLogger(__name__)


def role_permission_map() -> dict[str, set[str]]:
    """Every installed app's ``roles.ROLE_PERMISSIONS``, merged per role."""
    merged: dict[str, set[str]] = defaultdict(set)
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.roles")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.roles":
                raise
            continue
        for role, perms in getattr(module, "ROLE_PERMISSIONS", {}).items():
            merged[str(role)].update(perms)
    return merged


@transaction.atomic
def roles_sync() -> dict[str, int]:
    """Create or update one group per role with exactly its declared permissions.

    Fails loudly when a declared permission does not exist, so a typo in a
    role definition cannot silently grant less (or nothing).
    """
    counts = {}
    declared = role_permission_map()
    for role in Role:
        wanted = declared.get(role.value, set())
        lookup = Q(pk__in=[])
        for dotted in wanted:
            app_label, codename = dotted.split(".", 1)
            lookup |= Q(content_type__app_label=app_label, codename=codename)
        permissions = list(Permission.objects.filter(lookup))
        found = {f"{p.content_type.app_label}.{p.codename}" for p in permissions}
        missing = wanted - found
        if missing:
            raise LookupError(f"Role {role.value} names unknown permissions: {sorted(missing)}")
        group, _ = Group.objects.get_or_create(name=role.value)
        group.permissions.set(permissions)
        counts[role.value] = len(permissions)
    return counts


def roles_sync_after_migrate(sender, **kwargs) -> None:
    # Run once, after the last app's post_migrate created its permissions (only apps with models get one).
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender.name == with_models[-1].name:
        roles_sync()


def user_has_role(user: User, role: Role) -> bool:
    return user.is_active and user.groups.filter(name=role.value).exists()


def user_sees_all_branches(user: User) -> bool:
    """Head office (and finance) act on every branch; everyone else on their own."""
    return user.is_active and (user.is_superuser or user.has_perm("organisation.access_all_branches"))


def user_create(
    *,
    username: str,
    password: str,
    roles: list[Role],
    branch=None,
    partner=None,
    display_name: str = "",
    email: str = "",
) -> User:
    user = User(
        username=username,
        display_name=display_name,
        email=email,
        branch=branch,
        partner=partner,
        is_staff=any(r in STAFF_ROLES for r in roles),
    )
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.set(Group.objects.filter(name__in=[r.value for r in roles]))
    return user


@transaction.atomic
def sign_in_unlock(*, by: User, user: User | None = None, address: str | None = None) -> int:
    """Lift the sign-in lock of an account and/or a client address now, rather than at the end of its cool-off.

    Head office only (``organisation.unlock_sign_in``). Clears the failures counted for them (the
    lock, or the count towards one) in the cache, and records who unlocked what, and when, in the
    admin's log (a ``LogEntry`` on the user, or without an object for an address alone). Returns how
    many counters were cleared: 0 when nothing was counted for them.
    """
    if not (by.is_active and by.has_perm("organisation.unlock_sign_in")):
        raise NotPermitted(_("Only head office can unlock sign-ins."))
    if user is None and not address:
        raise ValidationError(_("Name a user or a client address to unlock."))
    # The record is written in the product's language, whoever reads it later.
    with translation.override(settings.LANGUAGE_CODE):
        what = []
        if user is not None:
            what.append(gettext("user %(username)s") % {"username": user.get_username()})
        if address:
            what.append(gettext("address %(address)s") % {"address": address})
        message = gettext("Sign-in unlocked: %(what)s") % {"what": pgettext("list separator", ", ").join(what)}
    LogEntry.objects.create(
        user=by,
        content_type=ContentType.objects.get_for_model(User) if user is not None else None,
        object_id=str(user.pk) if user is not None else None,
        object_repr=str(user if user is not None else address)[:200],
        action_flag=CHANGE,
        change_message=message,
    )
    # Recorded first: an unlock whose record cannot be written does not happen.
    cleared = AxesProxyHandler.reset_attempts(
        username=user.get_username() if user is not None else None, ip_address=address or None
    )
    logger.warning("%s by %s (%d counters cleared)", message, by.get_username(), cleared)
    return cleared


def user_language_set(*, user: User, language: str) -> None:
    """Keep the language the user chose in the admin or the portal: their notification e-mails follow it."""
    if language not in dict(settings.LANGUAGES):
        raise ValidationError(_("Unknown language: %(language)s") % {"language": language})
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
