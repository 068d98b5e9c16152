"""The settlement admin: runs, dry run, read-only settlements with drill-down and CSV, actions through services."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from revenue.settlement.choices import DisputeState, RunKind, RunState, SettlementState
from revenue.settlement.models import Settlement, SettlementRun
from revenue.settlement.services import settlement_dispute_raise
from tests.revenue.settlement.conftest import book, lines_of, pct, row, settlement_of, table_counts


@pytest.fixture
def closed(pay, active_x, active_y, closer, run_settlement):
    pct(pay, "0.300000")
    x, y = active_x.credit_code, active_y.credit_code
    book(
        row(active_x, "AD1", revenue="1000.00"),
        row(f"{x}:0.5;{y}:0.5", "AD2", revenue="400.00"),
        row(active_y, "AD3", revenue="600.00", sme_name="=HYPERLINK(1)"),
    )
    return run_settlement("2026-10", by=closer)


def test_finance_sees_runs_with_progress_and_rms_do_not(client, finance, rm_a, closed):
    client.force_login(finance)
    page = client.get(reverse("admin:settlement_settlementrun_changelist"))
    assert page.status_code == 200
    assert b"<progress" in page.content and b"Start a run" in page.content and b"Dry run" in page.content
    detail = client.get(reverse("admin:settlement_settlementrun_change", args=[closed.pk]))
    assert detail.status_code == 200 and b"timings" in detail.content.lower()
    client.force_login(rm_a)
    assert client.get(reverse("admin:settlement_settlementrun_changelist")).status_code == 403
    assert client.get(reverse("admin:settlement_settlementrun_start")).status_code == 403


def test_starting_a_run_from_the_admin(client, finance, pay, active_x, django_capture_on_commit_callbacks):
    pct(pay, "0.300000")
    book(row(active_x, "AS1"))
    client.force_login(finance)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:settlement_settlementrun_start"), {"period": "2026-10", "kind": "accrual"}
        )
    run = SettlementRun.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{run.pk}/change/")
    assert (run.kind, run.state, run.trigger, run.triggered_by) == (
        RunKind.ACCRUAL,
        RunState.COMPLETED,
        "admin",
        finance,
    )
    refused = client.post(
        reverse("admin:settlement_settlementrun_start"), {"period": "2999-01", "kind": "close"}, follow=True
    )
    assert b"has not ended yet" in refused.content


def test_the_dry_run_page_writes_nothing(client, finance, closed):
    client.force_login(finance)
    before = table_counts()
    page = client.get(reverse("admin:settlement_settlementrun_dry_run"), {"period": "2026-10"})
    assert page.status_code == 200
    assert b"nothing was written" in page.content and b"holds" in page.content
    assert table_counts() == before


def test_settlements_are_read_only_with_lines_and_branch_scoped(client, closed, finance, rm_a, rm_b, active_x):
    settlement = settlement_of(active_x, "2026-10")
    url = reverse("admin:settlement_settlement_change", args=[settlement.pk])
    client.force_login(rm_a)
    page = client.get(url)
    assert page.status_code == 200
    assert b"Save" not in page.content  # read-only
    assert b"30% of bank revenue" in page.content
    pdf_url = reverse("admin:statements_statement_pdf", args=[settlement.pk])
    assert pdf_url.encode() in page.content  # the statement is one click away
    download = client.get(pdf_url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content if download.streaming else [download.content]).startswith(b"%PDF")
    client.force_login(rm_b)
    assert client.get(url).status_code == 302  # not in RM B's scope: back to the list
    listing = client.get(reverse("admin:settlement_settlement_changelist"))
    assert active_x.legal_name.encode() not in listing.content
    client.force_login(finance)
    assert active_x.legal_name.encode() in client.get(reverse("admin:settlement_settlement_changelist")).content


def test_a_line_drills_down_to_its_transactions_and_exports_them(client, closed, rm_a, rm_b, active_y):
    settlement = settlement_of(active_y, "2026-10")
    (line,) = lines_of(settlement)
    url = reverse("admin:settlement_settlement_line", args=[settlement.pk, line.pk])
    client.force_login(rm_b)
    page = client.get(url)
    assert page.status_code == 200
    assert b"AD2" in page.content and b"AD3" in page.content and b"AD1" not in page.content
    export = client.get(url + "csv/")
    body = b"".join(export.streaming_content).decode("utf-8")
    assert export["Content-Type"].startswith("text/csv")
    lines = body.splitlines()
    assert lines[0].lstrip("\ufeff").startswith("Attribution id,Occurred at")  # the suite runs in English
    assert len(lines) == 1 + line.transaction_count + 1  # header, transactions, totals
    assert "'=HYPERLINK(1)" in body  # formula-safe
    whole = client.get(reverse("admin:settlement_settlement_csv", args=[settlement.pk]))
    assert len(b"".join(whole.streaming_content).decode().splitlines()) == 4
    client.force_login(rm_a)
    assert client.get(url).status_code == 404


def test_approve_and_mark_paid_actions_go_through_the_services(client, closed, closer, finance, active_x):
    settlement = settlement_of(active_x, "2026-10")
    changelist = reverse("admin:settlement_settlement_changelist")
    client.force_login(closer)
    refused = client.post(
        changelist, {"action": "approve_settlements", ACTION_CHECKBOX_NAME: [settlement.pk]}, follow=True
    )
    assert b"someone else must approve" in refused.content
    assert Settlement.objects.get(pk=settlement.pk).state == SettlementState.CLOSED

    client.force_login(finance)
    client.post(changelist, {"action": "approve_settlements", ACTION_CHECKBOX_NAME: [settlement.pk]})
    assert Settlement.objects.get(pk=settlement.pk).state == SettlementState.APPROVED
    form = client.post(changelist, {"action": "mark_paid", ACTION_CHECKBOX_NAME: [settlement.pk]})
    assert form.status_code == 200 and b"payment reference" in form.content.lower()
    client.post(
        changelist,
        {"action": "mark_paid", ACTION_CHECKBOX_NAME: [settlement.pk], "payment_reference": "CNAPS-1"},
    )
    paid = Settlement.objects.get(pk=settlement.pk)
    assert (paid.state, paid.payment_reference) == (SettlementState.PAID, "CNAPS-1")


def test_disputes_are_decided_in_the_admin(client, closed, partner_user_x, finance, rm_a, active_x):
    (line,) = lines_of(settlement_of(active_x, "2026-10"))
    dispute = settlement_dispute_raise(line=line, by=partner_user_x, comment="AD9 is missing")
    client.force_login(rm_a)
    assert client.get(reverse("admin:settlement_settlementdispute_resolve", args=[dispute.pk])).status_code == 403
    client.force_login(finance)
    url = reverse("admin:settlement_settlementdispute_resolve", args=[dispute.pk])
    assert b"AD9 is missing" in client.get(url).content
    response = client.post(url, {"amount": "12.34", "comment": "Accepted"})
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert (dispute.state, str(dispute.resolution_amount), str(dispute.adjust_period)) == (
        DisputeState.RESOLVED,
        "12.34",
        "2026-11",
    )


def test_a_branch_rm_is_offered_and_allowed_only_their_own_partners_terms_in_a_dry_run(
    client, rm_a, pay, active_x, active_y
):
    from core.periods import Period
    from revenue.settlement.admin import DryRunForm
    from revenue.settlement.errors import NotPermitted
    from revenue.settlement.services import settlement_dry_run

    own = pct(pay, "0.100000", partner=active_x)
    other_branch = pct(pay, "0.200000", partner=active_y)
    default = pct(pay, "0.300000")

    offered = set(DryRunForm(user=rm_a).fields["proposed_version"].queryset)
    assert own in offered and default in offered
    assert other_branch not in offered
    client.force_login(rm_a)
    page = client.get(reverse("admin:settlement_settlementrun_dry_run"), {"period": "2026-10", "partner": active_x.pk})
    assert page.status_code in (200, 403)
    assert f'value="{other_branch.pk}"'.encode() not in page.content

    with pytest.raises(NotPermitted):
        settlement_dry_run(period=Period(2026, 10), by=rm_a, partner=active_x, proposed_version=other_branch)
    assert settlement_dry_run(period=Period(2026, 10), by=rm_a, partner=active_x, proposed_version=own).proposed == own
