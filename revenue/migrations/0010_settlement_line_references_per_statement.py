"""Settlement lines' references checked per statement instead of per row.

A month-end close writes tens of thousands of lines; five per-row foreign-key
checks cost twice the insert itself. On PostgreSQL the lines' statement-level
trigger now also checks, once per inserted or updated set, that every
settlement, product, agreement version, carried settlement and dispute named
exists, and a settlement cannot be deleted while a line names it.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = r"""
CREATE FUNCTION revenue_settlementline_references() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM (SELECT DISTINCT settlement_id, product_id, agreement_version_id, carried_from_id, dispute_id
                       FROM written_rows) c
        LEFT JOIN revenue_settlement s ON s.id = c.settlement_id
        LEFT JOIN revenue_product p ON p.id = c.product_id
        LEFT JOIN revenue_agreementversion v ON v.id = c.agreement_version_id
        LEFT JOIN revenue_settlement cf ON cf.id = c.carried_from_id
        LEFT JOIN revenue_settlementdispute d ON d.id = c.dispute_id
        WHERE s.id IS NULL OR (c.product_id IS NOT NULL AND p.id IS NULL)
           OR (c.agreement_version_id IS NOT NULL AND v.id IS NULL)
           OR (c.carried_from_id IS NOT NULL AND cf.id IS NULL) OR (c.dispute_id IS NOT NULL AND d.id IS NULL)
    ) THEN
        RAISE EXCEPTION 'revenue settlement lines: % refused, a line names a row that does not exist', TG_OP
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER revenue_settlementline_references_insert
    AFTER INSERT ON revenue_settlementline REFERENCING NEW TABLE AS written_rows
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_settlementline_references();
CREATE TRIGGER revenue_settlementline_references_update
    AFTER UPDATE ON revenue_settlementline REFERENCING NEW TABLE AS written_rows
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_settlementline_references();

CREATE FUNCTION revenue_settlement_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM revenue_settlementline l JOIN deleted_rows d ON d.id = l.settlement_id)
       OR EXISTS (SELECT 1 FROM revenue_settlementline l JOIN deleted_rows d ON d.id = l.carried_from_id) THEN
        RAISE EXCEPTION 'revenue settlement: lines still name a deleted settlement'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER revenue_settlement_deleted
    AFTER DELETE ON revenue_settlement REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_settlement_deleted();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS revenue_settlement_deleted ON revenue_settlement;
DROP FUNCTION IF EXISTS revenue_settlement_deleted();
DROP TRIGGER IF EXISTS revenue_settlementline_references_update ON revenue_settlementline;
DROP TRIGGER IF EXISTS revenue_settlementline_references_insert ON revenue_settlementline;
DROP FUNCTION IF EXISTS revenue_settlementline_references();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # A plain cursor: the SQL holds '%' placeholders of RAISE, not query parameters.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(BACKWARD)


class Migration(migrations.Migration):

    dependencies = [
        ('revenue', '0009_settlement_totals_checks'),
    ]

    operations = [
        migrations.AlterField(
            model_name='settlementline',
            name='agreement_version',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='settlement_lines', to='revenue.agreementversion', verbose_name='agreement version'),
        ),
        migrations.AlterField(
            model_name='settlementline',
            name='carried_from',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='carried_into_lines', to='revenue.settlement', verbose_name='carried from'),
        ),
        migrations.AlterField(
            model_name='settlementline',
            name='dispute',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='resolution_lines', to='revenue.settlementdispute', verbose_name='dispute'),
        ),
        migrations.AlterField(
            model_name='settlementline',
            name='product',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='revenue.product', verbose_name='product'),
        ),
        migrations.AlterField(
            model_name='settlementline',
            name='settlement',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='revenue.settlement', verbose_name='settlement'),
        ),
        migrations.RunPython(forward, backward),
    ]
