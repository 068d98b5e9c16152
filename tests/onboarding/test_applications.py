"""Applications to join made in the portal, at the service level: one state machine, the bank's rules unchanged."""

from __future__ import annotations

import pytest
from django.contrib.auth.backends import ModelBackend
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from onboarding import services
from onboarding.errors import EvidenceIncomplete, InvalidState, NotPermitted, TooManyApplications
from onboarding.models import (
    AdmissionState,
    CaseOrigin,
    EvidenceDecision,
    PartnerApplication,
    PartnerType,
)
from onboarding.selectors import partner_state_log
from organisation.models import User
from organisation.roles import Role
from revenue.statements.services import is_partner_user
from tests.onboarding.applying import (
    PASSWORD,
    application_data,
    confirmed_application,
    notices_sent,
    pdf,
    record_all,
    tasks_in_process,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tasks():
    with tasks_in_process():
        yield


@pytest.fixture
def applicant_case(branch_a, rm_a, reviewer_a):
    application = confirmed_application(branch_a)
    record_all(application)
    return application


def test_an_application_is_an_ordinary_draft_case_of_the_chosen_branch(branch_a, rm_a):
    application = services.application_create(**application_data(branch_a))
    partner = application.partner
    assert partner.state == AdmissionState.DRAFT
    assert partner.origin == CaseOrigin.SELF_APPLICATION
    assert partner.branch == branch_a
    assert partner.relationship_manager == rm_a  # the branch's only RM
    assert partner.evidence_items.count() > 0
    assert not application.applicant.is_active  # unusable until the e-mail is confirmed
    assert application.applicant.partner_id is None
    assert partner_state_log(partner=partner).get().by == application.applicant


def test_the_referring_rm_must_be_an_rm_of_the_branch(branch_a, rm_a, rm_b):
    application = services.application_create(**application_data(branch_a, referral_code="rm_a"))
    assert application.partner.relationship_manager == rm_a
    with pytest.raises(ValidationError) as refused:
        services.application_create(**application_data(branch_a, referral_code="rm_b"))
    assert "referral_code" in refused.value.error_dict


def test_a_taken_credit_code_is_refused_without_naming_its_holder(branch_a, rm_a, partner_x):
    with pytest.raises(ValidationError) as refused:
        services.application_create(**application_data(branch_a, credit_code=partner_x.credit_code))
    text = " ".join(refused.value.message_dict["credit_code"])
    assert partner_x.legal_name not in text and partner_x.credit_code not in text
    assert "cannot be used" in text
    assert not PartnerApplication.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("credit_code", "91440300192185379X"), ("mobile", "23912345678"), ("mobile", "1391234567"), ("password", "1")],
)
def test_bad_input_is_refused_and_nothing_is_written(branch_a, rm_a, field, value):
    with pytest.raises(ValidationError):
        services.application_create(**application_data(branch_a, **{field: value}))
    assert not PartnerApplication.objects.exists()


def test_the_e_mail_must_be_confirmed_before_the_applicant_acts(branch_a, rm_a):
    data = application_data(branch_a)
    with notices_sent():
        application = services.application_create(**data)
    assert ModelBackend().authenticate(None, username=data["email"], password=PASSWORD) is None
    item = application.partner.evidence_items.select_related("requirement").first()
    with pytest.raises(NotPermitted):
        services.application_evidence_record(
            application=application,
            requirement=item.requirement,
            reference="X",
            document=pdf(),
            by=application.applicant,
        )
    assert len(mail.outbox) == 1 and data["email"] in mail.outbox[0].to
    body = mail.outbox[0].body
    # Bilingual: the Chinese rendering, a rule, the English one (each with the link).
    chinese, english = body.split("-" * 40)
    assert chinese.count("/portal/apply/confirm/") == english.count("/portal/apply/confirm/") == 1
    assert " / " in mail.outbox[0].subject


def test_a_forged_or_expired_link_is_refused(branch_a, rm_a, settings):
    from onboarding.services.applications import confirmation_token

    application = services.application_create(**application_data(branch_a))
    token = confirmation_token(application)
    with pytest.raises(InvalidState):
        services.application_confirm_email(token=token[:-2] + "xx")
    settings.APPLICATION_CONFIRM_HOURS = 0
    with pytest.raises(InvalidState, match="expired"):
        services.application_confirm_email(token=token)
    settings.APPLICATION_CONFIRM_HOURS = 48
    assert services.application_confirm_email(token=token).applicant.is_active


def test_applications_are_limited_per_address_and_per_e_mail(branch_a, rm_a, settings):
    settings.APPLICATION_MAX_PER_ADDRESS = 2
    settings.APPLICATION_MAX_PER_EMAIL = 1
    for _ in range(2):
        services.application_create(**application_data(branch_a, client_address="203.0.113.9"))
    with pytest.raises(TooManyApplications):
        services.application_create(**application_data(branch_a, client_address="203.0.113.9"))
    # The same e-mail from elsewhere: its own limit (the second attempt is refused before anything else).
    data = application_data(branch_a, client_address="203.0.113.10")
    services.application_create(**data)
    with pytest.raises(TooManyApplications):
        services.application_create(**{**data, "client_address": "203.0.113.11"})
    with pytest.raises(TooManyApplications):
        services.application_confirmation_resend(email=data["email"], client_address="203.0.113.11")
        services.application_confirmation_resend(email=data["email"], client_address="203.0.113.11")


def test_evidence_follows_the_admin_rules(branch_a, rm_a):
    application = confirmed_application(branch_a)
    item = application.partner.evidence_items.select_related("requirement").first()
    html = SimpleUploadedFile("licence.pdf", b"<html><script>alert(1)</script>", content_type="application/pdf")
    with pytest.raises(ValidationError):
        services.application_evidence_record(
            application=application,
            requirement=item.requirement,
            reference="X",
            document=html,
            by=application.applicant,
        )
    with pytest.raises(ValidationError):  # a document is required of an applicant
        services.application_evidence_record(
            application=application, requirement=item.requirement, reference="X", by=application.applicant
        )
    recorded = services.application_evidence_record(
        application=application, requirement=item.requirement, reference="X", document=pdf(), by=application.applicant
    )
    assert recorded.document_type == "application/pdf" and recorded.document.name.startswith("evidence/")


def test_the_applicant_cannot_submit_with_evidence_missing(branch_a, rm_a):
    application = confirmed_application(branch_a)
    with pytest.raises(EvidenceIncomplete):
        services.application_submit(application=application, by=application.applicant)


def test_an_applicant_cannot_act_on_another_case(branch_a, rm_a, partner_x):
    mine = confirmed_application(branch_a)
    other = confirmed_application(branch_a)
    item = other.partner.evidence_items.select_related("requirement").first()
    with pytest.raises(NotPermitted):
        services.application_evidence_record(
            application=other, requirement=item.requirement, reference="X", document=pdf(), by=mine.applicant
        )
    with pytest.raises(NotPermitted):
        services.evidence_item_record(partner=partner_x, requirement=item.requirement, reference="X", by=mine.applicant)
    with pytest.raises(NotPermitted):
        services.partner_submit(partner=other.partner, by=mine.applicant)
    assert services.application_of(user=mine.applicant) == mine


def test_an_applicant_cannot_decide_their_own_case(applicant_case, reviewer_a):
    partner = services.application_submit(application=applicant_case, by=applicant_case.applicant)
    with pytest.raises(NotPermitted):
        services.partner_start_review(partner=partner, by=applicant_case.applicant)
    services.partner_start_review(partner=partner, by=reviewer_a)
    item = partner.evidence_items.first()
    with pytest.raises(NotPermitted):
        services.evidence_item_decide(item=item, decision=EvidenceDecision.ACCEPTED, by=applicant_case.applicant)


def test_needs_info_round_trip_and_activation_make_the_applicant_the_partners_user(applicant_case, rm_a, reviewer_a):
    applicant = applicant_case.applicant
    partner = services.application_submit(application=applicant_case, by=applicant)
    assert partner.state == AdmissionState.SUBMITTED
    partner = services.partner_start_review(partner=partner, by=reviewer_a)
    item = partner.evidence_items.select_related("requirement").first()
    services.evidence_item_decide(item=item, decision=EvidenceDecision.NEEDS_REVISION, reason="执照模糊", by=reviewer_a)
    mail.outbox.clear()
    with notices_sent():
        partner = services.partner_request_info(partner=partner, by=reviewer_a, comment="请上传清晰的执照")
    assert partner.state == AdmissionState.NEEDS_INFO
    # The applicant gets one notice (staff get their own, through the workspace's notifications).
    (notice,) = [m for m in mail.outbox if applicant_case.email in m.to]
    assert "执照模糊" in notice.body

    with pytest.raises(EvidenceIncomplete):  # the item is still marked for revision
        services.application_submit(application=applicant_case, by=applicant)
    services.application_evidence_record(
        application=applicant_case, requirement=item.requirement, reference="NEW", document=pdf(), by=applicant
    )
    partner = services.application_submit(application=applicant_case, by=applicant)
    assert partner.state == AdmissionState.RESUBMITTED

    partner = services.partner_start_review(partner=partner, by=reviewer_a)
    for each in partner.evidence_items.all():
        services.evidence_item_decide(item=each, decision=EvidenceDecision.ACCEPTED, by=reviewer_a)
    partner = services.partner_approve(partner=partner, by=reviewer_a)
    partner = services.partner_contract(partner=partner, by=rm_a)
    assert not is_partner_user(applicant)
    with notices_sent():
        partner = services.partner_activate(partner=partner, by=rm_a)
    assert partner.state == AdmissionState.ACTIVE
    applicant = User.objects.get(pk=applicant.pk)  # permissions are cached on the instance
    assert applicant.partner == partner
    assert applicant.groups.filter(name=Role.PARTNER_USER.value).exists()
    assert is_partner_user(applicant)
    assert any("active partner" in m.body for m in mail.outbox)


def test_the_applicant_is_a_maker_and_head_office_must_approve_a_pe_vc_application(
    branch_a, rm_a, reviewer_a, head_office
):
    application = confirmed_application(branch_a, partner_type=PartnerType.PE_VC)
    record_all(application)
    partner = services.application_submit(application=application, by=application.applicant)
    partner = services.partner_start_review(partner=partner, by=reviewer_a)
    for each in partner.evidence_items.all():
        services.evidence_item_decide(item=each, decision=EvidenceDecision.ACCEPTED, by=reviewer_a)
    partner = services.partner_approve(partner=partner, by=reviewer_a)
    assert partner.state == AdmissionState.PENDING_HEAD_OFFICE
    with pytest.raises(NotPermitted):
        services.partner_approve_head_office(partner=partner, by=reviewer_a)
    with pytest.raises(NotPermitted):
        services.partner_approve_head_office(partner=partner, by=application.applicant)
    assert services.partner_approve_head_office(partner=partner, by=head_office).state == AdmissionState.APPROVED


def test_rejection_tells_the_applicant_the_shared_reason_only(applicant_case, reviewer_a):
    partner = services.application_submit(application=applicant_case, by=applicant_case.applicant)
    partner = services.partner_start_review(partner=partner, by=reviewer_a)
    mail.outbox.clear()
    with notices_sent():
        services.partner_reject(
            partner=partner, by=reviewer_a, comment="内部：关联方风险", shared_reason="暂不符合准入条件"
        )
    applicant_case.refresh_from_db()
    assert applicant_case.shared_reason == "暂不符合准入条件"
    (notice,) = [m for m in mail.outbox if applicant_case.email in m.to]
    assert "暂不符合准入条件" in notice.body and "关联方" not in notice.body
