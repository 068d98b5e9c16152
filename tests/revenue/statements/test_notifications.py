"""Telling partners: e-mails and signed webhooks when a statement is ready and when a dispute is decided.

Webhooks are delivered to a real HTTP server on 127.0.0.1 (private addresses
are allowed for these tests only); Celery runs in-process, so its retries
happen at once instead of after the back-off.
"""

from __future__ import annotations

import json
import smtplib
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from revenue.settlement.models import SettlementDispute
from revenue.settlement.services import settlement_dispute_raise, settlement_dispute_reject, settlement_dispute_resolve
from revenue.statements.errors import WebhookUrlRefused
from revenue.statements.models import PartnerEvent, PartnerWebhook, WebhookDelivery
from revenue.statements.services import (
    partner_event_email,
    statement_generate,
    webhook_create,
    webhook_signature,
    webhook_signature_verify,
    webhook_url_check,
)
from revenue.statements.tasks import WEBHOOK_MAX_RETRIES
from tests.revenue.statements.factories import period_row

D = Decimal


class Endpoint:
    """A partner's endpoint on 127.0.0.1: answers with the scripted statuses (then 200) and records requests."""

    def __init__(self, statuses=(), redirect_to: str = ""):
        self.statuses = list(statuses)
        self.redirect_to = redirect_to
        self.requests: list[tuple[str, dict, bytes]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                endpoint.requests.append((self.path, dict(self.headers), body))
                status = endpoint.statuses.pop(0) if endpoint.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", endpoint.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/bank"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_webhooks(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture
def retries_in_process():
    """In-process Celery runs a task's retries at once only when errors do not propagate (as on a worker)."""
    from config.celery import app

    saved = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = saved


def register(partner, user, url) -> PartnerWebhook:
    return webhook_create(partner=partner, url=url, by=user)


def test_a_ready_statement_is_posted_signed(
    local_webhooks, settlement_x, partner_x, partner_user_x, django_capture_on_commit_callbacks
):
    with Endpoint() as endpoint:
        hook = register(partner_x, partner_user_x, endpoint.url)
        with django_capture_on_commit_callbacks(execute=True):
            statement = statement_generate(settlement=settlement_x)
    [(path, headers, body)] = endpoint.requests
    assert path == "/hooks/bank"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["X-Partner-Event"] == "statement.ready"
    assert headers["X-Partner-Signature"] == webhook_signature(hook.secret, headers["X-Partner-Timestamp"], body)
    assert webhook_signature_verify(hook.secret, headers["X-Partner-Timestamp"], body, headers["X-Partner-Signature"])
    event = json.loads(body)
    assert event["type"] == "statement.ready" and event["id"] == f"statement.ready:{settlement_x.pk}"
    assert event["data"]["payable"] == "835.28" and event["data"]["verification_code"] == statement.code
    assert event["data"]["sha256"] == statement.sha256
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)
    assert len(mail.outbox) == 1


def test_failures_are_retried_until_delivered(
    local_webhooks, retries_in_process, settlement_x, partner_x, partner_user_x, django_capture_on_commit_callbacks
):
    with Endpoint(statuses=[500, 503]) as endpoint:
        register(partner_x, partner_user_x, endpoint.url)
        with django_capture_on_commit_callbacks(execute=True):
            statement_generate(settlement=settlement_x)
    assert len(endpoint.requests) == 3
    # Every retry carries the same delivery id and body, each freshly signed.
    assert len({headers["X-Partner-Delivery"] for _, headers, _ in endpoint.requests}) == 1
    assert len({body for _, _, body in endpoint.requests}) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 3, 200)


def test_a_dead_endpoint_is_given_up_after_the_last_retry(
    local_webhooks, retries_in_process, settlement_x, partner_x, partner_user_x, django_capture_on_commit_callbacks
):
    with Endpoint(statuses=[500] * 50) as endpoint:
        register(partner_x, partner_user_x, endpoint.url)
        with django_capture_on_commit_callbacks(execute=True):
            statement_generate(settlement=settlement_x)
    assert len(endpoint.requests) == WEBHOOK_MAX_RETRIES + 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.last_status, delivery.last_error) == (
        "failed",
        500,
        "The webhook answered HTTP 500.",
    )


def test_redirects_are_never_followed(
    local_webhooks, retries_in_process, settlement_x, partner_x, partner_user_x, django_capture_on_commit_callbacks
):
    with Endpoint(redirect_to="/internal") as target, Endpoint(statuses=[302] * 50, redirect_to="") as endpoint:
        endpoint.redirect_to = target.url.replace("/hooks/bank", "/internal")
        register(partner_x, partner_user_x, endpoint.url)
        with django_capture_on_commit_callbacks(execute=True):
            statement_generate(settlement=settlement_x)
    assert target.requests == []
    assert WebhookDelivery.objects.get().last_status == 302


def test_a_host_resolving_to_a_private_address_is_refused_at_delivery(
    settlement_x, partner_x, partner_user_x, monkeypatch, django_capture_on_commit_callbacks
):
    hook = register(partner_x, partner_user_x, "https://erp.partner.example/hooks")
    monkeypatch.setattr(
        "socket.getaddrinfo", lambda *args, **kwargs: [(2, 1, 6, "", ("10.0.0.5", 443))]
    )  # DNS now points into the bank's network
    with django_capture_on_commit_callbacks(execute=True):
        statement_generate(settlement=settlement_x)
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert (delivery.state, delivery.attempts) == ("failed", 1)  # not retried
    assert "public address" in delivery.last_error


@pytest.mark.parametrize(
    "url",
    [
        "ftp://erp.partner.example/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https://",
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data",
        "https://192.168.1.10/",
        "http://localhost:8000/",
    ],
)
def test_webhook_urls_must_be_public_http(db, url):
    with pytest.raises(WebhookUrlRefused):
        webhook_url_check(url, resolve=False)


def test_paused_and_other_partners_webhooks_get_nothing(
    local_webhooks,
    settlement_x,
    partner_x,
    partner_y,
    partner_user_x,
    partner_user_y,
    django_capture_on_commit_callbacks,
):
    with Endpoint() as x_endpoint, Endpoint() as y_endpoint:
        paused = register(partner_x, partner_user_x, x_endpoint.url)
        PartnerWebhook.objects.filter(pk=paused.pk).update(active=False)
        register(partner_y, partner_user_y, y_endpoint.url)
        with django_capture_on_commit_callbacks(execute=True):
            statement_generate(settlement=settlement_x)
    assert x_endpoint.requests == [] and y_endpoint.requests == []


def test_a_decided_dispute_is_e_mailed_and_posted(
    local_webhooks, settlement_x, partner_x, partner_user_x, finance, django_capture_on_commit_callbacks
):
    period_row("2026-11", closed=False)
    line = settlement_x.lines.get(position=2)
    dispute = settlement_dispute_raise(line=line, by=partner_user_x, comment="The loan share is 25%, not 20%.")
    with Endpoint() as endpoint:
        register(partner_x, partner_user_x, endpoint.url)
        with django_capture_on_commit_callbacks(execute=True):
            settlement_dispute_resolve(dispute=dispute, by=finance, amount=D("125.00"), comment="Agreed: 25%.")
    [(_, headers, body)] = endpoint.requests
    event = json.loads(body)
    assert headers["X-Partner-Event"] == "dispute.resolved"
    assert event["data"] == {
        "dispute_id": dispute.pk,
        "settlement_id": settlement_x.pk,
        "line_id": line.pk,
        "period": "2026-10",
        "outcome": "resolved",
        "resolution": "Agreed: 25%.",
        "amount": "125.00",
        "adjusted_in_period": "2026-11",
        "currency": "CNY",
    }
    [message] = mail.outbox
    assert partner_user_x.email in message.to and partner_x.contact_email in message.to
    assert "2026-10" in message.subject
    assert "125.00 CNY will be settled in 2026-11" in message.body and "Agreed: 25%." in message.body


def test_a_rejected_dispute_is_e_mailed(settlement_x, partner_user_x, finance, django_capture_on_commit_callbacks):
    dispute = settlement_dispute_raise(line=settlement_x.lines.first(), by=partner_user_x, comment="Too low")
    with django_capture_on_commit_callbacks(execute=True):
        settlement_dispute_reject(dispute=dispute, by=finance, comment="As agreed in the contract.")
    [message] = mail.outbox
    assert "rejected" in message.body and "As agreed in the contract." in message.body
    assert PartnerEvent.objects.get().payload["outcome"] == "rejected"


def test_no_event_when_the_decision_rolls_back(settlement_x, partner_user_x, finance, monkeypatch):
    dispute = settlement_dispute_raise(line=settlement_x.lines.first(), by=partner_user_x, comment="Too low")

    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(SettlementDispute, "save", fail)
    with pytest.raises(RuntimeError):
        settlement_dispute_reject(dispute=dispute, by=finance, comment="No.")
    assert not PartnerEvent.objects.exists()


def test_e_mails_are_sent_once_and_retried_after_a_failure(settlement_x, partner_user_x, monkeypatch):
    statement_generate(settlement=settlement_x)  # on-commit callbacks not run: nothing sent yet
    event = PartnerEvent.objects.get()

    def broken(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr("revenue.statements.services.events.send_mail", broken)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        partner_event_email(event_id=event.pk)
    event.refresh_from_db()
    assert event.emailed_at is None  # released for the retry
    monkeypatch.undo()
    assert partner_event_email(event_id=event.pk) == 2
    assert partner_event_email(event_id=event.pk) == 0  # a second delivery of the task sends nothing
    assert len(mail.outbox) == 1


def test_signature_verification(db):
    body = b'{"type":"statement.ready"}'
    signature = webhook_signature("s3cret", "1700000000", body)
    assert webhook_signature_verify("s3cret", "1700000000", body, signature, now=1700000100)
    assert not webhook_signature_verify("s3cret", "1700000000", body + b" ", signature, now=1700000100)
    assert not webhook_signature_verify("other", "1700000000", body, signature, now=1700000100)
    assert not webhook_signature_verify("s3cret", "1700000001", body, signature, now=1700000100)
    assert not webhook_signature_verify("s3cret", "1700000000", body, signature, now=1700009999)  # too old


def test_only_the_partners_own_users_register_webhooks(local_webhooks, partner_x, partner_user_y, finance):
    from revenue.statements.errors import NotPermitted

    for user in (partner_user_y, finance):
        with pytest.raises(NotPermitted):
            webhook_create(partner=partner_x, url="https://erp.partner.example/", by=user)


def test_a_failed_delivery_never_breaks_the_issue_and_the_sweep_retries_it(
    local_webhooks, settlement_x, partner_x, partner_user_x, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    from revenue.statements.models import Statement
    from revenue.statements.services import statements_sweep

    with Endpoint(statuses=[500]) as endpoint:
        register(partner_x, partner_user_x, endpoint.url)
        with django_capture_on_commit_callbacks(execute=True):
            statement_generate(settlement=settlement_x)  # the failed first attempt is not the issuer's problem
        assert Statement.objects.filter(settlement=settlement_x).exists()
        delivery = WebhookDelivery.objects.get()
        assert (delivery.state, delivery.attempts) == ("pending", 1)
        assert statements_sweep()["deliveries"] == 0  # too early: a retry may still be on its way
        counts = statements_sweep(now=timezone.now() + dt.timedelta(hours=2))
    assert counts["deliveries"] == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    assert len(endpoint.requests) == 2


def test_the_sweep_issues_missing_statements_and_unsent_e_mails(settlement_x, settlement_y, draft_x, monkeypatch):
    import datetime as dt

    from django.utils import timezone

    from revenue.statements.models import Statement
    from revenue.statements.services import statements_sweep

    counts = statements_sweep()
    assert counts["statements"] == 2  # not the draft
    assert set(Statement.objects.values_list("settlement_id", flat=True)) == {settlement_x.pk, settlement_y.pk}
    assert len(mail.outbox) == 0  # events recorded; their e-mails wait for the commit (not run in this test)
    assert statements_sweep(now=timezone.now() + dt.timedelta(minutes=11))["emails"] == 2
    assert len(mail.outbox) == 2
    assert statements_sweep(now=timezone.now() + dt.timedelta(minutes=11)) == {
        "statements": 0,
        "emails": 0,
        "deliveries": 0,
        "given_up": 0,
    }
