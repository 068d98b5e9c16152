-- The ledger's guards on SQLite: booked rows are append-only (UPDATE and DELETE refused, upserts
-- included), whoever sends them. Only the test suite's database reset passes, through the
-- guards_suspended() function every connection of the product registers (core/migrations_sql.py).
-- A month across partners is read through a plain index on the attributions' time.

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

CREATE INDEX ledger_attr_occurred_at ON ledger_transactionattribution (occurred_at);
