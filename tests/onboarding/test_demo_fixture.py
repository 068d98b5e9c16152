"""The demo alliance (``manage.py loaddata demo``) is consistent with the rules the code enforces."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.urls import reverse

from onboarding import services
from onboarding.models import (
    AdmissionState,
    EvidenceDecision,
    Partner,
    PartnerActivePeriod,
    PartnerType,
)
from onboarding.selectors import evidence_missing, evidence_not_accepted, partner_makers, partner_state_log
from onboarding.validators import is_valid_uscc
from organisation.models import Branch, User
from organisation.roles import Role

GO_LIVE = datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
BRANCH_NAMES = {"BJ": "北京分行", "SH": "上海分行", "SZ": "深圳分行", "HZ": "杭州分行", "CD": "成都分行"}
ADMITTED = (AdmissionState.APPROVED, AdmissionState.CONTRACTED, AdmissionState.ACTIVE, AdmissionState.SUSPENDED)


@pytest.fixture
def demo(db):
    call_command("loaddata", "demo", verbosity=0)


def test_organisation(demo):
    hq = Branch.objects.get(code="HQ")
    assert hq.is_head_office and hq.name == "总行"
    assert {b.code: b.name for b in Branch.objects.filter(is_head_office=False)} == BRANCH_NAMES
    assert User.objects.get(username="hq_admin").groups.filter(name=Role.HEAD_OFFICE_ADMIN).exists()
    assert User.objects.get(username="finance").groups.filter(name=Role.FINANCE).exists()
    for code in BRANCH_NAMES:
        rm = User.objects.get(username=f"rm_{code.lower()}")
        reviewer = User.objects.get(username=f"reviewer_{code.lower()}")
        assert rm.branch.code == code and rm.groups.filter(name=Role.BRANCH_RM).exists()
        assert reviewer.branch.code == code and reviewer.groups.filter(name=Role.RISK_REVIEWER).exists()
    partner_staff = User.objects.filter(partner__isnull=False)
    assert partner_staff.count() >= 2
    assert all(u.partner.state == AdmissionState.ACTIVE for u in partner_staff)
    assert all(not u.is_staff for u in partner_staff)


def test_demo_password_is_a_real_hash(demo, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    assert all(u.password.startswith("pbkdf2_sha256$") for u in User.objects.all())
    assert User.objects.get(username="hq_admin").check_password("demo12345")
    assert User.objects.get(username="rm_bj").check_password("demo12345")


def test_partners(demo):
    partners = list(Partner.objects.all())
    assert 25 <= len(partners) <= 40
    assert all(is_valid_uscc(p.credit_code) for p in partners)
    assert {p.partner_type for p in partners} == set(PartnerType.values)
    states = Counter(p.state for p in partners)
    assert states[AdmissionState.ACTIVE] > len(partners) / 2
    for state in ("draft", "under_review", "needs_info", "suspended", "rejected", "pending_head_office"):
        assert states[state] >= 1, state
    assert {p.branch.code for p in partners} == set(BRANCH_NAMES)
    assert all(p.relationship_manager.branch_id == p.branch_id for p in partners)
    assert all("公司" in p.legal_name or "企业" in p.legal_name for p in partners)


def test_active_periods_start_on_go_live(demo):
    for partner in Partner.objects.filter(state=AdmissionState.ACTIVE):
        (period,) = PartnerActivePeriod.objects.filter(partner=partner)
        assert period.started_at == GO_LIVE and period.ended_at is None
    for partner in Partner.objects.filter(state__in=[AdmissionState.SUSPENDED, AdmissionState.TERMINATED]):
        (period,) = PartnerActivePeriod.objects.filter(partner=partner)
        assert period.started_at == GO_LIVE and period.ended_at > GO_LIVE
    assert not PartnerActivePeriod.objects.exclude(
        partner__state__in=[AdmissionState.ACTIVE, AdmissionState.SUSPENDED, AdmissionState.TERMINATED]
    ).exists()


def test_every_partner_has_a_consistent_audit_log(demo):
    for partner in Partner.objects.all():
        log = list(partner_state_log(partner=partner))
        assert (log[0].transition, log[0].source_state, log[0].state) == ("create", None, "draft")
        state = "draft"
        for entry in log[1:]:
            assert entry.source_state == state, (partner, entry)
            assert entry.by is not None and entry.timestamp >= log[0].timestamp
            state = entry.state
        assert state == partner.state, partner


def test_evidence_and_maker_checker_hold(demo):
    for partner in Partner.objects.exclude(state__in=[AdmissionState.DRAFT, AdmissionState.REJECTED]):
        assert not evidence_missing(partner=partner), partner
    for partner in Partner.objects.filter(state__in=[*ADMITTED, AdmissionState.TERMINATED]):
        assert not evidence_not_accepted(partner=partner), partner
        makers = partner_makers(partner=partner)
        approvals = partner_state_log(partner=partner).filter(
            transition__in=["approve", "refer_to_head_office", "approve_head_office"]
        )
        assert approvals.exists()
        assert not {a.by_id for a in approvals} & makers, partner
        if partner.partner_type == PartnerType.PE_VC or partner.risk_rating == "high":
            assert approvals.filter(transition="approve_head_office").exists(), partner
    needs_info = Partner.objects.get(state=AdmissionState.NEEDS_INFO)
    assert needs_info.evidence_items.filter(decision=EvidenceDecision.NEEDS_REVISION).exists()


def test_the_product_works_on_the_demo(demo, client):
    """New rows get fresh ids after loading (sequences reset) and the admin serves the data by branch."""
    rm_bj = User.objects.get(username="rm_bj")
    partner = services.partner_create(
        by=rm_bj,
        partner_type=PartnerType.HARDWARE,
        legal_name="北京新装备科技有限公司",
        credit_code="91440300192185379H",
        legal_representative="王五",
    )
    assert partner.pk > 34

    client.force_login(rm_bj)
    listed = client.get(reverse("admin:onboarding_partner_changelist")).context["cl"].result_list
    assert {p.branch.code for p in listed} == {"BJ"}
    shanghai = Partner.objects.filter(branch__code="SH").first()
    assert client.get(reverse("admin:onboarding_partner_change", args=[shanghai.pk])).status_code == 404
    beijing = Partner.objects.filter(branch__code="BJ", state=AdmissionState.ACTIVE).first()
    assert client.get(reverse("admin:onboarding_partner_change", args=[beijing.pk])).status_code == 200
