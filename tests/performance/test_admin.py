"""Targets and tier rules in the admin: head office edits and imports; branch staff see their own branch only."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from performance.models import BranchTarget, TierRule

pytestmark = pytest.mark.usefixtures("english")

CHANGELIST = reverse("admin:performance_branchtarget_changelist")
IMPORT = reverse("admin:performance_branchtarget_import")
PROCESS_IMPORT = reverse("admin:performance_branchtarget_process_import")
EXPORT = reverse("admin:performance_branchtarget_export")


def change_url(target):
    return reverse("admin:performance_branchtarget_change", args=[target.pk])


@pytest.fixture
def two_branches_targets(branch_a, branch_b, make_target):
    return make_target(branch_a, target="111.00"), make_target(branch_b, target="222.00")


def test_head_office_sees_every_branch(client, head_office, two_branches_targets):
    client.force_login(head_office)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == set(two_branches_targets)
    assert IMPORT in response.content.decode()


@pytest.mark.parametrize(("persona", "own", "other"), [("rm_a", 0, 1), ("rm_b", 1, 0)])
def test_branch_rm_sees_own_branch_only(request, client, two_branches_targets, persona, own, other):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [two_branches_targets[own]]
    assert client.get(change_url(two_branches_targets[own])).status_code == 200
    # Another branch's target is not found for them (a redirect with "doesn't exist"), never shown.
    response = client.get(change_url(two_branches_targets[other]))
    assert response.status_code == 302
    assert client.get(reverse("admin:performance_branchtarget_add")).status_code == 403
    assert client.get(IMPORT).status_code == 403
    assert client.get(EXPORT).status_code == 403


def test_branch_rm_cannot_change_own_branch_target(client, rm_a, two_branches_targets):
    client.force_login(rm_a)
    target = two_branches_targets[0]
    response = client.post(change_url(target), {"target_value": "1", "weight": "1"})
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.target_value == D("111.00")


def test_partner_user_has_no_access(client, partner_user_x, two_branches_targets):
    client.force_login(partner_user_x)
    assert client.get(CHANGELIST).status_code in (302, 403)


def test_head_office_edit_refuses_weights_above_one(client, head_office, branch_a, make_target):
    make_target(branch_a, "active_partners", weight="0.6")
    client.force_login(head_office)
    form = {
        "branch": branch_a.pk,
        "period_kind": "month",
        "period_start": "2026-10-01",
        "kpi": "bank_revenue",
        "target_value": "100",
        "weight": "0.5",
    }
    response = client.post(reverse("admin:performance_branchtarget_add"), form)
    assert response.status_code == 200
    assert "would sum to 1.1" in response.content.decode()
    assert BranchTarget.objects.count() == 1
    response = client.post(reverse("admin:performance_branchtarget_add"), {**form, "weight": "0.4"})
    assert response.status_code == 302
    assert BranchTarget.objects.get(kpi="bank_revenue").weight == D("0.4")


def test_head_office_edit_refuses_period_start_mid_quarter(client, head_office, branch_a):
    client.force_login(head_office)
    response = client.post(
        reverse("admin:performance_branchtarget_add"),
        {
            "branch": branch_a.pk,
            "period_kind": "quarter",
            "period_start": "2026-11-01",
            "kpi": "bank_revenue",
            "target_value": "100",
            "weight": "1",
        },
    )
    assert response.status_code == 200
    assert "is not the first day of a Quarter" in response.content.decode()
    assert not BranchTarget.objects.exists()


def test_changelist_warns_of_incomplete_weights(client, head_office, branch_a, make_target):
    make_target(branch_a, weight="0.7")
    client.force_login(head_office)
    response = client.get(CHANGELIST)
    assert "sum to 0.7000, not 1" in response.content.decode()


def _upload(client, content, name="targets.csv", file_format="0"):
    return client.post(
        IMPORT, {"resource": "0", "format": file_format, "import_file": SimpleUploadedFile(name, content)}
    )


def test_admin_import_preview_then_confirm(client, head_office, branch_a):
    client.force_login(head_office)
    content = (
        "branch_code,period,kpi,target_value,weight\nSZ,2026-10,bank_revenue,100,0.5\nSZ,2026-10,smes_reached,20,0.5\n"
    )
    response = _upload(client, content.encode())
    assert response.status_code == 200
    confirm = response.context["confirm_form"]
    assert BranchTarget.objects.count() == 0  # the preview writes nothing
    response = client.post(PROCESS_IMPORT, {name: confirm.initial[name] for name in confirm.fields})
    assert response.status_code == 302
    assert BranchTarget.objects.filter(branch=branch_a).count() == 2


def test_admin_import_shows_each_bad_row_and_offers_no_confirmation(client, head_office, branch_a):
    client.force_login(head_office)
    content = (
        "branch_code,period,kpi,target_value,weight\nSZ,2026-10,bank_revenue,100,0.5\nXX,2026-10,smes_reached,20,0.5\n"
    )
    response = _upload(client, content.encode())
    assert response.status_code == 200
    assert "confirm_form" not in response.context
    page = response.content.decode()
    assert "Unknown branch code &#x27;XX&#x27;" in page
    assert "sum to 0.5000, not 1" in page
    assert BranchTarget.objects.count() == 0


def test_tier_rules_are_head_office_only(client, head_office, rm_a, finance):
    TierRule.objects.create(name="金牌", tier="gold", priority=30, min_revenue=D("500000"))
    url = reverse("admin:performance_tierrule_changelist")
    client.force_login(head_office)
    assert client.get(url).status_code == 200
    for user in (rm_a, finance):
        client.force_login(user)
        assert client.get(url).status_code == 403


def test_head_office_exports_csv(client, head_office, two_branches_targets):
    client.force_login(head_office)
    response = client.post(EXPORT, {"format": "0", "resource": "0", **_all_export_fields()})
    assert response.status_code == 200
    body = response.content.decode("utf-8-sig")
    assert "深圳分行" in body and "杭州分行" in body


def _all_export_fields():
    from performance.resources import BranchTargetResource

    return {f"branchtargetresource_{name}": "on" for name in BranchTargetResource._meta.fields}


def test_targets_for_a_quarter_show_their_label(client, head_office, branch_a, make_target):
    make_target(branch_a, period_kind="quarter", period_start=dt.date(2026, 10, 1))
    client.force_login(head_office)
    assert "2026-Q4" in client.get(CHANGELIST).content.decode()
