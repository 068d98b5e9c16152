"""Fewer index and trigger writes for each settlement and line a close writes.

* Lines lose their product and agreement-version indexes: only deleting a
  product or a version looks lines up by them (and a version a close used is
  locked).
* Who closed, approved or paid a settlement is indexed only where set: the
  drafts a run writes by the thousand have none.
* PostgreSQL: the frozen-settlement row trigger runs only for settlements that
  are no longer drafts (a close freezes ten thousand drafts in one update, and a
  run replaces drafts); and the lines' reference check looks up each kind of
  reference once per distinct value rather than once per distinct combination.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


FORWARD = r"""
DROP TRIGGER revenue_settlement_frozen ON revenue_settlement;
CREATE TRIGGER revenue_settlement_frozen
    BEFORE UPDATE OR DELETE ON revenue_settlement
    FOR EACH ROW WHEN (OLD.state <> 'draft') EXECUTE FUNCTION revenue_settlement_frozen();

CREATE OR REPLACE FUNCTION revenue_settlementline_references() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT settlement_id FROM written_rows) c
               LEFT JOIN revenue_settlement s ON s.id = c.settlement_id WHERE s.id IS NULL)
       OR EXISTS (SELECT 1 FROM (SELECT DISTINCT product_id FROM written_rows WHERE product_id IS NOT NULL) c
                  LEFT JOIN revenue_product p ON p.id = c.product_id WHERE p.id IS NULL)
       OR EXISTS (SELECT 1 FROM (SELECT DISTINCT agreement_version_id FROM written_rows
                                 WHERE agreement_version_id IS NOT NULL) c
                  LEFT JOIN revenue_agreementversion v ON v.id = c.agreement_version_id WHERE v.id IS NULL)
       OR EXISTS (SELECT 1 FROM (SELECT DISTINCT carried_from_id FROM written_rows WHERE carried_from_id IS NOT NULL) c
                  LEFT JOIN revenue_settlement cf ON cf.id = c.carried_from_id WHERE cf.id IS NULL)
       OR EXISTS (SELECT 1 FROM (SELECT DISTINCT dispute_id FROM written_rows WHERE dispute_id IS NOT NULL) c
                  LEFT JOIN revenue_settlementdispute d ON d.id = c.dispute_id WHERE d.id IS NULL) THEN
        RAISE EXCEPTION 'revenue settlement lines: % refused, a line names a row that does not exist', TG_OP
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
"""

BACKWARD = r"""
DROP TRIGGER revenue_settlement_frozen ON revenue_settlement;
CREATE TRIGGER revenue_settlement_frozen
    BEFORE UPDATE OR DELETE ON revenue_settlement
    FOR EACH ROW EXECUTE FUNCTION revenue_settlement_frozen();

CREATE OR REPLACE FUNCTION revenue_settlementline_references() RETURNS trigger LANGUAGE plpgsql AS $$
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
        ('onboarding', '0004_seed_evidence_requirements'),
        ('revenue', '0013_settlement_references_per_statement'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='settlementline',
            name='revenue_settleline_product',
        ),
        migrations.AlterField(
            model_name='settlement',
            name='approved_by',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='approved by'),
        ),
        migrations.AlterField(
            model_name='settlement',
            name='closed_by',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='closed by'),
        ),
        migrations.AlterField(
            model_name='settlement',
            name='paid_by',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='paid by'),
        ),
        migrations.AlterField(
            model_name='settlementline',
            name='agreement_version',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='settlement_lines', to='revenue.agreementversion', verbose_name='agreement version'),
        ),
        migrations.AddIndex(
            model_name='settlement',
            index=models.Index(condition=models.Q(('closed_by__isnull', False)), fields=['closed_by'], name='revenue_settle_closed_by'),
        ),
        migrations.AddIndex(
            model_name='settlement',
            index=models.Index(condition=models.Q(('approved_by__isnull', False)), fields=['approved_by'], name='revenue_settle_approved_by'),
        ),
        migrations.AddIndex(
            model_name='settlement',
            index=models.Index(condition=models.Q(('paid_by__isnull', False)), fields=['paid_by'], name='revenue_settle_paid_by'),
        ),
        migrations.RunPython(forward, backward),
    ]
