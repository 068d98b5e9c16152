"""Admin of the organisation: head office's list of users and the unlock of locked sign-ins.

Users are read-only here (they are created by ``organisation.services.user_create`` and the
demo); whoever may view users (head office) sees each one's sign-in lock. Whoever holds
``organisation.unlock_sign_in`` (head office) unlocks selected users (the action 解除登录锁定)
or a client address (the page linked above the list), through ``sign_in_unlock``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext

from core.admin import error_text
from core.errors import ApplicationError
from organisation.forms import AddressUnlockForm
from organisation.models import User
from organisation.roles import Role
from organisation.services import sign_in_unlock
from organisation.sign_in import sign_in_is_locked


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("username", "display_name", "branch", "partner", "is_staff", "is_active", "last_login")
    list_display += ("sign_in_locked",)
    list_filter = ("is_staff", "is_active", "branch")
    search_fields = ("username", "display_name", "email")
    list_select_related = ("branch", "partner")
    # Never the password hash.
    fields = ("username", "display_name", "first_name", "last_name", "email", "branch", "partner", "roles")
    fields += ("is_staff", "is_active", "last_login", "date_joined", "sign_in_locked")
    readonly_fields = fields
    actions = ("unlock_sign_in",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_unlock_sign_in_permission(self, request) -> bool:
        return request.user.has_perm("organisation.unlock_sign_in")

    @admin.display(description=_("roles"))
    def roles(self, obj: User) -> str:
        names = sorted(group.name for group in obj.groups.all())
        labels = [str(Role(name).label) if name in Role.values else name for name in names]
        return pgettext("list separator", ", ").join(labels) or "-"

    @admin.display(description=_("sign-in locked"), boolean=True)
    def sign_in_locked(self, obj: User) -> bool:
        return sign_in_is_locked(username=obj.get_username())

    @admin.action(description=_("Unlock sign-in"), permissions=["unlock_sign_in"])
    def unlock_sign_in(self, request, queryset):
        users = list(queryset)
        try:
            for user in users:
                sign_in_unlock(by=request.user, user=user)
        except (ApplicationError, ValidationError) as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext(
                "Sign-in unlocked for %(count)d user; they can sign in again at once.",
                "Sign-in unlocked for %(count)d users; they can sign in again at once.",
                len(users),
            )
            % {"count": len(users)},
            messages.SUCCESS,
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_unlock": self.has_unlock_sign_in_permission(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        return [
            path(
                "sign-in-unlock/",
                self.admin_site.admin_view(self.address_unlock_view),
                name="organisation_user_address_unlock",
            ),
            *super().get_urls(),
        ]

    def address_unlock_view(self, request):
        if not self.has_unlock_sign_in_permission(request):
            raise PermissionDenied
        form = AddressUnlockForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            address = form.cleaned_data["address"]
            try:
                sign_in_unlock(by=request.user, address=address)
            except (ApplicationError, ValidationError) as exc:
                self.message_user(request, error_text(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("Sign-in unlocked for the address %(address)s.") % {"address": address},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:organisation_user_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Unlock a client address"),
            "opts": self.model._meta,
            "form": form,
            "address_limit": settings.SIGN_IN_ADDRESS_FAILURE_LIMIT,
            "cool_off_minutes": settings.SIGN_IN_COOL_OFF_MINUTES,
        }
        return TemplateResponse(request, "admin/organisation/user/address_unlock.html", context)
