-- The admission log (django-fsm-log's state log: every transition of a partner's case, who made it and
-- when) is append-only on PostgreSQL: UPDATE, DELETE and TRUNCATE are refused. Per row, so that a
-- statement matching nothing (loaddata's update-then-insert of a new entry) passes. Only the test
-- suite's database reset passes, by setting guards.suspended (core/migrations_sql.py).

CREATE FUNCTION onboarding_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('guards.suspended', true) = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'admission log: % on % refused: the log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER onboarding_statelog_append_only
    BEFORE UPDATE OR DELETE ON django_fsm_log_statelog
    FOR EACH ROW EXECUTE FUNCTION onboarding_log_append_only();

CREATE FUNCTION onboarding_log_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('guards.suspended', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'admission log: TRUNCATE on % refused: the log is append-only', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER onboarding_statelog_no_truncate
    BEFORE TRUNCATE ON django_fsm_log_statelog
    FOR EACH STATEMENT EXECUTE FUNCTION onboarding_log_no_truncate();
