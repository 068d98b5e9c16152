"""The statements tables' database guards, kept in revenue/statements/sql (one file per database, with its reverse)."""

from django.db import migrations

from core.migrations_sql import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [("statements", "0001_initial")]

    operations = [
        RunSQLFile(__file__, "guards", vendor="postgresql"),
        RunSQLFile(__file__, "guards", vendor="sqlite"),
    ]
