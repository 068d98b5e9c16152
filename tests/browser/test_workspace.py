"""The staff workspace in a real browser (Chromium at 1366 × 768, zh-hans), one admission case and one settlement
walked through every role: RM, reviewer, head office, finance.

RM creates and submits a PE/VC case → the reviewer finds it on their dashboard with a notification → returns it
for information → the RM fixes and resubmits → the reviewer approves (it goes to head office) → head office
approves → finance approves a closed settlement from its page and marks it paid → a partner's dispute shows on
finance's dashboard and is decided from its page. Each step and each role's dashboard is saved as
``docs/screenshots/workspace-*.png``.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone, translation

from onboarding.models import AdmissionState, Partner
from revenue.ledger.choices import RevenueKind
from revenue.settlement.choices import DisputeState, RunKind, RunState, RunTrigger, SettlementState
from revenue.settlement.models import Settlement, SettlementDispute, SettlementRun
from revenue.settlement.services import settlement_dispute_raise
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS, needs_chromium
from tests.factories import make_uscc
from tests.revenue.factories import ProductFactory
from tests.revenue.statements.factories import LineSpec, make_settlement
from workspace.models import Notification, NotificationKind

APPROVE_TO_HEAD_OFFICE = "Approve (then to head office for the second approval)"
HEAD_OFFICE_GIVEN = "head-office approval given"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
D = Decimal

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _evidence_requirements(transactional_db):
    """The seeded admission policy: a transactional test before this one may have flushed the migration's rows."""
    from django.apps import apps

    importlib.import_module("onboarding.migrations.0003_seed_evidence_requirements").seed(apps, None)


@pytest.fixture
def closed_october(partner_x, partner_user_x):
    pay = ProductFactory(code="PAY_SETTLE", name="支付结算", revenue_kind=RevenueKind.FEE)
    loan = ProductFactory(code="SCF_LOAN", name="供应链贷款", revenue_kind=RevenueKind.INTEREST_MARGIN)
    return make_settlement(
        partner_x,
        "2026-10",
        lines=[LineSpec(pay, D("84717.28"), D("0.30"), count=1630), LineSpec(loan, D("12000.00"), D("0.20"), count=12)],
    )


@pytest.fixture
def chromium(monkeypatch):
    """Chromium started after the test's data (see ``test_partner_portal.browser`` for why async-unsafe is safe)."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(autouse=True)
def _pending_translations(settings, tmp_path):
    """With ``PENDING_TRANSLATIONS=path.json`` (``{"msgid": "译文", "msgid|plural": "译文"}``), translations not yet in
    the catalogues are compiled into a catalogue searched first, so the screenshots show them as they will be."""
    source = os.environ.get("PENDING_TRANSLATIONS")
    if not source:
        return
    messages = {"": "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=1; plural=0;\n"}
    for key, text in json.loads(Path(source).read_text(encoding="utf-8")).items():
        messages[key.replace("|", "\x00", 1)] = text
    folder = tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "django.mo").write_bytes(_mo(messages))
    settings.LOCALE_PATHS = [tmp_path / "locale", *settings.LOCALE_PATHS]


def _mo(messages: dict[str, str]) -> bytes:
    """A GNU gettext catalogue (.mo) of ``messages`` (no hash table)."""
    keys = sorted(messages)
    ids = [k.encode() for k in keys]
    strs = [messages[k].encode() for k in keys]
    count = len(keys)
    ids_start = 28 + 16 * count
    offsets, data = [], b""
    for item in ids + strs:
        offsets.append((len(item), ids_start + len(data)))
        data += item + b"\x00"
    header = struct.pack("<7I", 0x950412DE, 0, count, 28, 28 + 8 * count, 0, 0)
    table = b"".join(struct.pack("<2I", *o) for o in offsets)
    return header + table + data


def zh(text: str) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(text)


class Staff:
    """One signed-in member of staff in their own browser context."""

    def __init__(self, chromium, base: str, username: str, slug: str) -> None:
        self.base, self.slug = base, slug
        self.context = chromium.new_context(
            viewport={"width": 1366, "height": 768}, locale="zh-CN", extra_http_headers={"Accept-Language": "zh-Hans"}
        )
        self.page = self.context.new_page()
        self.page.goto(f"{base}/admin/login/?next=/admin/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", "pw")
        self.page.click("input[type=submit]")
        self.page.wait_for_url(f"{base}/admin/")

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"workspace-{name}.png"), full_page=True)

    def dashboard(self, name: str | None = None) -> str:
        self.page.goto(f"{self.base}/admin/")
        if name:
            self.shot(name)
        return self.page.inner_text("#workspace")

    def act(self, action: str, comment: str = "") -> None:
        form = self.page.locator(f"#admission-panel form[data-action={action}]")
        if comment:
            form.locator("input[name=comment]").fill(comment)
        form.locator("button[type=submit]").click()
        self.page.wait_for_load_state()

    def no_horizontal_scroll(self) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1366, f"{self.page.url} is {width}px wide"


def test_the_workspace_walk(
    live_server, chromium, rm_a, reviewer_a, head_office, finance, partner_user_x, closed_october
):
    base = live_server.url

    # 1. The RM creates a PE/VC case, records its evidence and submits it.
    rm = Staff(chromium, base, "rm_a", "rm")
    rm.dashboard("rm-dashboard")
    rm.no_horizontal_scroll()
    page = rm.page
    page.goto(f"{base}/admin/onboarding/partner/add/")
    page.select_option("#id_partner_type", "pe_vc")
    page.fill("#id_legal_name", "深圳前海创新投资管理有限公司")
    page.fill("#id_credit_code", make_uscc(424242))
    page.fill("#id_legal_representative", "陈明")
    page.fill("#id_registered_capital", "50000000.00")
    page.click("input[name=_continue]")
    page.wait_for_selector("#admission-panel")
    case = Partner.objects.get(legal_name="深圳前海创新投资管理有限公司")
    assert 'data-action="submit"' in page.content() and "缺少" in page.inner_text("#admission-panel")
    references = page.locator("#evidence_items-group input[name$=-reference]")
    for i in range(references.count()):
        references.nth(i).fill(f"P10{i}2345")
    page.click("input[name=_continue]")
    page.wait_for_selector("#admission-panel form[data-action=submit]")
    rm.shot("1-rm-case-ready")
    rm.act("submit", "材料齐全，请审核")
    case.refresh_from_db()
    assert case.state == AdmissionState.SUBMITTED
    rm.shot("2-rm-submitted")

    # 2. The reviewer sees it on their dashboard, with a notification, and returns it for information.
    reviewer = Staff(chromium, base, "reviewer_a", "reviewer")
    text = reviewer.dashboard("reviewer-dashboard")
    reviewer.no_horizontal_scroll()
    assert case.legal_name in reviewer.page.inner_text("#panel-unassigned_cases")
    assert reviewer.page.inner_text("#inbox-link .inbox-unread") == "1"
    assert "已提交" in text or case.legal_name in text
    reviewer.page.click(f"#panel-unassigned_cases a:has-text('{case.legal_name}')")
    reviewer.page.wait_for_selector("#admission-panel")
    reviewer.act("assign_reviewer")
    first = reviewer.page.locator("#admission-panel table tbody tr").first
    first.locator("select[name=decision]").select_option("needs_revision")
    first.locator("input[name=reason]").fill("登记编号与协会公示不一致")
    first.locator("button[type=submit]").click()
    reviewer.page.wait_for_selector("#admission-panel")
    reviewer.act("request_info", "请核对基金管理人登记编号")
    case.refresh_from_db()
    assert case.state == AdmissionState.NEEDS_INFO
    reviewer.shot("3-reviewer-returned")

    # 3. The RM sees it returned, fixes the item and resubmits.
    text = rm.dashboard("4-rm-dashboard-returned")
    assert case.legal_name in rm.page.inner_text("#panel-returned_cases")
    assert Notification.objects.filter(recipient=rm_a, kind=NotificationKind.CASE_RETURNED).exists()
    rm.page.click(f"#panel-returned_cases a:has-text('{case.legal_name}')")
    rm.page.wait_for_selector("#admission-panel")
    rm.page.locator("#evidence_items-group input[name$=-reference]").first.fill("P1000999")
    rm.page.click("input[name=_continue]")
    rm.page.wait_for_selector("#admission-panel form[data-action=resubmit]")
    rm.act("resubmit", "已更正登记编号")
    case.refresh_from_db()
    assert case.state == AdmissionState.RESUBMITTED

    # 4. The reviewer accepts the evidence and approves: the case goes to head office, and the page says so.
    reviewer.page.goto(f"{base}/admin/onboarding/partner/{case.pk}/change/")
    reviewer.act("assign_reviewer")
    rows = reviewer.page.locator("#admission-panel table tbody tr")
    for i in range(rows.count()):  # accept each item (the decision's first choice)
        rows.nth(i).locator("button[type=submit]").click()
        reviewer.page.wait_for_selector("#admission-panel table")
    reviewer.shot("5-reviewer-before-approval")
    assert zh(APPROVE_TO_HEAD_OFFICE) in reviewer.page.inner_text("#admission-panel form[data-action=approve]")
    reviewer.act("approve", "同意")
    case.refresh_from_db()
    assert case.state == AdmissionState.PENDING_HEAD_OFFICE
    reviewer.shot("6-reviewer-approved-to-head-office")

    # 5. Head office approves the PE/VC case.
    hq = Staff(chromium, base, "hq_admin", "head-office")
    hq.dashboard("head-office-dashboard")
    hq.no_horizontal_scroll()
    assert case.legal_name in hq.page.inner_text("#panel-head_office_cases")
    hq.page.click(f"#panel-head_office_cases a:has-text('{case.legal_name}')")
    hq.page.wait_for_selector("#admission-panel")
    hq.act("approve_head_office", "总行同意")
    case.refresh_from_db()
    assert case.state == AdmissionState.APPROVED
    panel = hq.page.inner_text("#admission-panel")
    assert "需总行审批" not in panel and zh(HEAD_OFFICE_GIVEN) in panel
    hq.shot("7-head-office-approved")

    # 6. Finance approves the closed settlement from its page, then marks it paid with the reference.
    money = Staff(chromium, base, "finance", "finance")
    money.dashboard("finance-dashboard")
    money.no_horizontal_scroll()
    money.page.click("#panel-settlements_to_approve a.row-label")
    money.page.wait_for_selector("#workflow-panel")
    assert money.page.locator("#workflow-panel input[name=payment_reference]").count() == 0
    money.shot("8-finance-settlement-closed")
    money.page.click("#workflow-panel form[data-action=approve] button[type=submit]")
    money.page.wait_for_selector("#workflow-panel input[name=payment_reference]")
    money.page.fill("#workflow-panel input[name=payment_reference]", "CNAPS20261105001")
    money.shot("9-finance-settlement-approved")
    money.page.click("#workflow-panel form[data-action=mark_paid] button[type=submit]")
    money.page.wait_for_selector("#workflow-panel")
    settlement = Settlement.objects.get(pk=closed_october.pk)
    assert (settlement.state, settlement.payment_reference) == (SettlementState.PAID, "CNAPS20261105001")
    money.shot("10-finance-settlement-paid")

    # 7. A partner's dispute appears on finance's dashboard and is decided from its page.
    dispute = settlement_dispute_raise(
        line=settlement.lines.order_by("position").first(), by=partner_user_x, comment="10月支付结算笔数与我方记录不符"
    )
    money.dashboard("11-finance-dashboard-dispute")
    money.page.click("#panel-open_disputes a.row-label")
    money.page.wait_for_selector("#workflow-panel")
    money.shot("12-finance-dispute")
    money.page.click("#workflow-panel [data-action=resolve] a")
    money.page.fill("#id_amount", "125.50")
    money.page.fill("#id_comment", "经核对少计 3 笔，补记于下一结算期")
    money.page.click("input[type=submit].default")
    money.page.wait_for_selector("#workflow-panel")
    dispute.refresh_from_db()
    assert dispute.state == DisputeState.RESOLVED
    assert not SettlementDispute.objects.filter(state=DisputeState.OPEN).exists()
    money.shot("13-finance-dispute-decided")

    # 8. A run in progress: its page shows the phases and chunks, and reloads itself.
    run = SettlementRun.objects.create(
        period=settlement.period,
        kind=RunKind.ACCRUAL,
        state=RunState.RUNNING,
        trigger=RunTrigger.ADMIN,
        triggered_by=finance,
        started_at=timezone.now(),
        chunks_total=12,
        chunks_done=5,
        partners_count=11_480,
        timings={"watermark": 0.084, "aggregate": 41.327, "chunks_queued_at": 1764800000.0},
    )
    hq.page.goto(f"{base}/admin/settlement/settlementrun/{run.pk}/change/")
    assert hq.page.locator("meta[http-equiv=refresh]").count() == 1
    assert "(5/12)" in hq.page.inner_text("#run-progress")
    assert "chunks_queued_at" not in hq.page.content()
    hq.no_horizontal_scroll()
    hq.shot("14-settlement-run-in-progress")

    for staff in (rm, reviewer, hq, money):
        staff.context.close()
