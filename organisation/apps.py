from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class OrganisationConfig(AppConfig):
    name = "organisation"
    verbose_name = _("Organisation")

    def ready(self) -> None:
        from organisation.services import roles_sync_after_migrate

        # Permissions exist only after every app migrated, so roles are synced then.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="organisation.roles_sync")
