"""Every response returns its request's id, and every log line written while handling it carries the id."""

from __future__ import annotations

import copy
import io
import json
import logging
import logging.config
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def test_a_well_formed_request_id_comes_back(client):
    response = client.get("/health/live", HTTP_X_REQUEST_ID="edge-4f1c2a9b-0001")
    assert response["X-Request-ID"] == "edge-4f1c2a9b-0001"


@pytest.mark.parametrize("given", [None, "", "two words", "evil\r\nSet-Cookie: x=1", "x" * 129, '"quoted"'])
def test_a_missing_or_malformed_request_id_is_replaced_by_a_new_one(client, given):
    headers = {} if given is None else {"HTTP_X_REQUEST_ID": given}
    first = client.get("/health/live", **headers)["X-Request-ID"]
    second = client.get("/health/live", **headers)["X-Request-ID"]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second


def test_static_files_and_redirects_return_it_too(client, db):
    assert client.get("/static/admin/css/base.css", HTTP_X_REQUEST_ID="static-1")["X-Request-ID"] == "static-1"
    assert client.get("/admin/", HTTP_X_REQUEST_ID="redirect-1")["X-Request-ID"] == "redirect-1"


def _production_logging(stream: io.StringIO) -> dict:
    config = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"]["formatter"] = "json"  # as config.settings.production sets it
    config["handlers"]["console"]["stream"] = stream
    return config


@pytest.mark.django_db
def test_a_log_line_written_during_a_request_is_json_with_the_request_id(client):
    stream = io.StringIO()
    logging.config.dictConfig(_production_logging(stream))
    try:
        # Django logs a 404 at WARNING after the view returned.
        client.get("/no-such-page/", HTTP_X_REQUEST_ID="trace-0042")
        logging.getLogger("partner_office.outside").warning("between requests")
    finally:
        logging.config.dictConfig(settings.LOGGING)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    not_found = next(line for line in lines if line["logger"] == "django.request")
    assert not_found["request_id"] == "trace-0042"
    assert not_found["level"] == "WARNING"
    assert "/no-such-page/" in not_found["message"]
    assert lines[-1]["request_id"] == "-"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", lines[-1]["time"])


def test_production_settings_log_json_lines():
    probe = "from django.conf import settings as s; print(s.LOGGING['handlers']['console']['formatter'])"
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "k" * 50,
        "DJANGO_ALLOWED_HOSTS": "partner.bank.example",
        "DATABASE_URL": "postgres://root@127.0.0.1:5432/none",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "CACHE_URL": "redis://127.0.0.1:6379/1",
        "PARTNER_PORTAL_BASE_URL": "https://partners.bank.example",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["json"], result.stderr


def test_a_task_queued_during_a_request_carries_its_id_to_the_worker():
    from types import SimpleNamespace

    from config.celery import log_with_the_request_id, send_the_request_id
    from core.request_id import current_request_id, use_request_id

    use_request_id("web-77")
    headers: dict = {}
    send_the_request_id(headers=headers)
    assert headers == {"request_id": "web-77"}

    # In the worker, the message's headers are the task's request.
    use_request_id(None)
    log_with_the_request_id(task=SimpleNamespace(request=SimpleNamespace(is_eager=False, request_id="web-77")))
    assert current_request_id() == "web-77"
    log_with_the_request_id(task=SimpleNamespace(request=SimpleNamespace(is_eager=False, request_id=None)))
    assert current_request_id() == "-"
    # Run in-process, a task keeps its caller's id.
    use_request_id("web-78")
    log_with_the_request_id(task=SimpleNamespace(request=SimpleNamespace(is_eager=True, request_id=None)))
    assert current_request_id() == "web-78"
    use_request_id(None)
