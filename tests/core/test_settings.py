"""Settings come from the environment, fail loudly, and production passes the deploy checks."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_", "CACHE_URL", "SIGN_IN_", "PARTNER_PORTAL_"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "k" * 20 + "-production-secret-with-enough-entropy-0123456789",
    "DJANGO_ALLOWED_HOSTS": "partner.bank.example",
    "DATABASE_URL": "postgres://root@127.0.0.1:5432/test",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "CACHE_URL": "redis://127.0.0.1:6379/1",
    "PARTNER_PORTAL_BASE_URL": "https://partners.bank.example",
}


def test_production_settings_pass_check_deploy_without_warnings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("variable", [v for v in PRODUCTION if v != "DJANGO_SETTINGS_MODULE"])
def test_production_settings_refuse_to_start_without_each_required_variable(variable):
    # CACHE_URL: sign-in limits count in the cache; per-process local memory would multiply them by the processes.
    env = {k: v for k, v in PRODUCTION.items() if k != variable}
    result = _manage("check", **env)
    assert result.returncode != 0
    assert f"not set: {variable}" in result.stderr


def test_production_settings_name_every_missing_variable_at_once():
    result = _manage("check", DJANGO_SETTINGS_MODULE="config.settings.production")
    assert result.returncode != 0
    message = next(line for line in result.stderr.splitlines() if "Production needs" in line)
    for variable in PRODUCTION:
        if variable != "DJANGO_SETTINGS_MODULE":
            assert variable in message


def test_production_settings_refuse_a_cache_of_one_process():
    result = _manage("check", **{**PRODUCTION, "CACHE_URL": "locmemcache://"})
    assert result.returncode != 0
    assert "CACHE_URL must name a cache shared by every process" in result.stderr


def test_production_settings_check_database_connections_before_reuse():
    probe = "from django.conf import settings as s; d = s.DATABASES['default']; "
    probe += "print(d['CONN_HEALTH_CHECKS'], d['ATOMIC_REQUESTS'], s.DEBUG)"
    result = _manage("shell", "--no-imports", "-c", probe, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "False"]


LOCAL_KEY = {"DJANGO_SECRET_KEY": "a-local-key-for-these-checks-only-0123456789abcdef"}


def test_debug_is_off_unless_turned_on_and_a_key_is_required_without_it():
    refused = _manage("check", DJANGO_SETTINGS_MODULE="config.settings.base")
    assert refused.returncode != 0
    assert "DJANGO_SECRET_KEY" in refused.stderr
    probe = "from django.conf import settings as s; print(s.DEBUG)"
    default = _manage("shell", "--no-imports", "-c", probe, DJANGO_SETTINGS_MODULE="config.settings.base", **LOCAL_KEY)
    assert default.stdout.split() == ["False"], default.stderr
    debug = _manage(
        "shell", "--no-imports", "-c", probe, DJANGO_SETTINGS_MODULE="config.settings.base", DJANGO_DEBUG="1"
    )
    assert debug.stdout.split() == ["True"], debug.stderr
    for entry_point in ("manage.py", "config/wsgi.py", "config/celery.py"):
        text = (ROOT / entry_point).read_text()
        assert '"config.settings.base"' in text  # which now has DEBUG off and no usable default key


def test_the_default_settings_pass_the_checks_without_warnings():
    result = _manage("check", "--fail-level", "WARNING", DJANGO_SETTINGS_MODULE="config.settings.base", **LOCAL_KEY)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_a_sign_in_limit_below_one_fails_loudly():
    result = _manage(
        "check", DJANGO_SETTINGS_MODULE="config.settings.base", SIGN_IN_ACCOUNT_FAILURE_LIMIT="0", **LOCAL_KEY
    )
    assert result.returncode != 0
    assert "SIGN_IN_ACCOUNT_FAILURE_LIMIT" in result.stderr


def test_a_malformed_value_fails_loudly():
    result = _manage(
        "check", DJANGO_SETTINGS_MODULE="config.settings.base", CELERY_LONGEST_TASK_SECONDS="an hour", **LOCAL_KEY
    )
    assert result.returncode != 0
    assert "an hour" in result.stderr


def test_default_settings_are_sqlite_with_in_process_celery():
    probe = "from django.conf import settings as s; d = s.DATABASES['default']['ENGINE']; "
    probe += "print(d, s.CELERY_TASK_ALWAYS_EAGER, s.TIME_ZONE, s.LANGUAGE_CODE)"
    result = _manage("shell", "--no-imports", "-c", probe, DJANGO_SETTINGS_MODULE="config.settings.base", **LOCAL_KEY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "True", "Asia/Shanghai", "zh-hans"]


def _variables_in_readme_tables() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", readme, re.MULTILINE))


def _variables_the_code_reads() -> set[str]:
    names = set()
    for path in sorted((ROOT / "config" / "settings").glob("*.py")):
        names |= set(re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]+)\"", path.read_text()))
    names |= set(
        re.findall(r"os\.environ\.get\([\"']([A-Z][A-Z0-9_]+)[\"']", (ROOT / "deploy/gunicorn.conf.py").read_text())
    )
    return names


def test_the_readme_documents_every_variable_the_code_reads_and_no_other():
    documented, read = _variables_in_readme_tables(), _variables_the_code_reads()
    assert len(read) > 30  # the pattern still finds them
    assert not read - documented, f"read by the code but not in a README table: {sorted(read - documented)}"
    assert not documented - read, f"in a README table but read by no code: {sorted(documented - read)}"
