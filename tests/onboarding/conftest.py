"""Admission cases driven to any state through the real services, by the right people.

The RM of branch A (``rm_a``) prepares and submits, ``reviewer_a`` reviews and
gives the branch approval, ``head_office`` gives the head-office approval.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from itertools import count

import pytest
from django.utils import translation

from onboarding import services
from onboarding.models import AdmissionState, EvidenceDecision, Partner, PartnerType, RiskRating
from onboarding.selectors import evidence_items
from tests.factories import make_uscc

_seed = count(50_000)

# The path a case takes to reach each state (after creation as a draft with all evidence recorded).
PATHS: dict[str, list[str]] = {
    AdmissionState.DRAFT: [],
    AdmissionState.SUBMITTED: ["submit"],
    AdmissionState.UNDER_REVIEW: ["submit", "review"],
    AdmissionState.NEEDS_INFO: ["submit", "review", "request_info"],
    AdmissionState.RESUBMITTED: ["submit", "review", "request_info", "fix", "resubmit"],
    AdmissionState.PENDING_HEAD_OFFICE: ["submit", "review", "accept_all", "approve"],
    AdmissionState.APPROVED: ["submit", "review", "accept_all", "approve"],
    AdmissionState.CONTRACTED: ["submit", "review", "accept_all", "approve", "contract"],
    AdmissionState.ACTIVE: ["submit", "review", "accept_all", "approve", "contract", "activate"],
    AdmissionState.SUSPENDED: ["submit", "review", "accept_all", "approve", "contract", "activate", "suspend"],
    AdmissionState.REJECTED: ["submit", "review", "reject"],
    AdmissionState.TERMINATED: ["submit", "review", "accept_all", "approve", "contract", "activate", "terminate"],
}


def record_all_evidence(partner: Partner, by) -> None:
    for item in evidence_items(partner=partner):
        services.evidence_item_record(
            partner=partner, requirement=item.requirement, reference=f"REF-{item.requirement.code}", by=by
        )


def accept_all_evidence(partner: Partner, by) -> None:
    for item in evidence_items(partner=partner):
        if item.requirement.is_required:
            services.evidence_item_decide(item=item, decision=EvidenceDecision.ACCEPTED, by=by)


def partner_csv(rows: int, *, branch: str, rm: str, start: int = 0) -> bytes:
    """An import file of ``rows`` valid partners of ``branch`` with ``rm`` as their RM."""
    types = list(PartnerType)
    lines = ["partner_type,legal_name,credit_code,legal_representative,registered_capital,branch,relationship_manager"]
    for i in range(start, start + rows):
        lines.append(f"{types[i % 5]},导入测试{i}有限公司,{make_uscc(700_000 + i)},张三,1000000,{branch},{rm}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(autouse=True)
def _english():
    """Assertions read the English messages whatever the catalogue translates."""
    with translation.override("en"):
        yield


@pytest.fixture
def new_case(rm_a) -> Callable[..., Partner]:
    def make(
        *, partner_type: str = PartnerType.SOFTWARE_DATA, risk_rating: str = RiskRating.MEDIUM, evidence: bool = True
    ) -> Partner:
        partner = services.partner_create(
            by=rm_a,
            partner_type=partner_type,
            legal_name=f"深圳测试科技{next(_seed)}有限公司",
            credit_code=make_uscc(next(_seed)),
            legal_representative="王五",
            registered_capital=Decimal("5000000.00"),
            risk_rating=risk_rating,
        )
        if evidence:
            record_all_evidence(partner, rm_a)
        return partner

    return make


@pytest.fixture
def case_in(new_case, rm_a, reviewer_a, head_office) -> Callable[..., Partner]:
    """``case_in(state, partner_type=..., risk_rating=...)``: a case of branch A in ``state``."""

    def make(state: str, **kwargs) -> Partner:
        if state == AdmissionState.PENDING_HEAD_OFFICE:
            kwargs.setdefault("risk_rating", RiskRating.HIGH)
        partner = new_case(**kwargs)
        for step in PATHS[state]:
            if step == "submit":
                services.partner_submit(partner=partner, by=rm_a, comment="材料齐全")
            elif step == "review":
                services.partner_start_review(partner=partner, by=reviewer_a)
            elif step == "request_info":
                item = evidence_items(partner=partner).first()
                services.evidence_item_decide(
                    item=item, decision=EvidenceDecision.NEEDS_REVISION, reason="证书已过期", by=reviewer_a
                )
                services.partner_request_info(partner=partner, by=reviewer_a, comment="请补充")
            elif step == "fix":
                item = evidence_items(partner=partner).first()
                services.evidence_item_record(
                    partner=partner, requirement=item.requirement, reference="REF-RENEWED", by=rm_a
                )
            elif step == "resubmit":
                services.partner_resubmit(partner=partner, by=rm_a)
            elif step == "accept_all":
                accept_all_evidence(partner, reviewer_a)
            elif step == "approve":
                services.partner_approve(partner=partner, by=reviewer_a)
                if state != AdmissionState.PENDING_HEAD_OFFICE and partner.state == AdmissionState.PENDING_HEAD_OFFICE:
                    services.partner_approve_head_office(partner=partner, by=head_office)
            elif step == "contract":
                services.partner_contract(partner=partner, by=rm_a)
            elif step == "activate":
                services.partner_activate(partner=partner, by=rm_a)
            elif step == "suspend":
                services.partner_suspend(partner=partner, by=rm_a, comment="暂停合作")
            elif step == "reject":
                services.partner_reject(partner=partner, by=reviewer_a, comment="不符合准入条件")
            elif step == "terminate":
                services.partner_terminate(partner=partner, by=rm_a, comment="终止合作")
        assert partner.state == state
        return partner

    return make
