-- Settlement guards on PostgreSQL: what no constraint of the models can say.
--
-- * A settlement that left draft changes only along its lifecycle (approval, payment and their
--   who/when/reference): its figures, totals, partner, period and closing stamp never change, it
--   never goes back to draft and it is never deleted. The row trigger runs only for non-drafts (a
--   run replaces drafts by the thousand).
-- * Lines of a settlement that left draft are never inserted, updated or deleted (checked once per
--   statement over the rows it touched).
-- * A closed period is never reopened or deleted.
-- * None of the three tables is truncated.
-- Only the test suite's database reset passes, by setting guards.suspended (core/migrations_sql.py).
-- A close freezes ten thousand settlements in one update: room on each page for the new row
-- versions (fillfactor) keeps that update on the page, with no new index entries.

CREATE FUNCTION settlement_settlement_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('guards.suspended', true) = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'settlement %: a closed settlement is never deleted', OLD.id USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.state = 'draft'
        OR (NEW.partner_id, NEW.period_id, NEW.run_id, NEW.watermark_from, NEW.watermark_to,
            NEW.transaction_count, NEW.bank_revenue, NEW.share_total, NEW.adjustment_total,
            NEW.carried_in, NEW.net, NEW.vat_rate, NEW.vat, NEW.payable, NEW.carried_forward,
            NEW.computed_at, NEW.closed_at, NEW.closed_by_id)
           IS DISTINCT FROM
           (OLD.partner_id, OLD.period_id, OLD.run_id, OLD.watermark_from, OLD.watermark_to,
            OLD.transaction_count, OLD.bank_revenue, OLD.share_total, OLD.adjustment_total,
            OLD.carried_in, OLD.net, OLD.vat_rate, OLD.vat, OLD.payable, OLD.carried_forward,
            OLD.computed_at, OLD.closed_at, OLD.closed_by_id)
    THEN
        RAISE EXCEPTION 'settlement %: a closed settlement is frozen (corrections are adjustments of the next period)',
            OLD.id USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER settlement_settlement_frozen
    BEFORE UPDATE OR DELETE ON settlement_settlement
    FOR EACH ROW WHEN (OLD.state <> 'draft') EXECUTE FUNCTION settlement_settlement_frozen();

CREATE FUNCTION settlement_line_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('guards.suspended', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM changed_rows c JOIN settlement_settlement s ON s.id = c.settlement_id
               WHERE s.state <> 'draft') THEN
        RAISE EXCEPTION 'settlement lines: % refused, the settlement is closed', TG_OP
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER settlement_line_frozen_insert
    AFTER INSERT ON settlement_settlementline REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION settlement_line_frozen();
CREATE TRIGGER settlement_line_frozen_update
    AFTER UPDATE ON settlement_settlementline REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION settlement_line_frozen();
CREATE TRIGGER settlement_line_frozen_delete
    AFTER DELETE ON settlement_settlementline REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION settlement_line_frozen();

CREATE FUNCTION settlement_period_closed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('guards.suspended', true) = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'DELETE' OR NEW.state <> 'closed'
        OR (NEW.start, NEW.close_watermark, NEW.closed_at) IS DISTINCT FROM (OLD.start, OLD.close_watermark, OLD.closed_at)
    THEN
        RAISE EXCEPTION 'settlement period %: a closed period is never reopened, changed or deleted', OLD.start
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER settlement_period_closed
    BEFORE UPDATE OR DELETE ON settlement_settlementperiod
    FOR EACH ROW WHEN (OLD.state = 'closed') EXECUTE FUNCTION settlement_period_closed();

CREATE FUNCTION settlement_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('guards.suspended', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'settlement: TRUNCATE on % refused', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER settlement_settlement_no_truncate BEFORE TRUNCATE ON settlement_settlement
    FOR EACH STATEMENT EXECUTE FUNCTION settlement_no_truncate();
CREATE TRIGGER settlement_line_no_truncate BEFORE TRUNCATE ON settlement_settlementline
    FOR EACH STATEMENT EXECUTE FUNCTION settlement_no_truncate();
CREATE TRIGGER settlement_period_no_truncate BEFORE TRUNCATE ON settlement_settlementperiod
    FOR EACH STATEMENT EXECUTE FUNCTION settlement_no_truncate();

ALTER TABLE settlement_settlement SET (fillfactor = 45);
