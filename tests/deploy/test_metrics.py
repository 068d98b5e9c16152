"""/metrics: who may read it, and that requests, tasks and the database's figures show in it."""

from __future__ import annotations

import hashlib
import re

import pytest
from celery import shared_task
from prometheus_client.parser import text_string_to_metric_families

from revenue.ledger.errors import IngestionRejected
from revenue.ledger.services import transactions_ingest
from tests.revenue.factories import ProductFactory, active_partner, registered, txn_row

OUTSIDE = "203.0.113.7"
TOKEN = "scraper-token-0123456789abcdef"


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def scrape(client, **extra) -> str:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


@pytest.mark.django_db
def test_outsiders_get_a_plain_404_and_no_figure(client, partner_user_x, settings):
    settings.METRICS_TOKEN_SHA256 = [hashlib.sha256(TOKEN.encode()).hexdigest()]
    for extra in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong-token"}, {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"}):
        response = client.get("/metrics", REMOTE_ADDR=OUTSIDE, **extra)
        assert response.status_code == 404
        assert b"partner_office" not in response.content
    client.force_login(partner_user_x)
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 404


@pytest.mark.django_db
def test_internal_addresses_staff_and_the_scrapers_token_may_read(client, head_office, settings):
    settings.METRICS_TOKEN_SHA256 = [hashlib.sha256(TOKEN.encode()).hexdigest()]
    assert "partner_office_database_metrics_up 1.0" in scrape(client)  # 127.0.0.1 is in HEALTH_DETAIL_NETWORKS
    assert "partner_office_statements_issued_total" in scrape(
        client, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    client.force_login(head_office)
    assert "partner_office_http_requests_total" in scrape(client, REMOTE_ADDR=OUTSIDE)


@pytest.mark.django_db
def test_a_request_increments_the_request_counter_of_its_view(client):
    labels = {"view": "health-live", "method": "GET", "status": "200"}
    before = value(scrape(client), "partner_office_http_requests_total", **labels)
    client.get("/health/live")
    client.get("/health/live")
    after = scrape(client)
    assert value(after, "partner_office_http_requests_total", **labels) == before + 2
    assert value(after, "partner_office_http_request_duration_seconds_count", view="health-live", method="GET") >= 2


@pytest.mark.django_db
def test_a_page_not_found_is_counted_without_its_path(client):
    client.get("/no-such-page/12345/")
    text = scrape(client)
    assert value(text, "partner_office_http_requests_total", view="-", method="GET", status="404") >= 1
    assert "12345" not in text


@shared_task(name="tests.metrics_probe")
def metrics_probe(fail: bool = False) -> str:
    if fail:
        raise ValueError("asked to fail")
    return "ok"


@pytest.mark.django_db
def test_a_task_run_increments_the_task_counter_and_a_failure_the_failures(client):
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    try:
        before = scrape(client)
        metrics_probe.delay()
        metrics_probe.delay(fail=True)
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = saved
    after = scrape(client)
    name = "tests.metrics_probe"
    for state in ("SUCCESS", "FAILURE"):
        key = "partner_office_celery_tasks_total"
        assert value(after, key, task=name, state=state) == value(before, key, task=name, state=state) + 1
    failures = "partner_office_celery_task_failures_total"
    assert value(after, failures, task=name, exception="ValueError") == 1 + value(
        before, failures, task=name, exception="ValueError"
    )
    seconds = "partner_office_celery_task_duration_seconds_count"
    assert value(after, seconds, task=name) == value(before, seconds, task=name) + 2


@pytest.mark.django_db
def test_ingestion_rows_booked_come_from_the_database_and_refused_ones_are_counted(client):
    ProductFactory(code="PAY_SETTLE")
    partner = active_partner()
    before = scrape(client)
    source = registered("payments")
    transactions_ingest(rows=[txn_row(partner, "M-1"), txn_row(partner, "M-2")], source=source, by=None)
    with pytest.raises(IngestionRejected):
        transactions_ingest(rows=[txn_row(partner, "M-3", bank_revenue="lots")], source=source, by=None)
    after = scrape(client)
    booked = "partner_office_ingestion_rows_booked_total"
    assert value(after, booked, channel="api") == value(before, booked, channel="api") + 2
    refused = "partner_office_ingestion_rows_refused_total"
    assert value(after, refused, channel="api") == value(before, refused, channel="api") + 1
    assert value(after, "partner_office_ingestion_batches_refused_total", channel="api") >= 1


@pytest.mark.django_db
def test_webhook_deliveries_are_reported_by_state_even_when_there_are_none(client):
    text = scrape(client)
    for state in ("pending", "delivered", "failed"):
        assert re.search(rf'partner_office_webhook_deliveries\{{state="{state}"\}} 0\.0', text), state


@pytest.mark.django_db
def test_the_per_process_figures_are_still_reported_when_the_database_is_down(client, monkeypatch):
    from django.db import OperationalError

    from core.metrics import DatabaseCollector

    def down(self):
        raise OperationalError("connection refused")

    monkeypatch.setattr(DatabaseCollector, "_statements", down)
    text = scrape(client)
    assert "partner_office_database_metrics_up 0.0" in text
    assert "partner_office_http_requests_total" in text
