"""Closed settlements are frozen, also for plain SQL (PostgreSQL; elsewhere the services and admin refuse).

* A settlement that left ``draft`` can change only along its lifecycle
  (approval, payment and their who/when/reference); its figures, totals,
  partner, period and closing stamp never change, it never goes back to draft
  and it is never deleted.
* Lines of a settlement that left ``draft`` are never inserted, updated or
  deleted (statement-level checks over the affected rows, cheap for bulk writes
  of draft lines).
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION revenue_settlement_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'draft' THEN
            RAISE EXCEPTION 'revenue settlement %: a closed settlement is never deleted', OLD.id
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.state <> 'draft' AND (
        NEW.state = 'draft'
        OR (NEW.partner_id, NEW.period_id, NEW.run_id, NEW.watermark_from, NEW.watermark_to,
            NEW.transaction_count, NEW.bank_revenue, NEW.share_total, NEW.adjustment_total,
            NEW.carried_in, NEW.net, NEW.vat_rate, NEW.vat, NEW.payable, NEW.carried_forward,
            NEW.computed_at, NEW.closed_at, NEW.closed_by_id)
           IS DISTINCT FROM
           (OLD.partner_id, OLD.period_id, OLD.run_id, OLD.watermark_from, OLD.watermark_to,
            OLD.transaction_count, OLD.bank_revenue, OLD.share_total, OLD.adjustment_total,
            OLD.carried_in, OLD.net, OLD.vat_rate, OLD.vat, OLD.payable, OLD.carried_forward,
            OLD.computed_at, OLD.closed_at, OLD.closed_by_id)
    ) THEN
        RAISE EXCEPTION 'revenue settlement %: a closed settlement is frozen (corrections are adjustments of the next period)',
            OLD.id USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER revenue_settlement_frozen
    BEFORE UPDATE OR DELETE ON revenue_settlement
    FOR EACH ROW EXECUTE FUNCTION revenue_settlement_frozen();

CREATE FUNCTION revenue_settlementline_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed_rows c JOIN revenue_settlement s ON s.id = c.settlement_id
               WHERE s.state <> 'draft') THEN
        RAISE EXCEPTION 'revenue settlement lines: % refused, the settlement is closed', TG_OP
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER revenue_settlementline_frozen_insert
    AFTER INSERT ON revenue_settlementline REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_settlementline_frozen();
CREATE TRIGGER revenue_settlementline_frozen_update
    AFTER UPDATE ON revenue_settlementline REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_settlementline_frozen();
CREATE TRIGGER revenue_settlementline_frozen_delete
    AFTER DELETE ON revenue_settlementline REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_settlementline_frozen();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS revenue_settlementline_frozen_delete ON revenue_settlementline;
DROP TRIGGER IF EXISTS revenue_settlementline_frozen_update ON revenue_settlementline;
DROP TRIGGER IF EXISTS revenue_settlementline_frozen_insert ON revenue_settlementline;
DROP FUNCTION IF EXISTS revenue_settlementline_frozen();
DROP TRIGGER IF EXISTS revenue_settlement_frozen ON revenue_settlement;
DROP FUNCTION IF EXISTS revenue_settlement_frozen();
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
    dependencies = [("revenue", "0005_settlement")]

    operations = [migrations.RunPython(forward, backward)]
