DROP INDEX IF EXISTS ledger_attr_occurred_at;
DROP TRIGGER IF EXISTS ledger_attribution_no_delete;
DROP TRIGGER IF EXISTS ledger_attribution_no_update;
DROP TRIGGER IF EXISTS ledger_transaction_no_delete;
DROP TRIGGER IF EXISTS ledger_transaction_no_update;
