"""Error reporting (Sentry-compatible) starts only when SENTRY_DSN is set, and then sends no personal data."""

from __future__ import annotations

import json

from tests.core.test_settings import LOCAL_KEY, _manage

PROBE = (
    "import json, sentry_sdk; c = sentry_sdk.get_client(); o = c.options; "
    "print(json.dumps({'active': c.is_active(), 'dsn': o.get('dsn'), 'pii': o.get('send_default_pii'), "
    "'environment': o.get('environment'), 'rate': o.get('traces_sample_rate'), "
    "'integrations': sorted(getattr(c, 'integrations', {}))}))"
)


def _probe(**env: str) -> dict:
    result = _manage("shell", "--no-imports", "-c", PROBE, DJANGO_SETTINGS_MODULE="config.settings.base", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_nothing_is_initialised_without_a_dsn():
    state = _probe(**LOCAL_KEY)
    assert state["active"] is False
    assert state["dsn"] is None


def test_a_dsn_initialises_django_and_celery_reporting_without_personal_data():
    # An address nobody answers: initialising sends nothing (only an error would be sent).
    dsn = "https://publickey@errors.invalid/42"
    state = _probe(**LOCAL_KEY, SENTRY_DSN=dsn, SENTRY_ENVIRONMENT="staging", SENTRY_TRACES_SAMPLE_RATE="0.25")
    assert state["active"] is True
    assert state["dsn"] == dsn
    assert state["pii"] is False
    assert state["environment"] == "staging"
    assert state["rate"] == 0.25
    assert {"django", "celery"} <= set(state["integrations"])


def test_traces_are_off_by_default_and_a_rate_out_of_range_is_refused():
    assert _probe(**LOCAL_KEY, SENTRY_DSN="https://publickey@errors.invalid/42")["rate"] == 0.0
    refused = _manage(
        "check", DJANGO_SETTINGS_MODULE="config.settings.base", SENTRY_TRACES_SAMPLE_RATE="2", **LOCAL_KEY
    )
    assert refused.returncode != 0
    assert "SENTRY_TRACES_SAMPLE_RATE" in refused.stderr
