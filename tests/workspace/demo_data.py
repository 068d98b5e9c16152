"""The demo alliance at a small size: every admission state, two closed months, runs, statements, scorecards,
and disputes (one open, one decided) — the data the admin crawl and the 1366-pixel lists are checked on."""

from __future__ import annotations

import importlib
import io

from django.apps import apps
from django.core.management import call_command


def _migrations_rows_restore() -> None:
    """The rows the migrations seed (evidence requirements, the statement issuer), again: a transactional test
    before this one emptied every table."""
    for module in (
        "onboarding.migrations.0003_seed_evidence_requirements",
        "revenue.statements.migrations.0003_statement_issuer",
    ):
        migration = importlib.import_module(module)
        (getattr(migration, "seed", None) or migration.seed_issuer)(apps, None)


def demo_workspace_load() -> None:
    """The demo (``manage.py demo``) with a few hundred transactions a month, then two disputes."""
    from demo.management.commands import demo as demo_command
    from organisation.models import User
    from revenue.settlement.choices import FROZEN_SETTLEMENT_STATES, LineKind
    from revenue.settlement.models import SettlementLine
    from revenue.settlement.services import settlement_dispute_raise, settlement_dispute_reject

    _migrations_rows_restore()
    small = [(month, 240, seed) for month, _count, seed in demo_command.DEMO_MONTHS]
    saved, demo_command.DEMO_MONTHS = demo_command.DEMO_MONTHS, small
    try:
        call_command("demo", stdout=io.StringIO())
    finally:
        demo_command.DEMO_MONTHS = saved
    partner_users = User.objects.filter(partner__isnull=False).select_related("partner")
    # Closed, approved or paid (the demo's payments step approves and pays the portal partners' settlements).
    lines = SettlementLine.objects.filter(kind=LineKind.PRODUCT, settlement__state__in=FROZEN_SETTLEMENT_STATES)
    raised = []
    for user in partner_users:
        line = lines.filter(settlement__partner=user.partner).order_by("-settlement__period__start", "pk").first()
        if line is not None:
            raised.append(settlement_dispute_raise(line=line, by=user, comment="第 3 笔交易未计入。"))
    finance = User.objects.get(username="finance")
    if len(raised) > 1:
        settlement_dispute_reject(dispute=raised[-1], by=finance, comment="已核对，交易属于下月。")
