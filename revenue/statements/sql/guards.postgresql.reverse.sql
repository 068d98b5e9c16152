DROP TRIGGER IF EXISTS statements_statement_no_truncate ON statements_statement;
DROP FUNCTION IF EXISTS statements_no_truncate();
DROP TRIGGER IF EXISTS statements_statement_issued ON statements_statement;
DROP FUNCTION IF EXISTS statements_statement_issued();
