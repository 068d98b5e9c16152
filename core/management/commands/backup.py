"""``manage.py backup [--prune | --prune-only]``: a backup set under BACKUP_ROOT (see core.backups)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from core.backups import BackupError, backup_create, backups_prune


class Command(BaseCommand):
    help = "Back up the database and every stored file into a new folder under BACKUP_ROOT, with a manifest."

    def add_arguments(self, parser):
        parser.add_argument(
            "--prune",
            action="store_true",
            help="After the backup, delete backup sets older than BACKUP_RETENTION_DAYS (never the newest).",
        )
        parser.add_argument("--prune-only", action="store_true", help="Only delete the expired backup sets.")
        parser.add_argument("--database", default="default", help="The database to back up (an alias of DATABASES).")

    def handle(self, *args, prune: bool, prune_only: bool, database: str, **options):
        try:
            if not prune_only:
                result = backup_create(using=database)
                self.stdout.write(
                    _(
                        "Backup written to %(path)s: %(tables)d tables, %(rows)d rows, %(files)d files "
                        "(%(megabytes).1f MB)."
                    )
                    % {
                        "path": result.path,
                        "tables": result.tables,
                        "rows": result.rows,
                        "files": result.files,
                        "megabytes": result.bytes / 2**20,
                    }
                )
            if prune or prune_only:
                deleted = backups_prune()
                for backup in deleted:
                    self.stdout.write(
                        _("Deleted the backup %(name)s (older than %(days)d days).")
                        % {"name": backup.path.name, "days": settings.BACKUP_RETENTION_DAYS}
                    )
                if not deleted:
                    self.stdout.write(
                        _("No backup is older than %(days)d days.") % {"days": settings.BACKUP_RETENTION_DAYS}
                    )
        except BackupError as exc:
            raise CommandError(str(exc.message)) from exc
