"""Every admin page every staff role may open reads as Chinese: no 500, no English-only header, label or button,
no raw state code, no UTC offset or microseconds.

The crawl opens, as each role (RM, reviewer, head office, finance, and a superuser) in zh-hans, every changelist,
one change page and the history of each model, the add pages, the import and export pages, and the custom
views (runs' start and dry run with a result, a settlement line's transactions, deciding a dispute, a branch's
scorecard, unlocking an address), on the demo alliance at a small size.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.test.client import RequestFactory
from django.urls import reverse

from organisation.models import User
from revenue.settlement.choices import DisputeState, LineKind
from revenue.settlement.models import SettlementDispute, SettlementLine
from tests.factories import UserFactory
from tests.workspace.crawl import admin_urls_for, custom_admin_urls, is_english_only, page_findings, state_codes

ROLES = ["rm_sz", "reviewer_sz", "hq_admin", "finance", "superuser"]


def _extra_urls() -> list[str]:
    """The custom views that take arguments, with real objects of the demo."""
    from performance.models import BranchScorecard

    line = SettlementLine.objects.filter(kind=LineKind.PRODUCT, settlement__partner__branch__code="SZ").first()
    dispute = SettlementDispute.objects.filter(state=DisputeState.OPEN).first()
    card = BranchScorecard.objects.select_related("branch").filter(branch__code="SZ").first()
    urls = [
        reverse("admin:settlement_settlement_line", args=[line.settlement_id, line.pk]),
        reverse("admin:settlement_settlementdispute_resolve", args=[dispute.pk]),
        reverse("admin:settlement_settlementdispute_reject", args=[dispute.pk]),
        reverse("admin:settlement_settlementrun_dry_run") + "?period=2026-10",
        reverse("admin:settlement_settlementrun_dry_run") + f"?period=2026-10&partner={line.settlement.partner_id}",
    ]
    if card is not None:
        urls.append(reverse("admin:performance_branchscorecard_branch", args=[card.period_label, "SZ"]))
    return urls


def crawl(user: User, extra: list[str]) -> tuple[list[str], list[tuple[str, int]]]:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(user)
    request = RequestFactory().get("/admin/")
    request.user = user
    urls = [reverse("admin:index"), *admin_urls_for(request), *custom_admin_urls(request), *extra]
    codes = state_codes()
    findings, visited = [], []
    for url in dict.fromkeys(urls):
        response = client.get(url)
        visited.append((url, response.status_code))
        assert response.status_code != 500, url
        if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
            findings += [str(f) for f in page_findings(url, response.content, codes)]
    return findings, visited


# Committed data: the demo's runs are queued on commit.
@pytest.mark.django_db(transaction=True)
def test_every_admin_page_reads_as_chinese_for_every_role(demo_workspace, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    UserFactory(username="superuser", is_superuser=True, is_staff=True)
    extra = _extra_urls()
    report, opened = [], {}
    for username in ROLES:
        findings, visited = crawl(User.objects.get(username=username), extra)
        report += [f"{username}: {finding}" for finding in findings]
        opened[username] = [url for url, status in visited if status == 200]
    # The crawl reached the pages that matter for each role (else it proves nothing).
    assert any("/onboarding/partner/" in u and "/change/" in u for u in opened["rm_sz"])
    assert any("/onboarding/partner/" in u and "/change/" in u for u in opened["reviewer_sz"])
    assert any("/settlement/settlement/" in u and "/change/" in u for u in opened["finance"])
    assert any("/settlementdispute/" in u and "/resolve/" in u for u in opened["finance"])
    assert any("/settlementrun/" in u and "/change/" in u for u in opened["hq_admin"])
    assert any("/partner/export/" in u for u in opened["hq_admin"])
    assert sum(len(urls) for urls in opened.values()) > 150
    assert not report, "\n".join(report)


# ---- the checks themselves can fail ---------------------------------------------------------------------


def test_the_checks_catch_what_a_chinese_reader_should_never_see():
    page = """<html><body><table id="result_list"><thead><tr><th>PK</th><th>期间</th></tr></thead>
    <tbody><tr><th>ST-202610-000001</th><td>pending_head_office</td></tr></tbody></table>
    <fieldset class="module"><h2>Contact</h2><label>联系人</label></fieldset>
    <div class="submit-row"><input type="submit" value="Save"></div>
    <p>2026-12-03 06:22:37.521421+00:00</p></body></html>""".encode()
    found = {(f.kind, f.text) for f in page_findings("/x/", page, {"pending_head_office", "draft"})}
    assert ("English-only label", "PK") in found
    assert ("English-only label", "Contact") in found
    assert ("English-only button", "Save") in found
    assert ("raw state code", "pending_head_office") in found
    assert {kind for kind, _text in found} >= {"UTC offset", "microseconds"}
    # The object's own name in a list row, Chinese labels and allowed codes are not findings.
    assert not any(text in ("ST-202610-000001", "期间", "联系人") for _kind, text in found)


@pytest.mark.parametrize(
    ("text", "english_only"),
    [("Timestamp", True), ("Source state", True), ("CSV", False), ("结算单（PDF）", False), ("2026-10", False)],
)
def test_english_only(text, english_only):
    assert is_english_only(text) is english_only
