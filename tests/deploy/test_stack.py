"""The production stack's files agree with each other, and static files and error pages are served as in production."""

import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.templatetags.static import static
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_runs_each_procfile_process_with_the_same_command():
    services = compose()["services"]
    for name, command in procfile().items():
        assert name in services, f"compose.yaml has no service {name!r}"
        assert shlex.split(services[name]["command"]) == shlex.split(command), name


def test_compose_has_the_stack_and_its_shared_state():
    config = compose()
    services = config["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "migrate"} <= set(services)
    assert "replicas" in services["worker"]["deploy"]
    # One beat: two would fire every schedule twice.
    assert "deploy" not in services["beat"] or services["beat"]["deploy"].get("replicas") in (None, 1)
    for name in procfile():
        env = services[name]["environment"]
        for variable in ("DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"):
            assert variable in env, (name, variable)
        # Secrets come from the environment of whoever starts the stack, never from this file.
        assert env["DJANGO_SECRET_KEY"].startswith("${"), name
        # Workers write statements that the web serves: one media volume.
        assert "media:/app/media" in services[name]["volumes"], name


def test_the_image_is_built_once_and_runs_as_a_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    assert "collectstatic" in dockerfile
    assert "compilemessages" in dockerfile
    # The web process of the image is the Procfile's.
    cmd = re.search(r"^CMD (.+)$", dockerfile, re.MULTILINE).group(1)
    assert yaml.safe_load(cmd) == shlex.split(procfile()["web"])


def test_the_bundled_pdf_font_is_in_the_image():
    # PDFs embed the font shipped in core/pdf/assets (no system font): it must not be left out of the build.
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert not any(p in ignored for p in ("core", "core/pdf", "core/pdf/assets", "*.ttc"))


@pytest.mark.django_db
def test_production_static_files_have_hashed_names_and_are_served_compressed(client, tmp_path):
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    with override_settings(
        STATIC_ROOT=tmp_path / "static", STORAGES=storages, WHITENOISE_USE_FINDERS=False, WHITENOISE_AUTOREFRESH=False
    ):
        call_command("collectstatic", "--no-input", verbosity=0)
        url = static("admin/css/base.css")
        assert re.search(r"/admin/css/base\.[0-9a-f]{12}\.css$", url), url
        response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
        assert response.status_code == 200
        assert response["Content-Encoding"] == "gzip"
        assert "immutable" in response["Cache-Control"]
        assert (tmp_path / "static" / "staticfiles.json").exists()


@pytest.mark.django_db
def test_static_files_are_served_without_collectstatic_for_the_demo_and_the_api_docs(client):
    assert client.get("/static/admin/css/base.css").status_code == 200
    assert client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css").status_code == 200


@pytest.mark.django_db
def test_a_missing_page_shows_a_plain_404_not_the_url_patterns(client, settings):
    assert settings.DEBUG is False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "URLconf" not in body and "admin/" not in body
    assert "<h1>" in body


def _queues(command: str) -> set[str]:
    for arg in shlex.split(command):
        if arg.startswith("--queues="):
            return set(arg.removeprefix("--queues=").split(","))
    return set()


def test_every_queue_is_read_by_a_worker_and_a_settlement_worker_reads_nothing_else_but_the_default():
    from django.conf import settings

    workers = {name: _queues(cmd) for name, cmd in procfile().items() if " worker" in cmd}
    declared = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    assert set().union(*workers.values()) == declared
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES[1].values()}
    assert routed <= declared
    settlement = [queues for queues in workers.values() if "settlement" in queues]
    assert settlement == [{"settlement", settings.CELERY_TASK_DEFAULT_QUEUE}]


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("settlement.run_chunk", "settlement"),
        ("settlement.close_monthly", "settlement"),
        ("statements.statements_issue", "documents"),
        ("performance.scorecards_build", "documents"),
        ("statements.webhook_deliver", "messages"),
        ("statements.partner_event_email", "messages"),
        ("core.healthcheck", "celery"),
    ],
)
def test_tasks_go_to_the_queue_of_their_kind(task, queue):
    from config.celery import app

    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_a_process_that_moves_the_default_queue_keeps_every_task_there(monkeypatch):
    from config.celery import app

    monkeypatch.setattr(app.conf, "task_default_queue", "bench_settle")
    assert app.amqp.router.route({}, "settlement.run_chunk")["queue"].name == "bench_settle"
