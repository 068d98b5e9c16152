"""Fixtures of the settlement tests: agreements, booking rows through the ingestion service, running settlements.

Runs execute in this process (Celery eager, on-commit callbacks executed)
unless a test is marked ``celery_worker``: then a real worker runs them when a
broker is configured, and the test must commit its data (``transaction=True``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.periods import Period
from organisation.roles import Role
from revenue.ledger.models import Agreement, AgreementVersion
from revenue.ledger.services import agreement_create, agreement_version_create, transactions_ingest
from revenue.settlement.choices import RunKind, RunTrigger
from revenue.settlement.models import (
    Settlement,
    SettlementDispute,
    SettlementLine,
    SettlementPeriod,
    SettlementRun,
    SettlementRunChunk,
    SettlementRunFigure,
)
from revenue.settlement.services import settlement_run_start
from tests.factories import UserFactory
from tests.revenue.factories import registered, txn_row

D = Decimal
SETTLEMENT_MODELS = (
    SettlementPeriod,
    SettlementRun,
    SettlementRunChunk,
    SettlementRunFigure,
    Settlement,
    SettlementLine,
    SettlementDispute,
)


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    """The tests' months have all ended (whatever the machine's date): it is mid-January 2027."""
    from core.periods import CHINA_TZ

    monkeypatch.setattr(
        "revenue.settlement.services.runs._now", lambda: dt.datetime(2027, 1, 15, 9, 0, tzinfo=CHINA_TZ)
    )


@pytest.fixture(autouse=True)
def _in_process_unless_worker(request, settings):
    """Tasks run eagerly here, except in tests that ask for the real worker."""
    settings.SETTLEMENT_BUILD_SCORECARDS = False
    settings.SETTLEMENT_ISSUE_STATEMENTS = False
    settings.SETTLEMENT_MINIMUM_PAYOUT = D("100.00")
    if request.node.get_closest_marker("celery_worker"):
        yield
        return
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def agreement(product, *, partner=None, partner_type="software_data", valid_from=dt.date(2026, 1, 1), **terms):
    """A version of the product's agreement (a partner's own with ``partner``, else the type's default)."""
    if partner is not None:
        found = Agreement.objects.filter(product=product, partner=partner).first()
        found = found or agreement_create(product=product, partner=partner, by=None)
    else:
        found = Agreement.objects.filter(product=product, partner__isnull=True, partner_type=partner_type).first()
        found = found or agreement_create(product=product, partner_type=partner_type, by=None)
    return agreement_version_create(agreement=found, valid_from=valid_from, by=None, **terms)


def pct(product, rate, **kwargs) -> AgreementVersion:
    return agreement(product, rule_kind="percentage", rate=D(rate), **kwargs)


def book(*rows, source="payments"):
    return transactions_ingest(rows=list(rows), source=registered(source), by=None)


def row(partner, external_id, *, revenue="6.00", amount="1000.00", at="2026-10-08T10:00:00+08:00", **fields):
    return txn_row(partner, external_id, bank_revenue=revenue, amount=amount, occurred_at=at, **fields)


def reversal(external_id, reverses, *, at="2026-10-20T09:00:00+08:00"):
    return {"external_id": external_id, "kind": "reversal", "reverses": reverses, "occurred_at": at}


def table_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in SETTLEMENT_MODELS}


@pytest.fixture
def run_settlement(django_capture_on_commit_callbacks):
    """Start a run and let it finish in this process; returns the run, fresh."""

    def run(period: str, *, kind=RunKind.CLOSE, by=None):
        with django_capture_on_commit_callbacks(execute=True):
            started = settlement_run_start(period=Period.parse(period), kind=kind, by=by, trigger=RunTrigger.COMMAND)
        return SettlementRun.objects.select_related("period").get(pk=started.pk)

    return run


@pytest.fixture
def closer(head_office_branch):
    """Finance staff who run the close (and so may not approve it)."""
    return UserFactory(username="closer", branch=head_office_branch, roles=[Role.FINANCE])


def settlement_of(partner, period: str) -> Settlement:
    return Settlement.objects.get(partner=partner, period__start=Period.parse(period).first_day)


def lines_of(settlement: Settlement) -> list[SettlementLine]:
    return list(settlement.lines.select_related("product").order_by("position"))
