DROP TRIGGER IF EXISTS settlement_period_no_delete;
DROP TRIGGER IF EXISTS settlement_period_closed;
DROP TRIGGER IF EXISTS settlement_line_frozen_delete;
DROP TRIGGER IF EXISTS settlement_line_frozen_update;
DROP TRIGGER IF EXISTS settlement_line_frozen_insert;
DROP TRIGGER IF EXISTS settlement_settlement_no_delete;
DROP TRIGGER IF EXISTS settlement_settlement_frozen;
