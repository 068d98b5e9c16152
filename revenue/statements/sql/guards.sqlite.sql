-- Issued statements are immutable on SQLite, as on PostgreSQL (see guards.postgresql.sql): no
-- delete, and an update may only restore a lost file's path. Only the test suite's database reset
-- passes, through the guards_suspended() function (core/migrations_sql.py).

CREATE TRIGGER statements_statement_no_update BEFORE UPDATE ON statements_statement
WHEN NOT guards_suspended() AND (NEW.id IS NOT OLD.id OR NEW.settlement_id IS NOT OLD.settlement_id
    OR NEW.number IS NOT OLD.number OR NEW.code IS NOT OLD.code OR NEW.layout IS NOT OLD.layout
    OR NEW.data IS NOT OLD.data OR NEW.sha256 IS NOT OLD.sha256 OR NEW.size IS NOT OLD.size
    OR NEW.period_label IS NOT OLD.period_label OR NEW.generated_at IS NOT OLD.generated_at
    OR NEW.generated_by_id IS NOT OLD.generated_by_id)
BEGIN
    SELECT RAISE(ABORT, 'statement: an issued statement is never changed');
END;

CREATE TRIGGER statements_statement_no_delete BEFORE DELETE ON statements_statement
WHEN NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'statement: an issued statement is never deleted');
END;
