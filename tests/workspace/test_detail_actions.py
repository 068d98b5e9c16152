"""Detail pages carry the steps open now, call the services, show refused steps disabled with the reason."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone, translation

from onboarding import services
from onboarding.models import AdmissionState, PartnerType
from revenue.settlement.choices import DisputeState, RunKind, RunState, SettlementState
from revenue.settlement.models import Settlement, SettlementRun
from revenue.settlement.services import settlement_dispute_raise
from tests.workspace.conftest import D
from workspace.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def page(client, user, url) -> str:
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def partner_url(case) -> str:
    return reverse("admin:onboarding_partner_change", args=[case.pk])


# ---- admission cases ---------------------------------------------------------------------------


def test_a_draft_with_missing_evidence_shows_submit_disabled_with_what_is_missing(client, new_case, rm_a):
    case = new_case(evidence=False)
    html = page(client, rm_a, partner_url(case))
    assert 'data-action="submit"' in html
    assert "Required evidence is missing" in html
    assert 'disabled title="Required evidence is missing' in html
    assert "Next: the relationship manager" in html


def test_only_the_assigned_reviewer_decides_others_see_why(client, case_in, reviewer_a, branch_a):
    from organisation.roles import Role
    from tests.factories import UserFactory

    case = case_in(AdmissionState.UNDER_REVIEW)
    other = UserFactory(username="reviewer_a2", branch=branch_a, roles=[Role.RISK_REVIEWER])
    html = page(client, other, partner_url(case))
    assert "Only the assigned reviewer" in html
    assert (
        '<form method="post" action="' + reverse("admin:onboarding_partner_admission", args=[case.pk, "approve"])
        not in html
    )


def test_a_pe_vc_case_says_it_goes_to_head_office_and_stops_saying_so_once_approved(
    client, case_in, reviewer_a, head_office
):
    from tests.onboarding.conftest import accept_all_evidence

    case = case_in(AdmissionState.UNDER_REVIEW, partner_type=PartnerType.PE_VC)
    accept_all_evidence(case, reviewer_a)
    html = page(client, reviewer_a, partner_url(case))
    assert "Approve (then to head office for the second approval)" in html
    assert "sends this case to head office" in html

    client.post(
        reverse("admin:onboarding_partner_admission", args=[case.pk, "approve"]), {"expected_state": case.state}
    )
    case.refresh_from_db()
    assert case.state == AdmissionState.PENDING_HEAD_OFFICE
    html = page(client, head_office, partner_url(case))
    assert "Next: head office gives the second approval" in html

    services.partner_approve_head_office(partner=case, by=head_office)
    html = page(client, head_office, partner_url(case))
    assert "needs head-office approval" not in html
    assert "head-office approval given" in html


def test_existing_evidence_items_show_their_requirement_as_text(client, new_case, rm_a):
    case = new_case()
    html = page(client, rm_a, partner_url(case))
    assert 'name="evidence_items-0-requirement"' not in html
    assert '<span class="readonly">' in html


# ---- settlements -------------------------------------------------------------------------------


def settlement_url(settlement) -> str:
    return reverse("admin:settlement_settlement_change", args=[settlement.pk])


def test_finance_approves_then_marks_paid_from_the_page(client, closed_settlement, finance):
    html = page(client, finance, settlement_url(closed_settlement))
    assert reverse("admin:settlement_settlement_approve", args=[closed_settlement.pk]) in html
    # Closed, not approved: the reference form does not open; the reason is shown.
    assert 'name="payment_reference"' not in html
    assert "Only an approved settlement can be marked paid" in html

    client.post(
        reverse("admin:settlement_settlement_approve", args=[closed_settlement.pk]), {"expected_state": "closed"}
    )
    closed_settlement.refresh_from_db()
    assert (closed_settlement.state, closed_settlement.approved_by) == (SettlementState.APPROVED, finance)
    assert LogEntry.objects.filter(object_id=str(closed_settlement.pk), user=finance).exists()

    html = page(client, finance, settlement_url(closed_settlement))
    assert 'name="payment_reference"' in html
    client.post(
        reverse("admin:settlement_settlement_mark_paid", args=[closed_settlement.pk]), {"payment_reference": ""}
    )
    assert Settlement.objects.get(pk=closed_settlement.pk).state == SettlementState.APPROVED
    client.post(
        reverse("admin:settlement_settlement_mark_paid", args=[closed_settlement.pk]), {"payment_reference": "PAY-1"}
    )
    closed_settlement.refresh_from_db()
    assert (closed_settlement.state, closed_settlement.payment_reference) == (SettlementState.PAID, "PAY-1")


def test_marking_a_closed_settlement_paid_is_refused_on_the_server(client, closed_settlement, finance):
    client.force_login(finance)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    url = reverse("admin:settlement_settlement_mark_paid", args=[closed_settlement.pk])
    response = client.post(url, {"payment_reference": "PAY-1"}, follow=True)
    assert "Only an approved settlement can be marked paid" in response.content.decode()
    assert Settlement.objects.get(pk=closed_settlement.pk).state == SettlementState.CLOSED


def test_the_rm_sees_no_buttons_and_cannot_post_them(client, closed_settlement, rm_a, rm_b):
    html = page(client, rm_a, settlement_url(closed_settlement))
    assert 'data-action="approve"' not in html
    client.post(reverse("admin:settlement_settlement_approve", args=[closed_settlement.pk]))
    assert Settlement.objects.get(pk=closed_settlement.pk).state == SettlementState.CLOSED
    client.force_login(rm_b)  # another branch's settlement: not found
    assert client.post(reverse("admin:settlement_settlement_approve", args=[closed_settlement.pk])).status_code == 404


def test_whoever_closed_it_sees_approve_disabled_with_the_reason(client, partner_x, product, finance):
    from tests.revenue.statements.factories import LineSpec, make_settlement

    settlement = make_settlement(partner_x, "2026-09", lines=[LineSpec(product, D("1000.00"))], state="draft")
    Settlement.objects.filter(pk=settlement.pk).update(state=SettlementState.CLOSED, closed_by=finance)
    html = page(client, finance, settlement_url(settlement))
    assert 'disabled title="You closed this settlement' in html


# ---- disputes ----------------------------------------------------------------------------------


def test_a_dispute_is_decided_from_its_page(client, closed_settlement, partner_user_x, finance, rm_a):
    dispute = settlement_dispute_raise(line=closed_settlement.lines.first(), by=partner_user_x, comment="金额不对")
    url = reverse("admin:settlement_settlementdispute_change", args=[dispute.pk])
    assert 'disabled title="Only finance and head office decide disputes."' in page(client, rm_a, url)
    html = page(client, finance, url)
    reject_url = reverse("admin:settlement_settlementdispute_reject", args=[dispute.pk])
    assert reject_url in html
    response = client.post(reject_url, {"comment": "核对无误"})
    assert response.url == url
    dispute.refresh_from_db()
    assert dispute.state == DisputeState.REJECTED
    assert "Decided" in page(client, finance, url)


# ---- settlement runs ---------------------------------------------------------------------------


def test_a_running_runs_page_refreshes_itself_and_a_finished_one_shows_timings_as_a_table(
    client, finance, closed_settlement
):
    run = SettlementRun.objects.create(
        period=closed_settlement.period,
        kind=RunKind.ACCRUAL,
        state=RunState.RUNNING,
        trigger="admin",
        started_at=timezone.now(),
        chunks_total=4,
        chunks_done=1,
        timings={"watermark": 0.12, "aggregate": 3.5, "chunks_queued_at": 1764800000.0},
    )
    url = reverse("admin:settlement_settlementrun_change", args=[run.pk])
    html = page(client, finance, url)
    assert 'http-equiv="refresh"' in html
    assert 'data-phase="chunks"' in html and "(1/4)" in html
    assert "chunks_queued_at" not in html and "&quot;watermark&quot;" not in html

    SettlementRun.objects.filter(pk=run.pk).update(
        state=RunState.COMPLETED, chunks_done=4, timings={"watermark": 0.12, "aggregate": 3.5, "total": 1234.5}
    )
    html = page(client, finance, url)
    assert 'http-equiv="refresh"' not in html
    assert 'data-percent="100"' in html
    assert "Window aggregated" in html and "1,234.5" in html
    assert not Notification.objects.exists()
