"""A partner's own users refresh its re-review evidence in the portal (年审材料), and do nothing else with it."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from onboarding import services
from onboarding.errors import NotPermitted
from onboarding.models import AdmissionState, EvidenceDecision, PartnerReview
from onboarding.policies import Action, authorise
from organisation.roles import Role
from tests.factories import UserFactory
from tests.onboarding.applying import notices_sent, tasks_in_process

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _tasks():
    with tasks_in_process():
        yield


@pytest.fixture
def reviewed(case_in):
    """An active partner whose re-review the nightly job has opened, and one of its portal users."""
    partner = case_in(AdmissionState.ACTIVE)
    partner.next_review_on = date(2026, 12, 31)
    partner.contact_email = "finance@partner.example"
    partner.save(update_fields=["next_review_on", "contact_email"])
    user = UserFactory(username="partner_admin", is_staff=False, partner=partner, roles=[Role.PARTNER_USER])
    return partner, user


def portal(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(client, item, content=PDF, name="licence.pdf", reference="LIC-2027"):
    prefix = f"item{item.requirement_id}"
    return client.post(
        f"/portal/review/evidence/{item.requirement_id}/",
        {
            f"{prefix}-reference": reference,
            f"{prefix}-document": SimpleUploadedFile(name, content),
            f"{prefix}-expires_on": "2028-06-30",
        },
    )


def open_review(partner):
    with notices_sent():
        services.reviews_nightly(today=date(2026, 12, 1))
    return PartnerReview.objects.get(partner=partner)


def test_the_partner_uploads_a_current_licence_for_its_open_re_review(reviewed):
    partner, user = reviewed
    review = open_review(partner)
    # The partner's e-mail links to the page.
    assert any("/portal/review/" in m.body for m in mail.outbox if partner.contact_email in m.to)
    client = portal(user)
    page = client.get("/portal/review/")
    assert page.status_code == 200 and review.due_on.isoformat() in page.content.decode()

    item = partner.evidence_items.select_related("requirement").first()
    response = upload(client, item)
    assert response.status_code == 302

    item.refresh_from_db()
    assert (item.reference, item.expires_on, item.recorded_by) == ("LIC-2027", date(2028, 6, 30), user)
    assert item.decision == EvidenceDecision.PENDING and item.document.read() == PDF
    partner.refresh_from_db()
    assert partner.state == AdmissionState.ACTIVE  # the partner stays active while its re-review runs


def test_without_an_open_re_review_nothing_can_be_uploaded(reviewed):
    partner, user = reviewed
    item = partner.evidence_items.first()
    before = (item.reference, item.recorded_at)
    client = portal(user)
    page = client.get("/portal/review/").content.decode()
    assert 'data-test="no-review"' in page and 'data-test="evidence-' not in page
    upload(client, item)
    item.refresh_from_db()
    assert (item.reference, item.recorded_at) == before


def test_a_file_that_is_not_a_document_is_refused_and_nothing_changes(reviewed):
    partner, user = reviewed
    open_review(partner)
    item = partner.evidence_items.first()
    before = (item.reference, item.document.name)
    response = upload(portal(user), item, content=b"MZ\x90\x00 not a pdf", name="licence.pdf")
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.reference, item.document.name) == before


def test_a_partner_suspended_as_overdue_can_still_send_its_evidence(reviewed, settings):
    partner, user = reviewed
    settings.REREVIEW_GRACE_DAYS = 30
    open_review(partner)
    with notices_sent():
        services.reviews_nightly(today=date(2027, 2, 1))
    partner.refresh_from_db()
    assert partner.state == AdmissionState.SUSPENDED
    client = portal(user)
    assert 'data-test="suspended"' in client.get("/portal/review/").content.decode()
    item = partner.evidence_items.first()
    upload(client, item, reference="LIC-NEW")
    item.refresh_from_db()
    assert item.reference == "LIC-NEW"


def test_a_partner_user_refreshes_evidence_and_nothing_else(reviewed, partner_user_y):
    partner, user = reviewed
    open_review(partner)
    authorise(action=Action.EDIT, partner=partner, user=user)  # its own evidence, while the re-review is open
    for action in (Action.DECIDE_EVIDENCE, Action.SUSPEND, Action.CHANGE_TIER):
        with pytest.raises(NotPermitted):
            authorise(action=action, partner=partner, user=user)
    # Another partner's user may not touch this partner's evidence.
    item = partner.evidence_items.select_related("requirement").first()
    with pytest.raises(NotPermitted):
        services.review_evidence_record(
            partner=partner,
            requirement=item.requirement,
            reference="X",
            document=SimpleUploadedFile("x.pdf", PDF),
            by=partner_user_y,
        )
