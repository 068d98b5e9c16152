"""A partner's user sends a current licence for its re-review (年审) in the Chinese portal, in Debian's Chromium.

The page is photographed into ``docs/screenshots/portal-review.png`` at 1366 px.
"""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings

from onboarding.models import EvidenceDecision, EvidenceItem, EvidenceRequirement, PartnerReview
from organisation.roles import Role
from tests.browser.chromium import needs_chromium
from tests.factories import ActivePartnerFactory, UserFactory

SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def under_review():
    """An active partner with its evidence on file and a re-review open, and one of its portal users."""
    # What a migration seeds: another committed test's flush empties it.
    importlib.import_module("onboarding.migrations.0003_seed_evidence_requirements").seed(django_apps, None)
    partner = ActivePartnerFactory(legal_name="东莞智联物联网科技有限公司")
    for number, requirement in enumerate(EvidenceRequirement.objects.filter(partner_type=partner.partner_type)):
        EvidenceItem.objects.create(
            partner=partner,
            requirement=requirement,
            reference=f"REF-{number:03d}",
            decision=EvidenceDecision.PENDING,
        )
    PartnerReview.objects.create(
        partner=partner,
        branch=partner.branch,
        trigger="schedule",
        due_on=dt.date(2026, 12, 31),
        opened_on=dt.date(2026, 12, 1),
    )
    user = UserFactory(username="dg_finance", is_staff=False, partner=partner, roles=[Role.PARTNER_USER])
    user.set_password("a-long-portal-password-42")
    user.save()
    return partner, user


def test_a_partner_sends_a_current_licence_for_its_re_review(live_server, browser, under_review, tmp_path):
    partner, user = under_review
    base = live_server.url
    licence = tmp_path / "营业执照2027.pdf"
    licence.write_bytes(PDF)

    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base}/portal/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "a-long-portal-password-42")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/portal/")

    page.click("nav >> text=年审")
    page.wait_for_url(f"{base}/portal/review/")
    assert "2026-12-31" in page.inner_text("[data-test=review-state]")
    item = partner.evidence_items.select_related("requirement").first()
    form = page.locator(f"[data-test=evidence-{item.requirement.code}]")
    form.locator("input[type=text]").fill("91441900MA5PARTNER")
    form.locator("input[type=file]").set_input_files(str(licence))
    form.locator("input[type=date]").fill("2029-06-30")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/portal/review/#item-{item.requirement_id}")
    assert f"已保存“{item.requirement.name}”" in page.content()

    item.refresh_from_db()
    assert (item.reference, item.expires_on, item.recorded_by_id) == (
        "91441900MA5PARTNER",
        dt.date(2029, 6, 30),
        user.pk,
    )
    assert item.document.read() == PDF
    page.goto(f"{base}/portal/review/")
    # The date on file is shown in the date field (an HTML date input takes only YYYY-MM-DD).
    assert form.locator("input[type=date]").input_value() == "2029-06-30"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "portal-review.png"), full_page=True)
    context.close()
