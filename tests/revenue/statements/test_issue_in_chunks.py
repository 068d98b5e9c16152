"""Issuing many statements at once: the same statements as one by one, in a handful of round trips."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from revenue.settlement.choices import SettlementState
from revenue.statements.models import PartnerEvent, PartnerWebhook, Statement, WebhookDelivery
from revenue.statements.services import (
    partner_events_dispatch,
    statement_generate,
    statement_regenerate,
    statements_issue,
    statements_sweep,
)
from revenue.statements.tasks import statements_generate_for_period_task
from tests.revenue.statements.factories import LineSpec, make_settlement

D = Decimal


@pytest.fixture
def october(pay, partner_factory):
    """Five closed settlements of 2026-10, of five partners."""

    def make(count: int = 5):
        return [
            make_settlement(partner_factory(), "2026-10", lines=[LineSpec(pay, D("10.00") * (n + 1))])
            for n in range(count)
        ]

    return make


def queries_to_issue(settlements) -> int:
    with CaptureQueriesContext(connection) as queries:
        statements_issue(settlement_ids=[s.pk for s in settlements])
    return len(queries)


def test_the_round_trips_do_not_grow_with_the_number_of_statements(october, django_capture_on_commit_callbacks):
    warm_up, few, many = october(1), october(2), october(6)
    with django_capture_on_commit_callbacks(execute=False):
        queries_to_issue(warm_up)  # the process's first issue reads what it then keeps (the font, the sites)
        assert queries_to_issue(few) == queries_to_issue(many)
    assert Statement.objects.count() == 9 and PartnerEvent.objects.count() == 9


def test_statements_issued_together_regenerate_byte_for_byte(october):
    settlements = october(3)
    together = statements_issue(settlement_ids=[s.pk for s in settlements])
    assert [s.settlement_id for s in together] == [s.pk for s in settlements]
    for statement in together:
        stored = default_storage.open(statement.pdf.name, "rb").read()
        # The stored data renders again to the stored bytes, as for a statement issued alone.
        assert statement_regenerate(statement=Statement.objects.get(pk=statement.pk)) == stored
        assert statement.number == f"ST-202610-{statement.settlement_id:06d}"


def test_issued_statements_are_returned_and_drafts_left_alone(october, draft_x):
    first, second = october(2)
    issued = statement_generate(settlement=first)
    statements = statements_issue(settlement_ids=[first.pk, second.pk, draft_x.pk, 10**9])
    assert {s.settlement_id for s in statements} == {first.pk, second.pk}
    assert issued.pk in {s.pk for s in statements}
    assert not Statement.objects.filter(settlement=draft_x).exists()
    assert PartnerEvent.objects.filter(key=f"statement.ready:{first.pk}").count() == 1


def test_a_statement_issued_meanwhile_is_kept_and_the_others_still_issued(october, monkeypatch):
    settlements = october(3)
    from revenue.statements.services import statements as issuing

    render = issuing._render
    raced = []

    def render_while_another_issues(data):
        if not raced:
            raced.append(True)
            statement_generate(settlement=settlements[1])  # another worker wins the middle one
        return render(data)

    monkeypatch.setattr(issuing, "_render", render_while_another_issues)
    statements = statements_issue(settlement_ids=[s.pk for s in settlements])
    winner = Statement.objects.get(settlement=settlements[1])
    assert [s.settlement_id for s in statements] == [s.pk for s in settlements]
    assert statements[1].pk == winner.pk
    assert Statement.objects.count() == 3
    assert PartnerEvent.objects.count() == 3


def test_a_close_queues_its_statements_in_chunks(october, settings, monkeypatch):
    settings.STATEMENT_ISSUE_CHUNK = 2
    settlements = october(5)
    from revenue.statements import tasks

    chunks = []
    issue = tasks.statements_issue_task.run

    def record(settlement_ids):
        chunks.append(list(settlement_ids))
        return issue(settlement_ids)

    monkeypatch.setattr(tasks.statements_issue_task, "run", record)
    assert statements_generate_for_period_task.delay(settlements[0].period_id).get() == 5
    ids = [s.pk for s in settlements]
    assert chunks == [ids[0:2], ids[2:4], ids[4:5]]
    assert Statement.objects.count() == 5


def test_the_sweep_queues_missing_statements_in_chunks(october, settings, monkeypatch):
    settings.STATEMENT_ISSUE_CHUNK = 3
    settlements = october(4)
    from revenue.statements import tasks

    queued = []
    monkeypatch.setattr(tasks.statements_issue_task, "delay", lambda ids: queued.append(ids))
    assert statements_sweep()["statements"] == 4
    assert queued == [[s.pk for s in settlements[:3]], [settlements[3].pk]]


def test_events_of_several_partners_get_one_delivery_per_active_webhook(october, monkeypatch, partner_user_x):
    settlements = october(3)

    def hook(settlement, url, active=True):
        return PartnerWebhook.objects.create(
            partner=settlement.partner, url=url, secret="s", active=active, created_by=partner_user_x
        )

    hooks = [
        hook(settlements[0], "https://a.example/1"),
        hook(settlements[0], "https://a.example/2"),
        hook(settlements[2], "https://c.example/"),
        hook(settlements[1], "https://b.example/", active=False),
    ]
    from revenue.statements import tasks

    sent = []
    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", lambda delivery_id: sent.append(delivery_id))
    monkeypatch.setattr(tasks.partner_event_email_task, "delay", lambda event_id: None)
    statements_issue(settlement_ids=[s.pk for s in settlements])
    events = list(PartnerEvent.objects.order_by("settlement_id"))

    assert partner_events_dispatch(events) == 3  # dispatched again (as by the sweep): the same three, still pending
    pairs = set(WebhookDelivery.objects.values_list("event__settlement_id", "webhook_id"))
    assert pairs == {
        (settlements[0].pk, hooks[0].pk),
        (settlements[0].pk, hooks[1].pk),
        (settlements[2].pk, hooks[2].pk),
    }
    WebhookDelivery.objects.filter(webhook=hooks[0]).update(state="delivered")
    sent.clear()
    assert partner_events_dispatch(events) == 2
    assert len(sent) == 2 and WebhookDelivery.objects.count() == 3


def test_a_draft_alone_is_still_refused(draft_x):
    from revenue.statements.errors import StatementNotAvailable

    with pytest.raises(StatementNotAvailable):
        statement_generate(settlement=draft_x)
    assert draft_x.state == SettlementState.DRAFT


def test_an_unknown_settlement_alone_is_not_found(db):
    from revenue.settlement.models import Settlement

    with pytest.raises(Settlement.DoesNotExist):
        statement_generate(settlement=Settlement(pk=10**9))
