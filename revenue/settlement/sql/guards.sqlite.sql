-- Settlement guards on SQLite, as on PostgreSQL (see guards.postgresql.sql): a settlement that left
-- draft changes only along its lifecycle and is never deleted; its lines are never inserted, updated
-- or deleted; a closed period is never reopened, changed or deleted. Only the test suite's database
-- reset passes, through the guards_suspended() function (core/migrations_sql.py).

CREATE TRIGGER settlement_settlement_frozen BEFORE UPDATE ON settlement_settlement
WHEN OLD.state <> 'draft' AND NOT guards_suspended() AND (NEW.state = 'draft' OR
    NEW.partner_id IS NOT OLD.partner_id OR NEW.period_id IS NOT OLD.period_id OR NEW.run_id IS NOT OLD.run_id
    OR NEW.watermark_from IS NOT OLD.watermark_from OR NEW.watermark_to IS NOT OLD.watermark_to
    OR NEW.transaction_count IS NOT OLD.transaction_count OR NEW.bank_revenue IS NOT OLD.bank_revenue
    OR NEW.share_total IS NOT OLD.share_total OR NEW.adjustment_total IS NOT OLD.adjustment_total
    OR NEW.carried_in IS NOT OLD.carried_in OR NEW.net IS NOT OLD.net OR NEW.vat_rate IS NOT OLD.vat_rate
    OR NEW.vat IS NOT OLD.vat OR NEW.payable IS NOT OLD.payable
    OR NEW.carried_forward IS NOT OLD.carried_forward OR NEW.computed_at IS NOT OLD.computed_at
    OR NEW.closed_at IS NOT OLD.closed_at OR NEW.closed_by_id IS NOT OLD.closed_by_id)
BEGIN
    SELECT RAISE(ABORT, 'settlement: a closed settlement is frozen (corrections are adjustments of the next period)');
END;

CREATE TRIGGER settlement_settlement_no_delete BEFORE DELETE ON settlement_settlement
WHEN OLD.state <> 'draft' AND NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'settlement: a closed settlement is never deleted');
END;

CREATE TRIGGER settlement_line_frozen_insert BEFORE INSERT ON settlement_settlementline
WHEN (SELECT state FROM settlement_settlement WHERE id = NEW.settlement_id) <> 'draft' AND NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'settlement lines: INSERT refused, the settlement is closed');
END;

CREATE TRIGGER settlement_line_frozen_update BEFORE UPDATE ON settlement_settlementline
WHEN (SELECT state FROM settlement_settlement WHERE id = OLD.settlement_id) <> 'draft' AND NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'settlement lines: UPDATE refused, the settlement is closed');
END;

CREATE TRIGGER settlement_line_frozen_delete BEFORE DELETE ON settlement_settlementline
WHEN (SELECT state FROM settlement_settlement WHERE id = OLD.settlement_id) <> 'draft' AND NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'settlement lines: DELETE refused, the settlement is closed');
END;

CREATE TRIGGER settlement_period_closed BEFORE UPDATE ON settlement_settlementperiod
WHEN OLD.state = 'closed' AND NOT guards_suspended() AND (NEW.state <> 'closed' OR NEW.start IS NOT OLD.start
    OR NEW.close_watermark IS NOT OLD.close_watermark OR NEW.closed_at IS NOT OLD.closed_at)
BEGIN
    SELECT RAISE(ABORT, 'settlement period: a closed period is never reopened, changed or deleted');
END;

CREATE TRIGGER settlement_period_no_delete BEFORE DELETE ON settlement_settlementperiod
WHEN OLD.state = 'closed' AND NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'settlement period: a closed period is never reopened, changed or deleted');
END;
