"""The staff's main lists fit a 1366 × 768 laptop in zh-hans, as every role: no horizontal scrolling, the
decide links in view; each list (and the index) is photographed into
``docs/screenshots/admin-<role>-<list>.png``.

Debian's Chromium driven by Playwright against the live test server, on the demo alliance at a small size.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from organisation.models import User
from tests.browser.chromium import needs_chromium
from tests.workspace.demo_data import demo_workspace_load

SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
WIDTH, HEIGHT = 1366, 768

LISTS = {
    "index": "/admin/",
    "partners": "/admin/onboarding/partner/",
    "settlements": "/admin/settlement/settlement/",
    "disputes": "/admin/settlement/settlementdispute/",
    "transactions": "/admin/ledger/transaction/",
    "runs": "/admin/settlement/settlementrun/",
    "statements": "/admin/statements/statement/",
    "scorecards": "/admin/performance/branchscorecard/",
}
ROLES = {"rm": "rm_sz", "reviewer": "reviewer_sz", "head-office": "hq_admin", "finance": "finance"}

# Everything wider than its box, and the page itself: what a user would have to scroll sideways to see.
OVERFLOW = """() => {
  const wide = [...document.querySelectorAll('#content .results, #content .module, #content table, #changelist')]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => `${e.id || e.className || e.tagName}: ${e.scrollWidth} > ${e.clientWidth}`);
  if (document.documentElement.scrollWidth > window.innerWidth) {
    wide.push(`page: ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
  }
  return wide;
}"""

# Per list header: (do all its column's cells hold a figure, its text alignment).
HEADER_ALIGNMENT = """() => {
  const rows = [...document.querySelectorAll('#result_list tbody tr')];
  return Object.fromEntries([...document.querySelectorAll('#result_list thead th')].map((th, i) => [
    [...th.classList].find(c => c.startsWith('column-')) || th.className || String(i),
    [rows.length > 0 && rows.every(r => r.cells[i] && r.cells[i].querySelector('.num')),
     getComputedStyle(th).textAlign],
  ]));
}"""

pytestmark = [
    needs_chromium,
    # The live server reads the test's data from other threads: it must be committed.
    pytest.mark.django_db(transaction=True),
]


def _signed_in_context(browser, base: str, username: str):
    """A zh-CN browser at 1366 × 768 carrying the user's session (the demo's password hash is not the suite's)."""
    client = Client()
    client.force_login(User.objects.get(username=username))
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, locale="zh-CN")
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])
    return context


def test_the_main_lists_fit_a_laptop_as_every_role(live_server, browser, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    demo_workspace_load()
    base = live_server.url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems, opened = [], []
    for role, username in ROLES.items():
        context = _signed_in_context(browser, base, username)
        page = context.new_page()
        for name, path in LISTS.items():
            response = page.goto(base + path)
            if response.status == 403:
                continue  # not this role's list
            assert response.status == 200, (username, path, response.status)
            assert page.evaluate("document.documentElement.lang") == "zh-hans"
            opened.append((role, name))
            problems += [f"{role} {name}: {wide}" for wide in page.evaluate(OVERFLOW)]
            page.screenshot(path=str(SCREENSHOTS / f"admin-{role}-{name}.png"))
            if name == "disputes" and role == "finance":
                decide = page.locator("td.field-decide a").first
                assert decide.is_visible()
                box = decide.bounding_box()
                assert box["x"] + box["width"] <= WIDTH, box
            if name == "settlements":
                # The amount columns' headers stand over their figures, on the right; the partner's on the left.
                headers = page.evaluate(HEADER_ALIGNMENT)
                assert any(numeric for numeric, _ in headers.values()), headers
                for column, (numeric, align) in headers.items():
                    assert (align == "right") == numeric, (column, numeric, align)
            if name == "settlements" and role == "finance":
                actions = page.locator("select[name=action]")
                assert actions.is_visible()
                assert actions.locator("option[value=approve_settlements]").count() == 1
        context.close()
    assert {("rm", "partners"), ("reviewer", "partners"), ("finance", "disputes")} <= set(opened)
    assert {("head-office", name) for name in LISTS} <= set(opened)
    assert not problems, "\n".join(problems)
