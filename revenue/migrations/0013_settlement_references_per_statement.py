"""A settlement's partner, period and run checked per statement instead of per row.

A close writes a thousand settlements per chunk statement; their three deferred
per-row foreign-key checks cost more at each commit than the check of the whole
set at once. On PostgreSQL a statement-level trigger now checks, once per
inserted set (and for each row an update changes them in), that every partner,
period and run named exists; and a partner, period or run cannot be deleted
while a settlement names it.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = r"""
CREATE FUNCTION revenue_settlement_references() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM (SELECT DISTINCT partner_id, period_id, run_id FROM written_rows) c
        LEFT JOIN onboarding_partner p ON p.id = c.partner_id
        LEFT JOIN revenue_settlementperiod sp ON sp.id = c.period_id
        LEFT JOIN revenue_settlementrun r ON r.id = c.run_id
        WHERE p.id IS NULL OR sp.id IS NULL OR (c.run_id IS NOT NULL AND r.id IS NULL)
    ) THEN
        RAISE EXCEPTION 'revenue settlement: % refused, a settlement names a partner, period or run that does not exist',
            TG_OP USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER revenue_settlement_references_insert
    AFTER INSERT ON revenue_settlement REFERENCING NEW TABLE AS written_rows
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_settlement_references();

-- Freezing a month's settlements changes their state, not these columns: only a row that changes
-- them is checked, as a foreign key would.
CREATE FUNCTION revenue_settlement_references_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM onboarding_partner WHERE id = NEW.partner_id)
       OR NOT EXISTS (SELECT 1 FROM revenue_settlementperiod WHERE id = NEW.period_id)
       OR (NEW.run_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM revenue_settlementrun WHERE id = NEW.run_id)) THEN
        RAISE EXCEPTION 'revenue settlement: UPDATE refused, a settlement names a partner, period or run that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER revenue_settlement_references_update
    AFTER UPDATE ON revenue_settlement FOR EACH ROW
    WHEN (OLD.partner_id IS DISTINCT FROM NEW.partner_id OR OLD.period_id IS DISTINCT FROM NEW.period_id
          OR OLD.run_id IS DISTINCT FROM NEW.run_id)
    EXECUTE FUNCTION revenue_settlement_references_changed();

CREATE FUNCTION revenue_settlement_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    named boolean;
BEGIN
    IF TG_TABLE_NAME = 'onboarding_partner' THEN
        named := EXISTS (SELECT 1 FROM revenue_settlement s JOIN deleted_rows d ON d.id = s.partner_id);
    ELSIF TG_TABLE_NAME = 'revenue_settlementperiod' THEN
        named := EXISTS (SELECT 1 FROM revenue_settlement s JOIN deleted_rows d ON d.id = s.period_id);
    ELSE
        named := EXISTS (SELECT 1 FROM revenue_settlement s JOIN deleted_rows d ON d.id = s.run_id);
    END IF;
    IF named THEN
        RAISE EXCEPTION 'revenue settlement: settlements still name a deleted row of %', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER revenue_settlement_partner_deleted
    AFTER DELETE ON onboarding_partner REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_settlement_referenced();
CREATE TRIGGER revenue_settlement_period_deleted
    AFTER DELETE ON revenue_settlementperiod REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_settlement_referenced();
CREATE TRIGGER revenue_settlement_run_deleted
    AFTER DELETE ON revenue_settlementrun REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_settlement_referenced();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS revenue_settlement_run_deleted ON revenue_settlementrun;
DROP TRIGGER IF EXISTS revenue_settlement_period_deleted ON revenue_settlementperiod;
DROP TRIGGER IF EXISTS revenue_settlement_partner_deleted ON onboarding_partner;
DROP FUNCTION IF EXISTS revenue_settlement_referenced();
DROP TRIGGER IF EXISTS revenue_settlement_references_update ON revenue_settlement;
DROP FUNCTION IF EXISTS revenue_settlement_references_changed();
DROP TRIGGER IF EXISTS revenue_settlement_references_insert ON revenue_settlement;
DROP FUNCTION IF EXISTS revenue_settlement_references();
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
        ('revenue', '0012_attribution_integer_figures'),
    ]

    operations = [
        migrations.AlterField(
            model_name='settlement',
            name='partner',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='settlements', to='onboarding.partner', verbose_name='partner'),
        ),
        migrations.AlterField(
            model_name='settlement',
            name='period',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='settlements', to='revenue.settlementperiod', verbose_name='period'),
        ),
        migrations.AlterField(
            model_name='settlement',
            name='run',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='settlements', to='revenue.settlementrun', verbose_name='run'),
        ),
        migrations.RunPython(forward, backward),
    ]
