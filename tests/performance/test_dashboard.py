"""The scorecard dashboard, drill-down, PDF and export in the admin: head office sees all, a branch its own."""

import datetime as dt
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from core.spreadsheets import export_headers
from performance.services import scorecards_build
from performance.services.exports import SCORECARD_EXPORT_COLUMNS
from tests.performance.ledger import at

DASHBOARD = reverse("admin:performance_branchscorecard_changelist")
EXPORT = reverse("admin:performance_branchscorecard_export")
BUILD = reverse("admin:performance_branchscorecard_build")


def branch_url(code, period="2026-10"):
    return reverse("admin:performance_branchscorecard_branch", args=[period, code])


def pdf_url(code, period="2026-10"):
    return reverse("admin:performance_branchscorecard_pdf", args=[period, code])


@pytest.fixture
def built(alliance, make_target):
    for branch, target in ((alliance.branch_a, "2000.00"), (alliance.branch_b, "3400.00")):
        make_target(branch, "transaction_volume", target=target, weight="0.5")
        make_target(branch, "bank_revenue", target="20.00", weight="0.5")
    scorecards_build(period_kind="month", period_start=dt.date(2026, 10, 1), as_of=at(2026, 11, 5))
    return alliance


def test_head_office_sees_the_ranking_with_charts_and_every_drill_down(client, head_office, built):
    client.force_login(head_office)
    response = client.get(DASHBOARD, {"period": "2026-10"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "深圳分行" in html and "杭州分行" in html and "<svg" in html
    assert [row["card"].branch.code for row in response.context["rows"]] == ["HZ", "SZ"]
    assert all(row["url"] for row in response.context["rows"])
    assert BUILD in html and EXPORT in html
    page = client.get(branch_url("HZ"))
    assert page.status_code == 200
    assert built.y.legal_name in page.content.decode()
    assert client.get(pdf_url("HZ"))["Content-Type"] == "application/pdf"


def test_rm_sees_ranking_and_own_branch_but_not_other_branches_partners(client, rm_a, built):
    client.force_login(rm_a)
    response = client.get(DASHBOARD)  # the latest period by default
    assert response.status_code == 200
    html = response.content.decode()
    # The ranking table: names, scores and ranks of all branches ...
    assert "杭州分行" in html and "深圳分行" in html
    rows = {row["card"].branch.code: row for row in response.context["rows"]}
    # ... with a drill-down link only for the own branch, and no build button.
    assert rows["SZ"]["url"] == branch_url("SZ") and rows["HZ"]["url"] is None
    assert BUILD not in html
    own = client.get(branch_url("SZ"))
    assert own.status_code == 200 and built.x.legal_name in own.content.decode()
    # Another branch's scorecard details, partners and PDF are not found.
    assert client.get(branch_url("HZ")).status_code == 404
    assert client.get(pdf_url("HZ")).status_code == 404
    assert client.get(pdf_url("SZ")).status_code == 200


def test_drill_down_lists_the_partners_with_their_figures(client, rm_a, built):
    client.force_login(rm_a)
    response = client.get(branch_url("SZ"))
    partners = [(row["partner"].pk, row["kpis"].revenue) for row in response.context["partners"]]
    # By revenue: x 12.00, a2 3.00, a3 (admitted, no business) 0.00; nobody of another branch.
    assert [pk for pk, _ in partners] == [built.x.pk, built.a2.pk, built.a3.pk]
    assert [str(revenue) for _, revenue in partners] == ["12.00", "3.00", "0.00"]


def test_export_is_scoped_and_formula_safe(client, head_office, rm_a, built):
    built.branch_b.name = "=HYPERLINK(1)"
    built.branch_b.save()
    client.force_login(head_office)
    response = client.get(EXPORT, {"period": "2026-10", "format": "csv"})
    text = response.content.decode("utf-8-sig")
    assert response.status_code == 200 and "'=HYPERLINK(1)" in text and "深圳分行" in text
    # The suite browses the admin in English, so the headers are English.
    assert text.splitlines()[0].split(",") == export_headers(SCORECARD_EXPORT_COLUMNS, "en")

    client.force_login(rm_a)
    response = client.get(EXPORT, {"period": "2026-10", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    codes = {row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert codes == {"SZ"}


def test_head_office_builds_from_the_dashboard(client, head_office, built):
    client.force_login(head_office)
    response = client.post(BUILD, {"period": "2026-10", "as_of": "2026-11-15"})
    assert response.status_code == 302
    card = built.branch_a.scorecards.get()
    assert card.as_of == at(2026, 11, 16) - dt.timedelta(microseconds=1)


def test_rm_may_not_build(client, rm_a, built):
    client.force_login(rm_a)
    assert client.post(BUILD, {"period": "2026-10"}).status_code == 403


def test_partner_users_have_no_dashboard(client, partner_user_x, built):
    client.force_login(partner_user_x)
    assert client.get(DASHBOARD).status_code == 302  # to the admin login: not staff
    assert client.get(pdf_url("SZ")).status_code == 302


def test_stored_scorecard_pages_are_scoped_too(client, rm_a, built):
    card = built.branch_b.scorecards.get()
    client.force_login(rm_a)
    response = client.get(reverse("admin:performance_branchscorecard_change", args=[card.pk]))
    assert response.status_code == 302  # "does not exist" for another branch's
