DROP TRIGGER IF EXISTS onboarding_statelog_no_truncate ON django_fsm_log_statelog;
DROP FUNCTION IF EXISTS onboarding_log_no_truncate();
DROP TRIGGER IF EXISTS onboarding_statelog_append_only ON django_fsm_log_statelog;
DROP FUNCTION IF EXISTS onboarding_log_append_only();
