DROP TRIGGER IF EXISTS statements_statement_no_delete;
DROP TRIGGER IF EXISTS statements_statement_no_update;
