"""The ledger's insert checks, rewritten to stay cheap for a million rows per statement.

The first versions joined every inserted set to the whole transaction table
and locked every referenced row; at bulk-load volumes that cost more than the
insert itself. Now (PostgreSQL only):

* references are checked once per distinct value set (product, branch, batch;
  partner), one pass over the inserted rows each;
* a reversal is checked against its original by an index probe per reversal;
* the attributions of a co-served transaction (any weight below 1) are checked
  to weigh exactly 1 and add back to their transaction, by an index probe per
  such transaction. A single-partner attribution (weight 1) is the ingestion's
  copy of its transaction, written by the same statement pair; its
  add-back is covered by the tests rather than re-read here.
"""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION revenue_transaction_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad_product boolean; bad_branch boolean; bad_batch boolean;
BEGIN
    SELECT coalesce(bool_or(p.id IS NULL), false), coalesce(bool_or(b.id IS NULL), false),
           coalesce(bool_or(ib.id IS NULL), false)
      INTO bad_product, bad_branch, bad_batch
      FROM (SELECT DISTINCT product_id, branch_id, batch_id FROM new_rows) r
      LEFT JOIN revenue_product p ON p.id = r.product_id
      LEFT JOIN organisation_branch b ON b.id = r.branch_id
      LEFT JOIN revenue_ingestionbatch ib ON ib.id = r.batch_id;
    IF bad_product THEN
        RAISE EXCEPTION 'revenue ledger: unknown product' USING ERRCODE = 'foreign_key_violation';
    ELSIF bad_branch THEN
        RAISE EXCEPTION 'revenue ledger: unknown branch' USING ERRCODE = 'foreign_key_violation';
    ELSIF bad_batch THEN
        RAISE EXCEPTION 'revenue ledger: unknown ingestion batch' USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF EXISTS (
        SELECT 1 FROM new_rows n
        WHERE n.reverses_id IS NOT NULL
          AND NOT EXISTS (
              SELECT 1 FROM revenue_transaction o
              WHERE o.id = n.reverses_id AND o.kind = 'normal' AND o.product_id = n.product_id
                AND o.amount = -n.amount AND o.bank_revenue = -n.bank_revenue
                AND o.sme_id = n.sme_id AND o.branch_id = n.branch_id)
    ) THEN
        RAISE EXCEPTION 'revenue ledger: a reversal must mirror a normal transaction'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION revenue_attribution_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT partner_id FROM new_rows) n
               LEFT JOIN onboarding_partner p ON p.id = n.partner_id WHERE p.id IS NULL) THEN
        RAISE EXCEPTION 'revenue ledger: unknown partner' USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF EXISTS (
        SELECT 1
        FROM (SELECT transaction_id, sum(weight) AS weight, sum(amount) AS amount, sum(bank_revenue) AS bank_revenue,
                     min(product_id) AS product_lo, max(product_id) AS product_hi,
                     min(occurred_at) AS occurred_lo, max(occurred_at) AS occurred_hi,
                     bool_and(is_reversal) AS all_reversal, bool_or(is_reversal) AS any_reversal
              FROM new_rows
              WHERE transaction_id IN (SELECT transaction_id FROM new_rows WHERE weight < 1)
              GROUP BY transaction_id) a
        WHERE NOT EXISTS (
            SELECT 1 FROM revenue_transaction t
            WHERE t.id = a.transaction_id AND a.weight = 1 AND a.amount = t.amount
              AND a.bank_revenue = t.bank_revenue AND a.product_lo = t.product_id AND a.product_hi = t.product_id
              AND a.occurred_lo = t.occurred_at AND a.occurred_hi = t.occurred_at
              AND a.all_reversal = (t.kind = 'reversal') AND a.any_reversal = (t.kind = 'reversal'))
    ) THEN
        RAISE EXCEPTION 'revenue ledger: attributions must match their transaction, weigh 1 and add back exactly'
            USING ERRCODE = 'check_violation';
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
        from importlib import import_module

        previous = import_module("revenue.migrations.0002_postgres_guards").FORWARD
        start = previous.index("CREATE FUNCTION revenue_transaction_inserted()")
        end = previous.index("CREATE TRIGGER revenue_transaction_inserted")
        start2 = previous.index("CREATE FUNCTION revenue_attribution_inserted()")
        end2 = previous.index("CREATE TRIGGER revenue_attribution_inserted")
        sql = (previous[start:end] + previous[start2:end2]).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("revenue", "0002_postgres_guards")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
