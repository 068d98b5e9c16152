"""Webhook delivery connects to the address it checked: the host name is resolved once, never again.

A DNS answer that changes between the check and the connection (DNS
rebinding) must not point the bank's servers at its own network. Here the
name resolves to a public address first and to 127.0.0.1 on any later
lookup; the connection must go to the first. The network path to that
public address is simulated by a socket whose connect is redirected to a
local endpoint, after recording where it was asked to go.
"""

from __future__ import annotations

import socket
import ssl

import pytest

from revenue.statements.models import WebhookDelivery
from revenue.statements.services import statement_generate, webhook_create
from revenue.statements.services import webhooks as webhook_services
from tests.revenue.statements.test_notifications import Endpoint

PUBLIC = "93.184.216.34"


@pytest.fixture
def rebinding_dns(monkeypatch):
    """The name answers a public address once, then 127.0.0.1; the calls are counted."""
    calls = []

    def getaddrinfo(host, port, *args, **kwargs):
        calls.append(host)
        address = PUBLIC if len(calls) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


def redirect_connections(monkeypatch, to_port: int) -> list:
    """Sockets record the address they are asked to connect to, and reach the local endpoint instead."""
    asked = []
    real_socket = socket.socket

    class Redirected(real_socket):
        def connect(self, address):
            asked.append(address)
            super().connect(("127.0.0.1", to_port))

    monkeypatch.setattr(webhook_services.socket, "socket", Redirected)
    return asked


def test_the_delivery_connects_to_the_address_it_checked(
    monkeypatch, rebinding_dns, settlement_x, partner_x, partner_user_x, django_capture_on_commit_callbacks
):
    with Endpoint() as endpoint:
        port = endpoint.server.server_address[1]
        webhook_create(partner=partner_x, url=f"http://hooks.partner.example:{port}/hooks/bank", by=partner_user_x)
        asked = redirect_connections(monkeypatch, port)
        with django_capture_on_commit_callbacks(execute=True):
            statement_generate(settlement=settlement_x)
    assert rebinding_dns == ["hooks.partner.example"]  # one resolution, for the check
    assert asked == [(PUBLIC, port)]  # the connection went to the checked address
    [(path, headers, _body)] = endpoint.requests
    assert path == "/hooks/bank"
    assert headers["Host"] == f"hooks.partner.example:{port}"  # the original name, not the address
    assert WebhookDelivery.objects.get().state == "delivered"


def test_a_rebinding_host_is_refused_when_its_first_answer_is_private(
    monkeypatch, settlement_x, partner_x, partner_user_x, django_capture_on_commit_callbacks
):
    answers = iter(["127.0.0.1", PUBLIC])
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))],
    )
    webhook_create(partner=partner_x, url="https://hooks.partner.example/hooks", by=partner_user_x)
    with django_capture_on_commit_callbacks(execute=True):
        statement_generate(settlement=settlement_x)
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed" and "public address" in delivery.last_error


def test_https_sends_the_host_name_for_sni_and_certificate_checks(monkeypatch, rebinding_dns):
    wrapped_for = []

    class RecordingContext(ssl.SSLContext):
        def wrap_socket(self, sock, *args, server_hostname=None, **kwargs):
            wrapped_for.append(server_hostname)
            raise ssl.SSLError("handshake stopped by the test")

    context = RecordingContext(ssl.PROTOCOL_TLS_CLIENT)
    monkeypatch.setattr(webhook_services, "_tls_context", lambda: context)
    with Endpoint() as endpoint:
        asked = redirect_connections(monkeypatch, endpoint.server.server_address[1])
        target = webhook_services.webhook_target("https://hooks.partner.example/hooks")
        with pytest.raises(ssl.SSLError):
            webhook_services.webhook_post(target, b"{}", {"Content-Type": "application/json"})
    assert asked == [(PUBLIC, 443)]
    assert wrapped_for == ["hooks.partner.example"]
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert rebinding_dns == ["hooks.partner.example"]
