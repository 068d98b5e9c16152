-- The admission log (django-fsm-log's state log: every transition of a partner's case, who made it and
-- when) is append-only on PostgreSQL: UPDATE, DELETE and TRUNCATE are refused. Only the test suite's
-- database reset passes, by setting guards.suspended (core/migrations_sql.py).

CREATE FUNCTION onboarding_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('guards.suspended', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'admission log: % on % refused: the log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER onboarding_statelog_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON django_fsm_log_statelog
    FOR EACH STATEMENT EXECUTE FUNCTION onboarding_log_append_only();
