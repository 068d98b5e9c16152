-- The ledger's guards on SQLite: booked rows are append-only (UPDATE and DELETE refused, upserts
-- included), whoever sends them. Only the test suite's database reset passes, through the
-- guards_suspended() function every connection of the product registers (core/migrations_sql.py).
-- A month across partners is read through a plain index on the attributions' time.
-- An agreement version a settlement used is frozen but for its closing; its tiers never change.

CREATE TRIGGER ledger_transaction_no_update BEFORE UPDATE ON ledger_transaction
WHEN NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'ledger: UPDATE on ledger_transaction refused: booked rows are append-only (book a reversal instead)');
END;

CREATE TRIGGER ledger_transaction_no_delete BEFORE DELETE ON ledger_transaction
WHEN NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'ledger: DELETE on ledger_transaction refused: booked rows are append-only (book a reversal instead)');
END;

CREATE TRIGGER ledger_attribution_no_update BEFORE UPDATE ON ledger_transactionattribution
WHEN NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'ledger: UPDATE on ledger_transactionattribution refused: booked rows are append-only (book a reversal instead)');
END;

CREATE TRIGGER ledger_attribution_no_delete BEFORE DELETE ON ledger_transactionattribution
WHEN NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'ledger: DELETE on ledger_transactionattribution refused: booked rows are append-only (book a reversal instead)');
END;

-- An agreement version a settlement used is frozen but for its closing (an open end set to a day not
-- before the lock, China time); it is never deleted and its tiers never change.
CREATE TRIGGER ledger_version_locked BEFORE UPDATE ON ledger_agreementversion
WHEN OLD.locked_at IS NOT NULL AND NOT guards_suspended() AND (
    NEW.agreement_id IS NOT OLD.agreement_id OR NEW.number IS NOT OLD.number OR NEW.valid_from IS NOT OLD.valid_from
    OR NEW.rule_kind IS NOT OLD.rule_kind OR NEW.rate IS NOT OLD.rate OR NEW.fixed_amount IS NOT OLD.fixed_amount
    OR NEW.tier_basis IS NOT OLD.tier_basis OR NEW.floor IS NOT OLD.floor OR NEW.cap IS NOT OLD.cap
    OR NEW.note IS NOT OLD.note OR NEW.locked_at IS NOT OLD.locked_at OR NEW.created_at IS NOT OLD.created_at
    OR NEW.created_by_id IS NOT OLD.created_by_id
    OR (NEW.valid_to IS NOT OLD.valid_to AND (OLD.valid_to IS NOT NULL OR NEW.valid_to IS NULL
        OR NEW.valid_to < date(OLD.locked_at, '+8 hours'))))
BEGIN
    SELECT RAISE(ABORT, 'ledger: agreement version was used in a settlement: only closing it is allowed (a change is a new version)');
END;

CREATE TRIGGER ledger_version_no_delete BEFORE DELETE ON ledger_agreementversion
WHEN OLD.locked_at IS NOT NULL AND NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'ledger: agreement version was used in a settlement and is never deleted');
END;

CREATE TRIGGER ledger_tier_locked_insert BEFORE INSERT ON ledger_agreementtier
WHEN (SELECT locked_at FROM ledger_agreementversion WHERE id = NEW.version_id) IS NOT NULL AND NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'ledger: the tiers of an agreement version used in a settlement never change');
END;

CREATE TRIGGER ledger_tier_locked_update BEFORE UPDATE ON ledger_agreementtier
WHEN ((SELECT locked_at FROM ledger_agreementversion WHERE id = OLD.version_id) IS NOT NULL
      OR (SELECT locked_at FROM ledger_agreementversion WHERE id = NEW.version_id) IS NOT NULL) AND NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'ledger: the tiers of an agreement version used in a settlement never change');
END;

CREATE TRIGGER ledger_tier_locked_delete BEFORE DELETE ON ledger_agreementtier
WHEN (SELECT locked_at FROM ledger_agreementversion WHERE id = OLD.version_id) IS NOT NULL AND NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'ledger: the tiers of an agreement version used in a settlement never change');
END;

CREATE INDEX ledger_attr_occurred_at ON ledger_transactionattribution (occurred_at);
