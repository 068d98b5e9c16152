"""Re-reviews in the admin: due and overdue per branch, in the user's scope; approved by the services' rules."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from onboarding import services
from onboarding.models import AdmissionState, EvidenceDecision, PartnerReview, ReviewState

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:onboarding_partnerreview_changelist")


@pytest.fixture
def reviews(case_in):
    """Two re-reviews of branch A running: one due in ten days, one overdue by five."""
    today = timezone.localdate()
    due, overdue = case_in(AdmissionState.ACTIVE), case_in(AdmissionState.ACTIVE)
    for partner, when in ((due, today + timedelta(days=10)), (overdue, today - timedelta(days=5))):
        partner.next_review_on = when
        partner.save(update_fields=["next_review_on"])
    services.reviews_open_due(today=today)
    return PartnerReview.objects.get(partner=due), PartnerReview.objects.get(partner=overdue)


def test_due_and_overdue_re_reviews_in_the_branch_s_scope(client, reviews, reviewer_a, rm_b, head_office):
    due, overdue = reviews
    client.force_login(reviewer_a)
    page = client.get(CHANGELIST, {"due": "due"}).content.decode()
    assert due.partner.legal_name in page and overdue.partner.legal_name not in page
    page = client.get(CHANGELIST, {"due": "overdue"}).content.decode()
    assert overdue.partner.legal_name in page and due.partner.legal_name not in page
    client.force_login(head_office)
    page = client.get(CHANGELIST, {"branch__id__exact": due.branch_id}).content.decode()
    assert due.partner.legal_name in page and overdue.partner.legal_name in page
    client.force_login(rm_b)  # another branch's RM sees none of them
    page = client.get(CHANGELIST).content.decode()
    assert due.partner.legal_name not in page and overdue.partner.legal_name not in page


def test_the_approval_action_calls_the_service_with_its_rules(client, reviews, reviewer_a, rm_a):
    due, _overdue = reviews
    client.force_login(reviewer_a)
    # Evidence not yet decided: refused with the reason, nothing changed.
    response = client.post(CHANGELIST, {"action": "approve_branch", "_selected_action": [due.pk]}, follow=True)
    (message,) = response.context["messages"]
    assert message.level_tag == "error" and str(message).startswith(due.partner.legal_name)
    due.refresh_from_db()
    assert due.state == ReviewState.OPEN
    for item in due.partner.evidence_items.all():
        services.evidence_item_decide(item=item, decision=EvidenceDecision.ACCEPTED, by=reviewer_a)
    client.post(CHANGELIST, {"action": "approve_branch", "_selected_action": [due.pk]})
    due.refresh_from_db()
    assert due.state == ReviewState.APPROVED and due.approved_by == reviewer_a
    assert due.partner.next_review_on > date.today()


def test_during_a_re_review_the_evidence_is_editable_but_not_the_details(client, reviews, rm_a):
    due, _overdue = reviews
    client.force_login(rm_a)
    page = client.get(reverse("admin:onboarding_partner_change", args=[due.partner_id])).content.decode()
    assert 'name="evidence_items-0-reference"' in page
    assert 'name="legal_name"' not in page
