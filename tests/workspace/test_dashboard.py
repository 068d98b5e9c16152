"""The admin index as a dashboard per role: the right queues, branch scope, links, and one query per panel."""

from __future__ import annotations

import pytest
from django.urls import reverse

from onboarding.models import AdmissionState, EvidenceItem
from revenue.settlement.choices import SettlementState
from revenue.settlement.models import Settlement
from revenue.settlement.services import settlement_approve, settlement_dispute_raise
from tests.factories import PartnerFactory
from tests.workspace.conftest import D
from workspace.selectors import PANEL_ROWS, dashboard

pytestmark = pytest.mark.django_db


def panels(user) -> dict:
    return {panel.key: panel for section in dashboard(user=user) for panel in section.panels}


def labels(panel) -> list[str]:
    return [row.label for row in panel.rows]


def test_rm_sees_drafts_missing_evidence_and_returned_cases_of_their_branch(case_in, new_case, rm_a, rm_b):
    incomplete = new_case(evidence=False)
    complete = new_case()
    returned = case_in(AdmissionState.NEEDS_INFO)
    PartnerFactory(branch=rm_b.branch, relationship_manager=rm_b)  # another branch's draft, no evidence

    mine = panels(rm_a)
    assert labels(mine["drafts_missing_evidence"]) == [incomplete.legal_name]
    assert complete.legal_name not in labels(mine["drafts_missing_evidence"])
    assert labels(mine["returned_cases"]) == [returned.legal_name]
    assert mine["returned_cases"].rows[0].url == reverse("admin:onboarding_partner_change", args=[returned.pk])
    by_state = {row.label: row.detail for row in mine["cases_by_state"].rows}
    assert by_state == {str(AdmissionState.DRAFT.label): "2", str(AdmissionState.NEEDS_INFO.label): "1"}
    assert mine["cases_by_state"].count == 3

    theirs = panels(rm_b)
    assert theirs["drafts_missing_evidence"].count == 1
    assert theirs["returned_cases"].count == 0


def test_an_empty_reference_counts_as_missing(new_case, rm_a):
    case = new_case()
    EvidenceItem.objects.filter(partner=case).update(reference="")
    assert labels(panels(rm_a)["drafts_missing_evidence"]) == [case.legal_name]


def test_reviewer_sees_assigned_and_unassigned_cases_oldest_first(case_in, reviewer_a, rm_a):
    first = case_in(AdmissionState.SUBMITTED)
    second = case_in(AdmissionState.SUBMITTED)
    assigned = case_in(AdmissionState.UNDER_REVIEW)

    mine = panels(reviewer_a)
    assert labels(mine["unassigned_cases"]) == [first.legal_name, second.legal_name]
    assert labels(mine["assigned_cases"]) == [assigned.legal_name]
    assert mine["unassigned_cases"].rows[0].days_waiting == 0
    assert "drafts_missing_evidence" not in mine  # not an RM


def test_head_office_sees_cases_awaiting_it_and_open_disputes(case_in, head_office, closed_settlement, partner_user_x):
    pending = case_in(AdmissionState.PENDING_HEAD_OFFICE)
    dispute = settlement_dispute_raise(line=closed_settlement.lines.first(), by=partner_user_x, comment="金额不对")

    mine = panels(head_office)
    assert labels(mine["head_office_cases"]) == [pending.legal_name]
    assert mine["open_disputes"].rows[0].url == reverse("admin:settlement_settlementdispute_change", args=[dispute.pk])
    assert mine["failed_runs"].count == 0


def test_finance_never_sees_a_settlement_they_closed_as_awaiting_their_approval(
    closed_settlement, finance, head_office, partner_x, product
):
    from tests.revenue.statements.factories import LineSpec, make_settlement

    assert labels(panels(finance)["settlements_to_approve"]) == [f"{partner_x.legal_name} · 2026-10"]
    mine = make_settlement(
        partner_x, "2026-09", lines=[LineSpec(product, D("1000.00"), D("0.30"))], state=SettlementState.DRAFT
    )
    Settlement.objects.filter(pk=mine.pk).update(state=SettlementState.CLOSED, closed_by=finance)  # as a close does
    assert panels(finance)["settlements_to_approve"].count == 1
    assert panels(head_office)  # head office does not approve settlements: no finance section
    assert "settlements_to_approve" not in panels(head_office)

    other = make_settlement(partner_x, "2026-11", lines=[LineSpec(product, D("1000.00"), D("0.30"))])
    settlement_approve(settlement=other, by=finance)
    to_pay = panels(finance)["settlements_to_pay"]
    assert [row.url for row in to_pay.rows] == [reverse("admin:settlement_settlement_change", args=[other.pk])]
    assert Settlement.objects.get(pk=other.pk).state == SettlementState.APPROVED


def test_a_panel_shows_its_first_rows_and_counts_them_all(new_case, rm_a):
    for _ in range(PANEL_ROWS + 2):
        new_case(evidence=False)
    panel = panels(rm_a)["drafts_missing_evidence"]
    assert (len(panel.rows), panel.count) == (PANEL_ROWS, PANEL_ROWS + 2)


# One query for the user's roles, two for their permissions (read once, then cached on the user),
# then one per panel whatever the number of rows.
@pytest.mark.parametrize(
    ("persona", "queries"),
    [("rm_a", 3 + 5), ("reviewer_a", 3 + 2), ("head_office", 3 + 3), ("finance", 3 + 3)],
)
def test_each_panel_is_one_query(
    request, persona, queries, case_in, new_case, closed_settlement, partner_user_x, django_assert_num_queries
):
    for state in (
        AdmissionState.DRAFT,
        AdmissionState.SUBMITTED,
        AdmissionState.NEEDS_INFO,
        AdmissionState.UNDER_REVIEW,
        AdmissionState.PENDING_HEAD_OFFICE,
    ):
        case_in(state)
        case_in(state)
    new_case(evidence=False)
    settlement_dispute_raise(line=closed_settlement.lines.first(), by=partner_user_x, comment="金额不对")
    user = request.getfixturevalue(persona)
    user = type(user).objects.get(pk=user.pk)  # no cached permissions
    with django_assert_num_queries(queries):
        sections = dashboard(user=user)
    assert sections


def test_the_index_renders_the_dashboard_and_the_app_list(client, case_in, reviewer_a):
    case = case_in(AdmissionState.SUBMITTED)
    client.force_login(reviewer_a)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="panel-unassigned_cases"' in page
    assert reverse("admin:onboarding_partner_change", args=[case.pk]) in page
    assert reverse("admin:onboarding_partner_changelist") in page  # the app list stays


def test_rm_sees_running_re_reviews_of_their_branch_nearest_due_first(case_in, rm_a, rm_b, settings):
    from datetime import date

    from onboarding import services
    from tests.onboarding.applying import tasks_in_process

    settings.REREVIEW_LEAD_DAYS = 30
    later, sooner = case_in(AdmissionState.ACTIVE), case_in(AdmissionState.ACTIVE)
    for partner, due in ((later, date(2026, 12, 31)), (sooner, date(2026, 12, 20))):
        partner.next_review_on = due
        partner.save(update_fields=["next_review_on"])
    with tasks_in_process():
        assert services.reviews_nightly(today=date(2026, 12, 1))["opened"] == 2
    panel = panels(rm_a)["rereviews_due"]
    assert panel.count == 2
    assert labels(panel) == [sooner.legal_name, later.legal_name]
    assert "rereviews_due" in panels(rm_b) and panels(rm_b)["rereviews_due"].count == 0  # another branch's
