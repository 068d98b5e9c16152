"""``manage.py restore <backup folder> [--replace]``: bring back a backup set (see core.backups)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from core.backups import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup set (database and files) after checking every file against its manifest. "
        "The database must be empty (created, not migrated) unless --replace is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="The backup set's folder (the one holding manifest.json).")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Replace the contents of a database that already has tables, and stored files of the same names.",
        )
        parser.add_argument("--database", default="default", help="The database to restore into (a DATABASES alias).")

    def handle(self, *args, path: Path, replace: bool, database: str, **options):
        try:
            result = backup_restore(path=path, replace=replace, using=database)
        except BackupError as exc:
            raise CommandError(str(exc.message)) from exc
        self.stdout.write(
            _("Restored %(path)s: %(tables)d tables, %(rows)d rows, %(files)d files; every digest matched.")
            % {"path": result.path, "tables": result.tables, "rows": result.rows, "files": result.files}
        )
