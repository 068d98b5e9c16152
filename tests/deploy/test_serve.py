"""bin/serve starts the production-like stack; over HTTP: ready, an admin sign-in, a run through a real worker.

PostgreSQL and Redis only (the stack's production settings need both); skipped on the embedded default.
The stack runs on a database of its own (the configured one's name with ``_serve``), made and dropped here.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "serve-smoke-test-password-1"


pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql" or settings.CELERY_TASK_ALWAYS_EAGER,
    reason="bin/serve runs on PostgreSQL and Redis",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _admin_database() -> tuple[dict, str]:
    """Connection arguments of the configured server, and the name of the stack's database."""
    db = settings.DATABASES["default"]
    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1].split("?")[0] + "_serve"
    params = {"host": db.get("HOST") or "127.0.0.1", "port": db.get("PORT") or 5432, "user": db.get("USER") or None}
    if db.get("PASSWORD"):
        params["password"] = db["PASSWORD"]
    return params, name


def _execute(params: dict, sql: str, dbname: str = "postgres", args: tuple = ()) -> list:
    import psycopg

    with psycopg.connect(dbname=dbname, autocommit=True, **params) as conn:
        cursor = conn.execute(sql, args)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def serve_database():
    params, name = _admin_database()
    _execute(params, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _execute(params, f'CREATE DATABASE "{name}"')
    user = f"{params['user']}@" if params.get("user") else ""
    secret = f":{params['password']}" if params.get("password") else ""
    if secret:
        user = f"{params['user']}{secret}@"
    yield f"postgres://{user}{params['host']}:{params['port']}/{name}", params, name
    _execute(params, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Browser:
    """Cookies and CSRF tokens, as a browser keeps them; redirects are not followed."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def request(self, path: str, data: dict | None = None, **headers: str) -> tuple[int, dict, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        headers = {"Referer": self.base + path, **headers}
        request = urllib.request.Request(self.base + path, data=body, headers=headers)  # noqa: S310
        try:
            with self.opener.open(request, timeout=20) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode()

    def csrf(self, path: str) -> str:
        status, _, page = self.request(path)
        assert status == 200, (path, status)
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def _wait_ready(base: str, proc: subprocess.Popen, log: Path, seconds: float = 180) -> dict:
    # Migrating a new database and compressing the static files take over a minute on a busy CI machine.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"bin/serve exited:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(base + "/health/ready", timeout=5) as response:  # noqa: S310 - local
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise AssertionError(f"not ready within {seconds} s:\n{log.read_text()[-4000:]}")


def test_bin_serve_runs_the_stack_and_a_settlement_run_goes_through_a_worker(serve_database, tmp_path):
    url, params, name = serve_database
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PARTNER_PORTAL_", "CACHE_URL"))},
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        # Queues of its own on the shared broker: the test suite's worker must not take the stack's tasks.
        "CELERY_BROKER_KEY_PREFIX": f"serve-{port}:",
        "PORT": str(port),
        "SERVE_PYTHON": sys.executable,
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_PRIVATE_MEDIA_ROOT": str(tmp_path / "private"),
    }
    env.pop("CELERY_RESULT_BACKEND", None)
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(ROOT / "bin" / "serve")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        ready = _wait_ready(base, proc, log)
        assert ready["status"] == "ok", ready

        manage_env = {**env, "DJANGO_SETTINGS_MODULE": "config.settings.production", "DJANGO_SECRET_KEY": "x" * 50}
        manage_env |= {"DJANGO_ALLOWED_HOSTS": "127.0.0.1", "CACHE_URL": env["CELERY_BROKER_URL"]}
        manage_env |= {"PARTNER_PORTAL_BASE_URL": base, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
        created = subprocess.run(
            [sys.executable, "manage.py", "createsuperuser", "--no-input", "--username", "ops", "--email", "o@x.cn"],
            cwd=ROOT,
            env=manage_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stderr

        browser = Browser(base)
        token = browser.csrf("/admin/login/")
        status, headers, _ = browser.request(
            "/admin/login/?next=/admin/",
            {"csrfmiddlewaretoken": token, "username": "ops", "password": PASSWORD, "next": "/admin/"},
        )
        assert status == 302 and headers["Location"] == "/admin/", status
        assert browser.request("/admin/")[0] == 200
        # Static files come from gunicorn (WhiteNoise), with hashed names.
        page = browser.request("/admin/")[2]
        css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page).group(1)
        assert browser.request(css)[0] == 200
        # The portal and the API docs render with the hashed static files' manifest.
        assert Browser(base).request("/portal/login/")[0] == 200
        assert browser.request("/api/docs/")[0] == 200

        token = browser.csrf("/admin/settlement/settlementrun/start/")
        status, headers, body = browser.request(
            "/admin/settlement/settlementrun/start/",
            {"csrfmiddlewaretoken": token, "period": "2026-11", "kind": "accrual"},
            **{"X-Request-ID": f"smoke-{port}"},
        )
        assert status == 302, body[-2000:]
        run_id = int(re.search(r"/settlementrun/(\d+)/change/", headers["Location"]).group(1))
        deadline = time.monotonic() + 30
        state = None
        while time.monotonic() < deadline:
            state = _execute(params, "SELECT state FROM settlement_settlementrun WHERE id = %s", name, (run_id,))[0][0]
            if state in ("completed", "failed"):
                break
            time.sleep(0.5)
        assert state == "completed", log.read_text()[-4000:]
        # The settlement queue's worker ran it.
        output = log.read_text()
        assert re.search(r"^\S+ worker\.1 .*Task settlement\.run_prepare\[", output, re.MULTILINE)
        # Its log lines, in JSON, carry the id of the request that started it.
        completed = [
            json.loads(line.split("| ", 1)[1])
            for line in output.splitlines()
            if re.match(r"^\S+ worker\.1 ", line) and f"settlement run {run_id} completed" in line
        ]
        assert completed and completed[0]["request_id"] == f"smoke-{port}", output[-4000:]
        # /metrics (read from this address) adds up the worker's task counts and reads the run's phases.
        with urllib.request.urlopen(base + "/metrics", timeout=20) as response:  # noqa: S310 - local
            metrics = response.read().decode()
        assert re.search(r'partner_office_celery_tasks_total\{[^}]*task="settlement\.run_prepare"', metrics), metrics
        assert re.search(rf'partner_office_settlement_run_phase_seconds\{{[^}}]*run="{run_id}"', metrics), metrics
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
