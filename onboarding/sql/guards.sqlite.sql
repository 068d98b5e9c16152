-- The admission log is append-only on SQLite, as on PostgreSQL (see guards.postgresql.sql). Only the
-- test suite's database reset passes, through the guards_suspended() function (core/migrations_sql.py).

CREATE TRIGGER onboarding_statelog_no_update BEFORE UPDATE ON django_fsm_log_statelog
WHEN NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'admission log: the log is append-only');
END;

CREATE TRIGGER onboarding_statelog_no_delete BEFORE DELETE ON django_fsm_log_statelog
WHEN NOT guards_suspended()
BEGIN
    SELECT RAISE(ABORT, 'admission log: the log is append-only');
END;
