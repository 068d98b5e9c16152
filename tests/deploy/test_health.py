"""/health/live and /health/ready: who sees what, and what makes an instance not ready."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from revenue.settlement.choices import PeriodState, RunKind, RunState, RunTrigger
from revenue.settlement.models import SettlementPeriod, SettlementRun
from tests.factories import UserFactory

CLOSED_PORT_BROKER = "redis://:hunter2@127.0.0.1:9/0"
OUTSIDE = "203.0.113.7"


@pytest.fixture
def unreachable_broker(monkeypatch, settings):
    """The broker is on a port where nothing listens (a password in the URL, which must never be shown)."""
    from config.celery import app

    # Celery reads CELERY_BROKER_URL from the environment before its own settings.
    monkeypatch.setenv("CELERY_BROKER_URL", CLOSED_PORT_BROKER)
    monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)
    settings.CELERY_BROKER_URL = CLOSED_PORT_BROKER
    saved = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager = False
    app.conf.broker_url = CLOSED_PORT_BROKER
    yield
    app.conf.task_always_eager, app.conf.broker_url = saved


def test_live_answers_without_the_database(client):
    # No database access is allowed in this test: any query would raise.
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_with_everything_up(client):
    response = client.get("/health/ready")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert {"database", "migrations", "cache", "broker", "media", "settlement"} <= set(body["components"])
    assert all(c["status"] == "ok" for c in body["components"].values())
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


@pytest.mark.django_db
def test_ready_names_the_broker_when_it_is_down_and_shows_no_secret(client, unreachable_broker):
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["broker"]
    assert body["components"]["broker"]["status"] == "failing"
    assert body["components"]["database"]["status"] == "ok"
    text = response.content.decode()
    for secret in ("hunter2", "redis://", "127.0.0.1", ":9"):
        assert secret not in text


@pytest.mark.django_db
def test_others_get_the_status_only(client, unreachable_broker):
    response = client.get("/health/ready", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


@pytest.mark.django_db
def test_staff_users_get_the_detail_from_anywhere(client, head_office, partner_user_x):
    client.force_login(partner_user_x)
    assert "components" not in client.get("/health/ready", REMOTE_ADDR=OUTSIDE).json()
    client.force_login(head_office)
    assert "components" in client.get("/health/ready", REMOTE_ADDR=OUTSIDE).json()


@pytest.mark.django_db
def test_the_detail_networks_are_a_setting(client, settings):
    settings.HEALTH_DETAIL_NETWORKS = ["203.0.113.0/24"]
    assert "components" in client.get("/health/ready", REMOTE_ADDR=OUTSIDE).json()
    assert "components" not in client.get("/health/ready").json()  # 127.0.0.1 is no longer listed


@pytest.mark.django_db
def test_a_stalled_settlement_run_shows_in_the_detail_but_the_instance_stays_ready(client, settings):
    settings.CELERY_LONGEST_TASK_SECONDS = 600
    period = SettlementPeriod.objects.create(start=dt.date(2026, 10, 1), state=PeriodState.CLOSING, lower_watermark=0)
    run = SettlementRun.objects.create(
        period=period, kind=RunKind.CLOSE, state=RunState.RUNNING, trigger=RunTrigger.COMMAND, attempt=1
    )
    SettlementRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - dt.timedelta(hours=1))
    response = client.get("/health/ready")
    assert response.status_code == 200
    settlement = response.json()["components"]["settlement"]
    assert settlement["status"] == "warning"
    assert [r["id"] for r in settlement["stalled_runs"]] == [run.pk]

    SettlementRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    assert client.get("/health/ready").json()["components"]["settlement"]["stalled_runs"] == []


@pytest.mark.django_db
def test_unapplied_migrations_make_the_instance_not_ready(client, monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    from core import health

    monkeypatch.setattr(health, "_migrations_applied", False)
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("a migration", False)])
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failing"] == ["migrations"]
    assert response.json()["components"]["migrations"]["error"] == "1 migrations not applied"


def test_health_needs_no_session_and_no_staff_user_for_the_status(client, db):
    UserFactory(username="someone", is_staff=False)
    assert client.get("/health/ready", REMOTE_ADDR=OUTSIDE).status_code == 200
