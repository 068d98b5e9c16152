"""``revenue_int_sum(bigint)``: the sum of integer fen (or millionths) as a bigint (PostgreSQL).

PostgreSQL's ``sum(bigint)`` keeps a 128-bit state and returns ``numeric``:
exact, but over a month's million attributions its four sums take a quarter of
the run's aggregation. The figures are integer fen and millionths per
attribution, and no total comes near 2^63 fen; adding them with ``int8pl``
is as exact, and an overflow is an error ("bigint out of range"), never a
wrong total. Like ``sum``, it is NULL over no rows. SQLite sums integers
exactly already.
"""

from django.db import migrations

FORWARD = """
CREATE AGGREGATE revenue_int_sum(bigint) (
    SFUNC = int8pl, STYPE = bigint, COMBINEFUNC = int8pl, PARALLEL = SAFE
)
"""
BACKWARD = "DROP AGGREGATE revenue_int_sum(bigint)"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("revenue", "0016_settlement_frozen_in_place"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
    ]
