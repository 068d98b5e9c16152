"""A month of attributions across partners is read through a BRIN index on occurred_at.

Rows are appended roughly in time order (a month's file, then the next), so a
block-range index finds a month's blocks as well as a B-tree would, at almost
no cost per inserted row; a B-tree led by the time added more than a third to a
bulk load. On other databases (SQLite) a plain index stands in. Created here,
outside the model state, because BRIN is PostgreSQL's.
"""

from django.db import migrations

INDEX = "revenue_attr_occurred_at"


def forward(apps, schema_editor):
    method = "USING brin " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"CREATE INDEX {INDEX} ON revenue_transactionattribution {method}(occurred_at)")


def backward(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("revenue", "0003_set_based_ledger_checks")]

    operations = [
        migrations.RemoveIndex(model_name="transactionattribution", name="revenue_attr_occurred_partner"),
        migrations.RunPython(forward, backward, elidable=False),
    ]
