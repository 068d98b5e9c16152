"""A close freezes its settlements in place.

Freezing sets state, closed_at and closed_by on every draft of the run. With
no index on state or closed_at (the period index no longer carries state) and
room on each page for the new row versions, a little longer than the drafts
(PostgreSQL's fillfactor 45), the update is HOT: each new version stays on its
page and no index gets a new entry. A person closing a month sets closed_by,
which is indexed where set: that close takes the ordinary path, as before.
"""

from django.conf import settings
from django.db import migrations, models


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE revenue_settlement SET (fillfactor = 45)")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE revenue_settlement RESET (fillfactor)")



class Migration(migrations.Migration):

    dependencies = [
        ('onboarding', '0004_seed_evidence_requirements'),
        ('revenue', '0015_settlement_chunk_written_sums'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='settlement',
            name='revenue_settle_period_state',
        ),
        migrations.AddIndex(
            model_name='settlement',
            index=models.Index(fields=['period'], name='revenue_settle_period'),
        ),
        migrations.RunPython(forward, backward),
    ]
