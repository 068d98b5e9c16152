DROP TRIGGER IF EXISTS onboarding_statelog_no_delete;
DROP TRIGGER IF EXISTS onboarding_statelog_no_update;
