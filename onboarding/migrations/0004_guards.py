"""The admission log's database guard, kept in onboarding/sql (one file per database, with its reverse)."""

from django.db import migrations

from core.migrations_sql import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [
        ("onboarding", "0003_seed_evidence_requirements"),
        ("django_fsm_log", "0005_description_null"),
    ]

    operations = [
        RunSQLFile(__file__, "guards", vendor="postgresql"),
        RunSQLFile(__file__, "guards", vendor="sqlite"),
    ]
