"""Template tags of the admin's workspace: the role dashboard on the index and the unread count in the header."""

from __future__ import annotations

from django import template

from workspace.selectors import dashboard, notification_list, unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def workspace_dashboard(context):
    return dashboard(user=context["request"].user)


@register.simple_tag(takes_context=True)
def workspace_unread_count(context) -> int:
    request = context.get("request")
    return unread_count(user=request.user) if request is not None else 0


@register.simple_tag(takes_context=True)
def workspace_latest_unread(context, limit: int = 5):
    return list(notification_list(user=context["request"].user).filter(read_at__isnull=True)[:limit])
