from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkspaceConfig(AppConfig):
    """The staff's workspace in the admin: a dashboard per role and the notifications inbox."""

    name = "workspace"
    verbose_name = _("Workspace")
    default_auto_field = "django.db.models.BigAutoField"
