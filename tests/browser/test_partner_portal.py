"""The partner portal in a real browser: Debian's Chromium driven by Playwright against the live test server.

A partner's user signs in, opens the settlements, downloads a statement and
checks it is a PDF with the partner's Chinese name and total; another
partner's settlement answers 404; and the browser fetches nothing from
anywhere but the portal itself. Playwright never downloads a browser here:
it launches ``/usr/bin/chromium`` (installed by ``bin/setup``).
"""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from revenue.ledger.choices import RevenueKind
from tests.browser.chromium import needs_chromium
from tests.revenue.factories import ProductFactory
from tests.revenue.statements.factories import LineSpec, make_settlement

D = Decimal

pytestmark = [
    needs_chromium,
    # The live server reads the test's data from other threads: it must be committed.
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def october(partner_user_x, partner_x, partner_y):
    pay = ProductFactory(code="PAY_SETTLE", name="支付结算", revenue_kind=RevenueKind.FEE)
    own = make_settlement(partner_x, "2026-10", lines=[LineSpec(pay, D("1000.00"), D("0.30"), count=120)])
    other = make_settlement(partner_y, "2026-10", lines=[LineSpec(pay, D("5000.00"), D("0.30"), count=300)])
    return own, other


def test_a_partner_downloads_its_statement_and_is_refused_another(live_server, october, browser):
    own, other = october
    base = live_server.url

    context = browser.new_context(accept_downloads=True, locale="zh-CN")
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()

    page.goto(f"{base}/portal/login/")
    page.fill("#id_username", "partner_x")
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/portal/")
    assert "2026-10" in page.inner_text("table")
    assert "318.00" in page.inner_text("table")  # 300.00 + 6% VAT

    page.click("text=2026-10")
    page.wait_for_url(f"{base}/portal/settlements/{own.pk}/")
    with page.expect_download() as download_info:
        page.click("[data-test=statement-pdf]")
    download = download_info.value
    assert download.suggested_filename == f"ST-202610-{own.pk:06d}.pdf"
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "深圳云账房科技有限公司" in text
    assert "¥318.00" in text
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    assert f"第 1 页 / 共 {pages} 页" in text

    for path in (f"/portal/settlements/{other.pk}/", f"/portal/settlements/{other.pk}/statement.pdf"):
        response = page.goto(f"{base}{path}") if path.endswith("/") else page.request.get(f"{base}{path}")
        assert response.status == 404, path
    assert "杭州物联设备有限公司" not in page.content()

    # Nothing but the portal itself was fetched: no CDN, no fonts, no analytics.
    assert requested and all(url.startswith(base) for url in requested), requested
    context.close()
