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
-- * An agreement version a settlement used is frozen but for its closing; its tiers never change.
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

-- An agreement version a settlement used (locked_at set) is frozen: the only change left is to close it
-- (an open end set to a day not before the lock, China time), so that a new version can follow; it is
-- never deleted, and its tiers never change.
CREATE FUNCTION ledger_version_locked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('guards.suspended', true) = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'ledger: agreement version % was used in a settlement and is never deleted', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.agreement_id, NEW.number, NEW.valid_from, NEW.rule_kind, NEW.rate, NEW.fixed_amount, NEW.tier_basis,
        NEW.floor, NEW.cap, NEW.note, NEW.locked_at, NEW.created_at, NEW.created_by_id)
       IS DISTINCT FROM
       (OLD.agreement_id, OLD.number, OLD.valid_from, OLD.rule_kind, OLD.rate, OLD.fixed_amount, OLD.tier_basis,
        OLD.floor, OLD.cap, OLD.note, OLD.locked_at, OLD.created_at, OLD.created_by_id)
       OR (NEW.valid_to IS DISTINCT FROM OLD.valid_to
           AND (OLD.valid_to IS NOT NULL OR NEW.valid_to IS NULL
                OR NEW.valid_to < (OLD.locked_at AT TIME ZONE 'Asia/Shanghai')::date))
    THEN
        RAISE EXCEPTION 'ledger: agreement version % was used in a settlement: only closing it is allowed (a change is a new version)',
            OLD.id USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_version_locked
    BEFORE UPDATE OR DELETE ON ledger_agreementversion
    FOR EACH ROW WHEN (OLD.locked_at IS NOT NULL) EXECUTE FUNCTION ledger_version_locked();

CREATE FUNCTION ledger_tier_locked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('guards.suspended', true) = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF EXISTS (SELECT 1 FROM ledger_agreementversion v
               WHERE v.locked_at IS NOT NULL
                 AND v.id IN (CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.version_id END,
                              CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.version_id END)) THEN
        RAISE EXCEPTION 'ledger: the tiers of an agreement version used in a settlement never change'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE TRIGGER ledger_tier_locked
    BEFORE INSERT OR UPDATE OR DELETE ON ledger_agreementtier
    FOR EACH ROW EXECUTE FUNCTION ledger_tier_locked();

CREATE INDEX ledger_attr_occurred_at ON ledger_transactionattribution USING brin (occurred_at);

CREATE AGGREGATE ledger_int_sum(bigint) (SFUNC = int8pl, STYPE = bigint, COMBINEFUNC = int8pl, PARALLEL = SAFE);
