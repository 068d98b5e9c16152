"""Invariants the database itself enforces on PostgreSQL (the other vendors rely on the services).

* Two versions of one agreement never overlap: an exclusion constraint over
  ``daterange(valid_from, valid_to)`` per agreement (needs btree_gist).
* Ledger rows are append-only: a statement trigger refuses UPDATE and DELETE
  of transactions and attributions, whoever sends them (plain SQL included).
* The ledger's references are checked set-based after every INSERT statement
  (the columns carry no per-row foreign keys, see ``revenue.models``): products,
  branches, batches and partners must exist (and are key-share locked like a
  foreign key would), a reversal must mirror a normal transaction, and the
  attributions of each transaction must have weights adding up to 1 and
  amounts adding back to the transaction's.
"""

from django.db import migrations

FORWARD = r"""
CREATE EXTENSION IF NOT EXISTS btree_gist;

ALTER TABLE revenue_agreementversion ADD CONSTRAINT revenue_version_no_overlap
    EXCLUDE USING gist (agreement_id WITH =, daterange(valid_from, valid_to, '[)') WITH &&);

CREATE FUNCTION revenue_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'revenue ledger: % on % refused: booked rows are append-only (book a reversal instead)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER revenue_transaction_append_only
    BEFORE UPDATE OR DELETE ON revenue_transaction
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_ledger_append_only();
CREATE TRIGGER revenue_attribution_append_only
    BEFORE UPDATE OR DELETE ON revenue_transactionattribution
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_ledger_append_only();

CREATE FUNCTION revenue_transaction_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM revenue_product WHERE id IN (SELECT DISTINCT product_id FROM new_rows) FOR KEY SHARE;
    PERFORM 1 FROM organisation_branch WHERE id IN (SELECT DISTINCT branch_id FROM new_rows) FOR KEY SHARE;
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT product_id FROM new_rows) n
               WHERE NOT EXISTS (SELECT 1 FROM revenue_product p WHERE p.id = n.product_id)) THEN
        RAISE EXCEPTION 'revenue ledger: unknown product' USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT branch_id FROM new_rows) n
               WHERE NOT EXISTS (SELECT 1 FROM organisation_branch b WHERE b.id = n.branch_id)) THEN
        RAISE EXCEPTION 'revenue ledger: unknown branch' USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT batch_id FROM new_rows) n
               WHERE NOT EXISTS (SELECT 1 FROM revenue_ingestionbatch b WHERE b.id = n.batch_id)) THEN
        RAISE EXCEPTION 'revenue ledger: unknown ingestion batch' USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM new_rows n
               LEFT JOIN revenue_transaction o ON o.id = n.reverses_id
               WHERE n.reverses_id IS NOT NULL
                 AND (o.id IS NULL OR o.kind <> 'normal' OR o.product_id <> n.product_id
                      OR o.amount <> -n.amount OR o.bank_revenue <> -n.bank_revenue
                      OR o.sme_id <> n.sme_id OR o.branch_id <> n.branch_id)) THEN
        RAISE EXCEPTION 'revenue ledger: a reversal must mirror a normal transaction'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER revenue_transaction_inserted
    AFTER INSERT ON revenue_transaction REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_transaction_inserted();

CREATE FUNCTION revenue_attribution_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM onboarding_partner WHERE id IN (SELECT DISTINCT partner_id FROM new_rows) FOR KEY SHARE;
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT partner_id FROM new_rows) n
               WHERE NOT EXISTS (SELECT 1 FROM onboarding_partner p WHERE p.id = n.partner_id)) THEN
        RAISE EXCEPTION 'revenue ledger: unknown partner' USING ERRCODE = 'foreign_key_violation';
    END IF;
    -- All attributions of a transaction are inserted by one statement; together they must
    -- carry weight 1 and add back exactly to the transaction, whose copied columns they match.
    IF EXISTS (
        SELECT 1
        FROM (SELECT transaction_id, sum(weight) AS weight, sum(amount) AS amount,
                     sum(bank_revenue) AS bank_revenue, min(product_id) AS product_id,
                     max(product_id) AS product_id_max, min(occurred_at) AS occurred_at,
                     max(occurred_at) AS occurred_at_max, bool_and(is_reversal) AS all_reversal,
                     bool_or(is_reversal) AS any_reversal
              FROM new_rows GROUP BY transaction_id) a
        LEFT JOIN revenue_transaction t ON t.id = a.transaction_id
        WHERE t.id IS NULL OR a.weight <> 1 OR a.amount <> t.amount OR a.bank_revenue <> t.bank_revenue
           OR a.product_id <> t.product_id OR a.product_id_max <> t.product_id
           OR a.occurred_at <> t.occurred_at OR a.occurred_at_max <> t.occurred_at
           OR a.all_reversal <> (t.kind = 'reversal') OR a.any_reversal <> (t.kind = 'reversal')
    ) THEN
        RAISE EXCEPTION 'revenue ledger: attributions must match their transaction, weigh 1 and add back exactly'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER revenue_attribution_inserted
    AFTER INSERT ON revenue_transactionattribution REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_attribution_inserted();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS revenue_attribution_inserted ON revenue_transactionattribution;
DROP FUNCTION IF EXISTS revenue_attribution_inserted();
DROP TRIGGER IF EXISTS revenue_transaction_inserted ON revenue_transaction;
DROP FUNCTION IF EXISTS revenue_transaction_inserted();
DROP TRIGGER IF EXISTS revenue_attribution_append_only ON revenue_transactionattribution;
DROP TRIGGER IF EXISTS revenue_transaction_append_only ON revenue_transaction;
DROP FUNCTION IF EXISTS revenue_ledger_append_only();
ALTER TABLE revenue_agreementversion DROP CONSTRAINT IF EXISTS revenue_version_no_overlap;
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
    dependencies = [("revenue", "0001_initial")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
