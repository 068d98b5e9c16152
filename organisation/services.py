from __future__ import annotations

import importlib
from collections import defaultdict

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

from organisation.models import User
from organisation.roles import STAFF_ROLES, Role


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
    # Run once, after the last app's post_migrate created its permissions.
    if sender.name == list(apps.get_app_configs())[-1].name:
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
