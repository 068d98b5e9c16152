"""Applying to join, in a real browser: a company applies, confirms its e-mail, uploads its evidence, answers the
branch reviewer's request for information, and once admitted signs in to the portal as the partner.

The reviewer's side runs through the admission services (as the admin's buttons do). Screenshots of the
application pages (1366 px wide, zh-hans) are written to ``APPLY_SCREENSHOTS_DIR`` when it is set
(``docs/screenshots`` for the documentation), else to the test's temporary folder.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import pytest
from django.core import mail

from onboarding import services
from onboarding.models import AdmissionState, EvidenceDecision, PartnerApplication
from tests.browser.chromium import needs_chromium
from tests.factories import make_uscc
from tests.onboarding.applying import PASSWORD

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True),
]

EMAIL = "zhang@dongguan-iot.example"


@pytest.fixture(autouse=True)
def _evidence_requirements(transactional_db):
    """The seeded admission policy: a transactional test before this one may have flushed the migration's rows."""
    from django.apps import apps

    importlib.import_module("onboarding.migrations.0003_seed_evidence_requirements").seed(apps, None)


@pytest.fixture
def shots(tmp_path, settings) -> Path:
    folder = Path(os.environ.get("APPLY_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    # A catalogue with texts not yet in the project's own (a branch before the catalogues are regenerated).
    extra = os.environ.get("APPLY_EXTRA_LOCALE_PATH")
    if extra:
        settings.LOCALE_PATHS = [extra, *settings.LOCALE_PATHS]
    return folder


def _pdf(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.7\n%browser test\n")
    return path


def test_a_company_applies_and_becomes_a_partner(live_server, browser, shots, tmp_path, branch_a, rm_a, reviewer_a):
    base = live_server.url
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = context.new_page()

    # 1. The public application form.
    page.goto(f"{base}/portal/apply/")
    page.fill("#id_legal_name", "东莞智联物联网科技有限公司")
    page.fill("#id_credit_code", make_uscc(770_001))
    page.fill("#id_legal_representative", "张伟")
    page.select_option("#id_partner_type", "hardware")
    page.select_option("#id_branch", str(branch_a.pk))
    page.fill("#id_referral_code", "rm_a")
    page.fill("#id_contact_name", "张敏")
    page.fill("#id_email", EMAIL)
    page.fill("#id_mobile", "13800138000")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.screenshot(path=str(shots / "apply-form.png"), full_page=True)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/portal/apply/sent/")
    page.screenshot(path=str(shots / "apply-sent.png"), full_page=True)
    application = PartnerApplication.objects.select_related("partner").get()
    assert application.partner.branch == branch_a and application.partner.relationship_manager == rm_a

    # 2. The e-mail's link confirms the address; then the applicant signs in.
    (message,) = [m for m in mail.outbox if EMAIL in m.to]
    link = re.search(r"/portal/apply/confirm/[^/\s]+/", message.body).group(0)
    page.goto(f"{base}{link}")
    page.wait_for_url(f"{base}/portal/apply/sign-in/")
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/portal/application/")

    # 3. The evidence its type requires, one document each; then the application is sent.
    items = list(application.partner.evidence_items.select_related("requirement"))
    for item in items:
        form = page.locator(f"[data-test=evidence-{item.requirement.code}]")
        form.locator("input[name$=reference]").fill(f"DG-{item.requirement.code.upper()}")
        form.locator("input[type=file]").set_input_files(str(_pdf(tmp_path, f"{item.requirement.code}.pdf")))
        form.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r".*/portal/application/.*"))
    page.screenshot(path=str(shots / "apply-evidence.png"), full_page=True)
    page.click("[data-test=send]")
    page.wait_for_url(f"{base}/portal/application/")
    partner = application.partner
    partner.refresh_from_db()
    assert partner.state == AdmissionState.SUBMITTED

    # 4. The branch reviewer returns it for information.
    partner = services.partner_start_review(partner=partner, by=reviewer_a)
    first = items[0]
    services.evidence_item_decide(
        item=first, decision=EvidenceDecision.NEEDS_REVISION, reason="证书照片不清晰，请重新上传", by=reviewer_a
    )
    services.partner_request_info(partner=partner, by=reviewer_a, comment="请补充清晰的认证证书")
    assert any(EMAIL in m.to and "证书照片不清晰" in m.body for m in mail.outbox)

    # 5. The applicant fixes it in the portal and sends it again.
    page.reload()
    assert "请补充清晰的认证证书" in page.inner_text("[data-test=asked]")
    page.screenshot(path=str(shots / "apply-needs-info.png"), full_page=True)
    form = page.locator(f"[data-test=evidence-{first.requirement.code}]")
    form.locator("input[name$=reference]").fill("DG-RENEWED")
    form.locator("input[type=file]").set_input_files(str(_pdf(tmp_path, "renewed.pdf")))
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/portal/application/.*"))
    page.click("[data-test=send]")
    page.wait_for_url(f"{base}/portal/application/")
    partner.refresh_from_db()
    assert partner.state == AdmissionState.RESUBMITTED

    # 6. Approved, contracted and activated by the bank.
    partner = services.partner_start_review(partner=partner, by=reviewer_a)
    for item in partner.evidence_items.all():
        services.evidence_item_decide(item=item, decision=EvidenceDecision.ACCEPTED, by=reviewer_a)
    partner = services.partner_approve(partner=partner, by=reviewer_a)
    partner = services.partner_contract(partner=partner, by=rm_a)
    partner = services.partner_activate(partner=partner, by=rm_a)
    assert partner.state == AdmissionState.ACTIVE
    page.reload()
    page.screenshot(path=str(shots / "apply-active.png"), full_page=True)

    # 7. The applicant signs in to the portal as the partner.
    context.clear_cookies()
    page.goto(f"{base}/portal/login/")
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/portal/")
    assert "东莞智联物联网科技有限公司" in page.inner_text("header")
    context.close()
