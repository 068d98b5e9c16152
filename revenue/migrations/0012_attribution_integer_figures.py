"""Attributions carry their amount, bank revenue and net count as integers (fen, millionths).

Stored generated columns: the database computes them from the decimal columns
on insert, so no writer can get them wrong. A settlement sums a month of them:
integer sums are exact everywhere (SQLite would sum decimals as floating point)
and cost a fraction of ``numeric`` ones on PostgreSQL.

SQLite adds a stored column by rebuilding the table, which drops the index on
``occurred_at`` that migration 0004 made outside the model state; it is made
again here.
"""

import django.db.models.expressions
import django.db.models.functions.comparison
import django.db.models.functions.math
from django.db import migrations, models

OCCURRED_AT_INDEX = "revenue_attr_occurred_at"


def occurred_at_index_restore(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {OCCURRED_AT_INDEX} ON revenue_transactionattribution (occurred_at)"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('revenue', '0011_settlement_lighter_writes'),
    ]

    operations = [
        migrations.AddField(
            model_name='transactionattribution',
            name='amount_fen',
            field=models.GeneratedField(db_persist=True, expression=django.db.models.functions.comparison.Cast(django.db.models.functions.math.Round(django.db.models.expressions.CombinedExpression(models.F('amount'), '*', models.Value(100))), models.BigIntegerField()), output_field=models.BigIntegerField(verbose_name='attributed amount (fen)')),
        ),
        migrations.AddField(
            model_name='transactionattribution',
            name='bank_revenue_fen',
            field=models.GeneratedField(db_persist=True, expression=django.db.models.functions.comparison.Cast(django.db.models.functions.math.Round(django.db.models.expressions.CombinedExpression(models.F('bank_revenue'), '*', models.Value(100))), models.BigIntegerField()), output_field=models.BigIntegerField(verbose_name='attributed bank revenue (fen)')),
        ),
        migrations.AddField(
            model_name='transactionattribution',
            name='net_count_micro',
            field=models.GeneratedField(db_persist=True, expression=django.db.models.functions.comparison.Cast(django.db.models.functions.math.Round(django.db.models.expressions.CombinedExpression(models.Case(models.When(is_reversal=True, then=django.db.models.expressions.CombinedExpression(models.F('weight'), '*', models.Value(-1))), default=models.F('weight')), '*', models.Value(1000000))), models.BigIntegerField()), output_field=models.BigIntegerField(verbose_name='net count (millionths)')),
        ),
        migrations.RunPython(occurred_at_index_restore, migrations.RunPython.noop, elidable=False),
    ]
