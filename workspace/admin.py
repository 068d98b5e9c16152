"""The inbox: each user's own notifications in the admin (open marks read; mark selected or all read)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from workspace import services
from workspace.models import Notification
from workspace.selectors import notification_list


class ReadFilter(admin.SimpleListFilter):
    title = _("read")
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return (("no", _("Unread")), ("yes", _("Read")))

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(read_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Every staff user reads here only what was addressed to them; nothing is added or edited by hand."""

    list_display = ("notification", "kind", "actor", "created_at", "read_at")
    list_filter = (ReadFilter, "kind")
    list_display_links = None
    list_per_page = 50
    actions = ("mark_read",)

    def get_queryset(self, request):
        return notification_list(user=request.user)

    def _is_staff(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request):
        return self._is_staff(request)

    def has_view_permission(self, request, obj=None):
        return self._is_staff(request) and (obj is None or obj.recipient_id == request.user.pk)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        # The admin offers actions only to users with change permission; marking one's own read is not a change.
        actions = super().get_actions(request)
        if self._is_staff(request) and "mark_read" not in actions:
            actions["mark_read"] = self.get_action("mark_read")
        return actions

    @admin.display(description=_("notification"))
    def notification(self, obj: Notification):
        url = reverse("admin:workspace_notification_open", args=[obj.pk])
        style = "" if obj.is_read else "font-weight:bold"
        comment = format_html("<br><span class='quiet'>{}</span>", obj.comment[:200]) if obj.comment else ""
        return format_html('<a href="{}" style="{}">{}</a>{}', url, style, obj.title, comment)

    @admin.action(description=_("Mark the selected notifications read"))
    def mark_read(self, request, queryset):
        done = 0
        for notification in queryset.filter(read_at__isnull=True):
            services.notification_mark_read(notification=notification, by=request.user)
            done += 1
        self.message_user(
            request,
            ngettext("%(count)d notification marked read.", "%(count)d notifications marked read.", done)
            % {"count": done},
            messages.SUCCESS,
        )

    def get_urls(self):
        return [
            path(
                "<int:notification_id>/open/",
                self.admin_site.admin_view(self.open_view),
                name="workspace_notification_open",
            ),
            path(
                "mark-all-read/",
                self.admin_site.admin_view(require_POST(self.mark_all_read_view)),
                name="workspace_notification_mark_all_read",
            ),
            *super().get_urls(),
        ]

    def open_view(self, request, notification_id: int):
        """Mark the notification read and go to what it is about; someone else's is not found."""
        if not self._is_staff(request):
            raise Http404
        notification = get_object_or_404(self.get_queryset(request), pk=notification_id)
        services.notification_mark_read(notification=notification, by=request.user)
        target = notification.url
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:workspace_notification_changelist")
        return HttpResponseRedirect(target)

    def mark_all_read_view(self, request):
        if not self._is_staff(request):
            raise Http404
        count = services.notifications_mark_all_read(by=request.user)
        self.message_user(
            request,
            ngettext("%(count)d notification marked read.", "%(count)d notifications marked read.", count)
            % {"count": count},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:workspace_notification_changelist"))

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "title": _("My notifications")}
        return super().changelist_view(request, extra_context)
