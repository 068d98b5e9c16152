"""Evidence per partner type: what blocks submission and approval, per-item decisions, the needs-info round trip."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from onboarding import services
from onboarding.errors import EvidenceIncomplete, InvalidState
from onboarding.models import AdmissionState, EvidenceDecision, EvidenceRequirement, PartnerType
from onboarding.selectors import evidence_items, partner_state_log
from tests.onboarding.conftest import accept_all_evidence

EXPECTED_REQUIRED = {
    PartnerType.INTERNET_PLATFORM: {"icp_licence", "data_security_assessment"},
    PartnerType.SOFTWARE_DATA: {"software_copyright", "mlps_certificate", "data_source_compliance"},
    PartnerType.HARDWARE: {"device_certification", "devices_connected"},
    PartnerType.SUPPLY_CHAIN: {"core_enterprise_rating", "sme_count", "sample_trade_contract"},
    PartnerType.PE_VC: {"amac_registration", "aum"},
}


@pytest.mark.django_db
def test_requirements_are_seeded_per_type():
    for partner_type, codes in EXPECTED_REQUIRED.items():
        required = EvidenceRequirement.objects.filter(partner_type=partner_type, is_required=True)
        assert set(required.values_list("code", flat=True)) == codes


@pytest.mark.parametrize("partner_type", list(PartnerType))
def test_new_case_lists_every_requirement_of_its_type(new_case, partner_type):
    partner = new_case(partner_type=partner_type, evidence=False)
    codes = {i.requirement.code for i in evidence_items(partner=partner)}
    assert codes == set(EvidenceRequirement.objects.filter(partner_type=partner_type).values_list("code", flat=True))
    assert all(i.reference == "" for i in evidence_items(partner=partner))


def test_submit_refused_naming_every_missing_item(new_case, rm_a):
    partner = new_case(partner_type=PartnerType.INTERNET_PLATFORM, evidence=False)

    with pytest.raises(EvidenceIncomplete) as exc:
        services.partner_submit(partner=partner, by=rm_a)
    assert "ICP经营许可证或备案号" in str(exc.value.message)
    assert "数据安全评估" in str(exc.value.message)
    assert "平台规模" not in str(exc.value.message)  # optional
    assert set(exc.value.extra["items"]) == {"icp_licence", "data_security_assessment"}
    partner.refresh_from_db()
    assert partner.state == AdmissionState.DRAFT


def test_submit_names_only_what_is_still_missing(new_case, rm_a):
    partner = new_case(partner_type=PartnerType.PE_VC, evidence=False)
    aum = EvidenceRequirement.objects.get(partner_type=PartnerType.PE_VC, code="aum")
    services.evidence_item_record(partner=partner, requirement=aum, reference="38.5亿元", by=rm_a)

    with pytest.raises(EvidenceIncomplete) as exc:
        services.partner_submit(partner=partner, by=rm_a)
    assert exc.value.extra["items"] == ["amac_registration"]
    assert "基金管理人登记编号" in str(exc.value.message)


def test_optional_evidence_does_not_block(new_case, rm_a):
    partner = new_case(partner_type=PartnerType.INTERNET_PLATFORM, evidence=False)
    for code in ("icp_licence", "data_security_assessment"):
        requirement = EvidenceRequirement.objects.get(partner_type=PartnerType.INTERNET_PLATFORM, code=code)
        services.evidence_item_record(partner=partner, requirement=requirement, reference="粤ICP备12345678号", by=rm_a)
    services.partner_submit(partner=partner, by=rm_a)
    assert partner.state == AdmissionState.SUBMITTED


def test_a_requirement_added_later_blocks_open_drafts(new_case, rm_a):
    partner = new_case(partner_type=PartnerType.HARDWARE)
    EvidenceRequirement.objects.create(partner_type=PartnerType.HARDWARE, code="iot_security", name="物联网安全检测")
    with pytest.raises(EvidenceIncomplete, match="物联网安全检测"):
        services.partner_submit(partner=partner, by=rm_a)


def test_approval_refused_naming_items_not_accepted(case_in, reviewer_a):
    partner = case_in(AdmissionState.UNDER_REVIEW, partner_type=PartnerType.SUPPLY_CHAIN)
    first, *rest = [i for i in evidence_items(partner=partner)]
    for item in rest:
        services.evidence_item_decide(item=item, decision=EvidenceDecision.ACCEPTED, by=reviewer_a)

    with pytest.raises(EvidenceIncomplete) as exc:
        services.partner_approve(partner=partner, by=reviewer_a)
    assert exc.value.extra["items"] == [first.requirement.code]
    assert str(first.requirement) in str(exc.value.message)
    partner.refresh_from_db()
    assert partner.state == AdmissionState.UNDER_REVIEW


def test_needs_info_round_trip_names_the_items_to_fix(case_in, rm_a, reviewer_a):
    partner = case_in(AdmissionState.UNDER_REVIEW, partner_type=PartnerType.SOFTWARE_DATA)
    items = {i.requirement.code: i for i in evidence_items(partner=partner)}
    services.evidence_item_decide(item=items["software_copyright"], decision=EvidenceDecision.ACCEPTED, by=reviewer_a)
    services.evidence_item_decide(
        item=items["mlps_certificate"], decision=EvidenceDecision.NEEDS_REVISION, reason="等保证明已过期", by=reviewer_a
    )

    services.partner_request_info(partner=partner, by=reviewer_a, comment="请更新等保备案证明")
    assert partner.state == AdmissionState.NEEDS_INFO
    log = partner_state_log(partner=partner).last()
    assert log.transition == "request_info"
    assert "请更新等保备案证明" in log.description
    assert "等保备案证明: 等保证明已过期" in log.description
    assert "软件著作权登记" not in log.description

    with pytest.raises(EvidenceIncomplete, match="等保备案证明") as exc:
        services.partner_resubmit(partner=partner, by=rm_a)
    assert exc.value.extra["items"] == ["mlps_certificate"]

    fixed = services.evidence_item_record(
        partner=partner, requirement=items["mlps_certificate"].requirement, reference="44030013001-2025", by=rm_a
    )
    assert fixed.decision == EvidenceDecision.PENDING
    assert fixed.decision_reason == ""
    services.partner_resubmit(partner=partner, by=rm_a)
    assert partner.state == AdmissionState.RESUBMITTED

    # Back to the same reviewer; what was accepted stays accepted.
    services.partner_start_review(partner=partner, by=reviewer_a)
    items["software_copyright"].refresh_from_db()
    assert items["software_copyright"].decision == EvidenceDecision.ACCEPTED
    accept_all_evidence(partner, reviewer_a)
    services.partner_approve(partner=partner, by=reviewer_a)
    assert partner.state == AdmissionState.APPROVED


def test_request_info_needs_something_to_fix(case_in, reviewer_a):
    partner = case_in(AdmissionState.UNDER_REVIEW)
    with pytest.raises(InvalidState):
        services.partner_request_info(partner=partner, by=reviewer_a)
    services.partner_request_info(partner=partner, by=reviewer_a, comment="请说明股权结构")
    assert partner.state == AdmissionState.NEEDS_INFO


def test_revision_needs_a_reason_and_acceptance_needs_a_reference(case_in, reviewer_a, rm_a, new_case):
    partner = case_in(AdmissionState.UNDER_REVIEW)
    item = evidence_items(partner=partner).first()
    with pytest.raises(ValidationError):
        services.evidence_item_decide(item=item, decision=EvidenceDecision.NEEDS_REVISION, by=reviewer_a)
    with pytest.raises(ValidationError):
        services.evidence_item_decide(item=item, decision=EvidenceDecision.PENDING, by=reviewer_a)
    item.refresh_from_db()
    assert item.decision == EvidenceDecision.PENDING


def test_evidence_only_recorded_while_the_case_is_editable(case_in, rm_a):
    partner = case_in(AdmissionState.UNDER_REVIEW)
    item = evidence_items(partner=partner).first()
    with pytest.raises(InvalidState):
        services.evidence_item_record(partner=partner, requirement=item.requirement, reference="X", by=rm_a)


def test_evidence_must_belong_to_the_partner_type(new_case, rm_a):
    partner = new_case(partner_type=PartnerType.HARDWARE)
    foreign = EvidenceRequirement.objects.get(partner_type=PartnerType.PE_VC, code="aum")
    with pytest.raises(ValidationError):
        services.evidence_item_record(partner=partner, requirement=foreign, reference="10亿元", by=rm_a)


def test_document_is_stored_with_the_item(new_case, rm_a):
    partner = new_case(partner_type=PartnerType.SUPPLY_CHAIN, evidence=False)
    requirement = EvidenceRequirement.objects.get(partner_type=PartnerType.SUPPLY_CHAIN, code="sample_trade_contract")
    pdf = SimpleUploadedFile("contract.pdf", b"%PDF-1.4 sample", content_type="application/pdf")

    item = services.evidence_item_record(
        partner=partner, requirement=requirement, reference="HT-2026-001", document=pdf, by=rm_a
    )
    item.refresh_from_db()
    assert item.document.name.startswith(f"evidence/{partner.pk}/sample_trade_contract/")
    assert item.document.read() == b"%PDF-1.4 sample"
    assert item.recorded_by == rm_a
