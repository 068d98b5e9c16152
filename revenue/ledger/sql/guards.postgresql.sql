-- The ledger's guards on PostgreSQL: what no constraint of the models can say.
--
-- * Two versions of one agreement never overlap (an exclusion constraint over their date ranges).
-- * Booked rows are append-only: UPDATE, DELETE and TRUNCATE of transactions and attributions are
--   refused, whoever sends them (plain SQL included). Only the test suite's database reset passes,
--   by setting guards.suspended on its connection (core/migrations_sql.py).
-- * Every inserted set is checked as a whole: a reversal mirrors a normal transaction, and the
--   attributions of each co-served transaction weigh exactly 1 and add back to it.
-- * A month across partners is read through a BRIN index on the attributions' time (rows arrive
--   roughly in time order; a B-tree led by the time costs a bulk load a third again).
-- * ledger_int_sum(bigint): a sum of integer fen in a bigint (int8pl: exact, an error on overflow);
--   sum(bigint) keeps a 128-bit state, a quarter of a close's aggregation time.

CREATE EXTENSION IF NOT EXISTS btree_gist;

ALTER TABLE ledger_agreementversion ADD CONSTRAINT ledger_version_no_overlap
    EXCLUDE USING gist (agreement_id WITH =, daterange(valid_from, valid_to, '[)') WITH &&);

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('guards.suspended', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'ledger: % on % refused: booked rows are append-only (book a reversal instead)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER ledger_transaction_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_transaction
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_attribution_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_transactionattribution
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

CREATE FUNCTION ledger_transaction_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM new_rows n
        WHERE n.reverses_id IS NOT NULL
          AND NOT EXISTS (
              SELECT 1 FROM ledger_transaction o
              WHERE o.id = n.reverses_id AND o.kind = 'normal' AND o.product_id = n.product_id
                AND o.amount = -n.amount AND o.bank_revenue = -n.bank_revenue
                AND o.sme_id = n.sme_id AND o.branch_id = n.branch_id)
    ) THEN
        RAISE EXCEPTION 'ledger: a reversal must mirror a normal transaction' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_transaction_inserted
    AFTER INSERT ON ledger_transaction REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_transaction_inserted();

-- A single-partner attribution (weight 1) is the ingestion's copy of its transaction, written by the
-- same statement pair; a co-served one (any weight below 1) is checked against its transaction here.
CREATE FUNCTION ledger_attribution_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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
            SELECT 1 FROM ledger_transaction t
            WHERE t.id = a.transaction_id AND a.weight = 1 AND a.amount = t.amount
              AND a.bank_revenue = t.bank_revenue AND a.product_lo = t.product_id AND a.product_hi = t.product_id
              AND a.occurred_lo = t.occurred_at AND a.occurred_hi = t.occurred_at
              AND a.all_reversal = (t.kind = 'reversal') AND a.any_reversal = (t.kind = 'reversal'))
    ) THEN
        RAISE EXCEPTION 'ledger: attributions must match their transaction, weigh 1 and add back exactly'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_attribution_inserted
    AFTER INSERT ON ledger_transactionattribution REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_attribution_inserted();

CREATE INDEX ledger_attr_occurred_at ON ledger_transactionattribution USING brin (occurred_at);

CREATE AGGREGATE ledger_int_sum(bigint) (SFUNC = int8pl, STYPE = bigint, COMBINEFUNC = int8pl, PARALLEL = SAFE);
