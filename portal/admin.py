"""API tokens in the admin: seen (prefix, holder, dates, never a secret) and revoked; issued by their holders or by
``manage.py api_token_issue`` for source systems' accounts."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import ReadOnlyAdminMixin
from portal.models import ApiToken
from portal.services import api_token_revoke


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Narrow enough for a 1366-pixel screen beside the filters: the holder's organisation, dates without times.
    list_display = ["prefix", "holder", "name", "expires_on", "last_used_at", "state"]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["prefix", "user__username", "user__partner__legal_name", "name"]
    list_select_related = ["user", "user__partner"]
    actions = ["revoke"]

    @admin.display(description=_("holder"), ordering="user__username")
    def holder(self, token: ApiToken) -> str:
        partner = token.user.partner
        return f"{token.user.username} · {partner.legal_name}" if partner else token.user.username

    @admin.display(description=_("expires on"), ordering="expires_at")
    def expires_on(self, token: ApiToken) -> str:
        return timezone.localtime(token.expires_at).strftime("%Y-%m-%d")

    @admin.display(description=_("state"))
    def state(self, token: ApiToken) -> str:
        if token.revoked_at is not None:
            return _("revoked %(date)s") % {"date": timezone.localtime(token.revoked_at).strftime("%Y-%m-%d")}
        return _("in use") if token.is_usable() else _("expired")

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("portal.change_apitoken")

    @admin.action(description=_("Revoke the selected tokens"), permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = 0
        for token in queryset:
            if api_token_revoke(token=token):
                revoked += 1
                # Recorded in the admin's log: who revoked which token, and when.
                self.log_change(request, token, [{"changed": {"fields": ["revoked_at"]}}])
        self.message_user(
            request,
            ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", revoked) % {"count": revoked},
            messages.SUCCESS,
        )
