"""The partner admin: branch scope everywhere, buttons that call the services, read-only log, constant-query list."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.db.models.fields.files import FieldFile
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from onboarding.admin import StateLogInline
from onboarding.models import AdmissionState, EvidenceDecision, Partner, PartnerType
from onboarding.selectors import evidence_items, partner_state_log
from tests.factories import PartnerFactory
from tests.onboarding.conftest import accept_all_evidence

CHANGELIST = "admin:onboarding_partner_changelist"


def change_url(partner):
    return reverse("admin:onboarding_partner_change", args=[partner.pk])


def action_url(partner, action):
    return reverse("admin:onboarding_partner_admission", args=[partner.pk, action])


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return client

    return login


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# ---- scope -----------------------------------------------------------------------------


def test_changelist_shows_only_own_branch(as_user, rm_a, rm_b, head_office, partner_x, partner_y):
    def listed(user):
        return set(as_user(user).get(reverse(CHANGELIST)).context["cl"].result_list)

    assert listed(rm_a) == {partner_x}
    assert listed(rm_b) == {partner_y}
    assert listed(head_office) == {partner_x, partner_y}


def test_other_branch_gets_404_not_someone_elses_data(as_user, rm_b, partner_x):
    client = as_user(rm_b)
    response = client.get(change_url(partner_x))
    assert response.status_code == 404
    assert partner_x.legal_name not in response.content.decode()
    assert client.get(reverse("admin:onboarding_partner_history", args=[partner_x.pk])).status_code == 404
    assert client.post(action_url(partner_x, "submit"), {"comment": "x"}).status_code == 404
    assert client.post(change_url(partner_x), {"legal_name": "改名"}).status_code == 404
    partner_x.refresh_from_db()
    assert partner_x.legal_name == "深圳云账房科技有限公司"


def test_search_by_name_and_credit_code(as_user, head_office, partner_x, partner_y):
    client = as_user(head_office)
    by_name = client.get(reverse(CHANGELIST), {"q": "云账房"}).context["cl"].result_list
    by_code = client.get(reverse(CHANGELIST), {"q": partner_y.credit_code}).context["cl"].result_list
    assert list(by_name) == [partner_x]
    assert list(by_code) == [partner_y]


def test_filters_by_type_state_branch_tier_and_risk(as_user, head_office, partner_x, partner_y, branch_b):
    client = as_user(head_office)
    params = {"branch__id__exact": branch_b.pk, "partner_type__exact": partner_y.partner_type}
    assert list(client.get(reverse(CHANGELIST), params).context["cl"].result_list) == [partner_y]
    for field in ("state", "tier", "risk_rating"):
        params = {f"{field}__exact": getattr(partner_x, field)}
        assert partner_x in client.get(reverse(CHANGELIST), params).context["cl"].result_list


def test_foreign_key_choices_are_limited_to_own_branch(as_user, rm_a, rm_b, reviewer_a, branch_a, head_office):
    form = as_user(rm_a).get(reverse("admin:onboarding_partner_add")).context["adminform"].form
    assert list(form.fields["branch"].queryset) == [branch_a]
    assert list(form.fields["relationship_manager"].queryset) == [rm_a]  # RMs of branch A only, not reviewers
    assert form.initial["branch"] == branch_a.pk

    hq_form = as_user(head_office).get(reverse("admin:onboarding_partner_add")).context["adminform"].form
    assert {rm_a, rm_b} <= set(hq_form.fields["relationship_manager"].queryset)


def test_rm_cannot_create_a_partner_in_another_branch(as_user, rm_a, rm_b):
    response = as_user(rm_a).post(
        reverse("admin:onboarding_partner_add"),
        {
            "partner_type": PartnerType.HARDWARE,
            "legal_name": "杭州越权科技有限公司",
            "credit_code": "91110000100017643K",
            "legal_representative": "王五",
            "registered_capital": "0",
            "branch": rm_b.branch.pk,
            "relationship_manager": rm_b.pk,
            "risk_rating": "medium",
            "vat_rate": "0.06",
        },
    )
    assert response.status_code == 200  # the form again, with errors
    assert "branch" in response.context["adminform"].form.errors
    assert not Partner.objects.exists()


def test_adding_in_the_admin_goes_through_the_creation_service(as_user, rm_a, branch_a):
    response = as_user(rm_a).post(
        reverse("admin:onboarding_partner_add"),
        {
            "partner_type": PartnerType.INTERNET_PLATFORM,
            "legal_name": "深圳市小店通电子商务有限公司",
            "credit_code": "91440300192185379h",
            "legal_representative": "马丁",
            "registered_capital": "20000000.00",
            "branch": branch_a.pk,
            "relationship_manager": rm_a.pk,
            "risk_rating": "low",
            "vat_rate": "0.0600",
        },
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    partner = Partner.objects.get()
    assert partner.credit_code == "91440300192185379H"
    assert partner.created_by == rm_a
    assert evidence_items(partner=partner).count() == 3
    assert partner_state_log(partner=partner).get().transition == "create"


def test_duplicate_credit_code_is_refused_in_the_form(as_user, rm_a, branch_a, partner_y):
    response = as_user(rm_a).post(
        reverse("admin:onboarding_partner_add"),
        {
            "partner_type": PartnerType.HARDWARE,
            "legal_name": "深圳重复有限公司",
            "credit_code": partner_y.credit_code.lower(),
            "legal_representative": "王五",
            "registered_capital": "0",
            "branch": branch_a.pk,
            "relationship_manager": rm_a.pk,
            "risk_rating": "medium",
            "vat_rate": "0.06",
        },
    )
    errors = response.context["adminform"].form.errors
    assert errors["credit_code"] == ["A partner with this unified social credit code already exists."]


# ---- editing, evidence, the read-only state ----------------------------------------------------------


def _change_form_data(response) -> dict:
    """The change form's current values, inlines included, as the browser would post them."""
    data = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        if value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        prefix = formset.prefix
        data[f"{prefix}-TOTAL_FORMS"] = formset.total_form_count()
        data[f"{prefix}-INITIAL_FORMS"] = formset.initial_form_count()
        for i, f in enumerate(formset.forms):
            for name in f.fields:
                value = f[name].value()
                if value is not None and value is not False and not isinstance(value, FieldFile):
                    data[f"{prefix}-{i}-{name}"] = value
    return data


def test_state_is_read_only_and_evidence_recorded_through_the_inline(as_user, new_case, rm_a):
    partner = new_case(partner_type=PartnerType.PE_VC, evidence=False)
    client = as_user(rm_a)
    page = client.get(change_url(partner))
    assert "state" not in page.context["adminform"].form.fields

    data = _change_form_data(page)
    inlines = page.context["inline_admin_formsets"]
    prefix = next(i.formset.prefix for i in inlines if i.formset.model.__name__ == "EvidenceItem")
    data.update({f"{prefix}-0-reference": "P1001234", f"{prefix}-1-reference": "25.3亿元", "state": "active"})
    response = client.post(change_url(partner), data)

    assert response.status_code == 302, _messages(response)
    partner.refresh_from_db()
    assert partner.state == AdmissionState.DRAFT
    assert sorted(evidence_items(partner=partner).values_list("reference", flat=True)) == ["25.3亿元", "P1001234"]
    assert all(i.recorded_by == rm_a for i in evidence_items(partner=partner))


def test_case_under_review_is_read_only_for_the_rm(as_user, case_in, rm_a):
    partner = case_in(AdmissionState.UNDER_REVIEW)
    page = as_user(rm_a).get(change_url(partner))
    assert page.context["has_change_permission"] is False
    response = as_user(rm_a).post(change_url(partner), {"legal_name": "改名"})
    assert response.status_code == 403


def test_transition_log_inline_is_read_only(as_user, case_in, head_office):
    partner = case_in(AdmissionState.UNDER_REVIEW)
    page = as_user(head_office).get(change_url(partner))
    (log_inline,) = [i for i in page.context["inline_admin_formsets"] if isinstance(i.opts, StateLogInline)]
    request = page.wsgi_request
    assert not log_inline.opts.has_add_permission(request, partner)
    assert not log_inline.opts.has_change_permission(request, partner)
    assert not log_inline.opts.has_delete_permission(request, partner)
    html = page.content.decode()
    prefix = log_inline.formset.prefix
    assert f'name="{prefix}-0-description"' not in html
    assert "材料齐全" in html  # the submit comment is shown
    entries = list(partner_state_log(partner=partner).values_list("pk", "description"))

    # Posting edits to the log does nothing to it (the case is not editable either way).
    data = {f"{prefix}-TOTAL_FORMS": 1, f"{prefix}-INITIAL_FORMS": 1, f"{prefix}-0-description": "篡改"}
    as_user(head_office).post(change_url(partner), data)
    assert list(partner_state_log(partner=partner).values_list("pk", "description")) == entries


# ---- the admission buttons ---------------------------------------------------------------


def test_buttons_call_the_services_end_to_end(as_user, case_in, rm_a, reviewer_a):
    partner = case_in(AdmissionState.DRAFT)
    rm = as_user(rm_a)
    page = rm.get(change_url(partner))
    assert [a["name"] for a in page.context["admission"]["actions"]] == ["submit"]
    assert f'action="{action_url(partner, "submit")}"' in page.content.decode()

    rm.post(action_url(partner, "submit"), {"comment": "请审核", "expected_state": "draft"})
    partner.refresh_from_db()
    assert partner.state == AdmissionState.SUBMITTED
    entry = partner_state_log(partner=partner).last()
    assert (entry.by, entry.source_state, entry.state, entry.description) == (rm_a, "draft", "submitted", "请审核")

    reviewer = as_user(reviewer_a)
    reviewer.post(action_url(partner, "assign_reviewer"), {"reviewer": reviewer_a.pk, "expected_state": "submitted"})
    partner.refresh_from_db()
    assert (partner.state, partner.assigned_reviewer) == (AdmissionState.UNDER_REVIEW, reviewer_a)

    page = reviewer.get(change_url(partner))
    rows = page.context["admission"]["decide_items"]
    for row in rows:
        reviewer.post(row["url"], {"decision": EvidenceDecision.ACCEPTED, "expected_state": "under_review"})
    assert set(evidence_items(partner=partner).values_list("decision", flat=True)) == {EvidenceDecision.ACCEPTED}

    response = reviewer.post(action_url(partner, "approve"), {"comment": "同意准入", "expected_state": "under_review"})
    partner.refresh_from_db()
    assert partner.state == AdmissionState.APPROVED
    assert any("done" in m for m in _messages(response))


def test_button_error_names_missing_evidence_and_changes_nothing(as_user, new_case, rm_a):
    partner = new_case(partner_type=PartnerType.HARDWARE, evidence=False)
    response = as_user(rm_a).post(action_url(partner, "submit"), {"expected_state": "draft"}, follow=True)
    text = " ".join(_messages(response))
    assert "设备认证（CCC/SRRC）" in text and "联网设备数量" in text
    partner.refresh_from_db()
    assert partner.state == AdmissionState.DRAFT


def test_stale_page_is_told_to_reload(as_user, case_in, reviewer_a, head_office):
    partner = case_in(AdmissionState.UNDER_REVIEW)
    accept_all_evidence(partner, reviewer_a)
    as_user(head_office).post(action_url(partner, "reject"), {"comment": "不予准入", "expected_state": "under_review"})

    # The reviewer still has the page from before the rejection.
    response = as_user(reviewer_a).post(
        action_url(partner, "approve"), {"comment": "同意", "expected_state": "under_review"}, follow=True
    )
    assert any("changed by someone else" in m for m in _messages(response))
    partner.refresh_from_db()
    assert partner.state == AdmissionState.REJECTED
    assert not partner_state_log(partner=partner).filter(transition="approve").exists()


def test_buttons_respect_maker_checker(as_user, case_in, rm_a):
    partner = case_in(AdmissionState.UNDER_REVIEW)
    page = as_user(rm_a).get(change_url(partner))
    assert "approve" not in [a["name"] for a in page.context["admission"]["actions"]]
    as_user(rm_a).post(action_url(partner, "approve"), {"expected_state": "under_review"})
    partner.refresh_from_db()
    assert partner.state == AdmissionState.UNDER_REVIEW


# ---- export and import through the admin -------------------------------------------------------------


def _export(client) -> list[dict]:
    data = {"format": "0", "resource": "0"}
    data.update({f"partnerresource_{name}": "on" for name in ("legal_name", "credit_code", "branch")})
    response = client.post(reverse("admin:onboarding_partner_export"), data)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_admin_export_is_scoped(as_user, rm_b, head_office, partner_x, partner_y):
    assert [r["credit_code"] for r in _export(as_user(rm_b))] == [partner_y.credit_code]
    assert {r["credit_code"] for r in _export(as_user(head_office))} == {partner_x.credit_code, partner_y.credit_code}


def test_admin_import_needs_permission(as_user, reviewer_a, finance):
    for user in (reviewer_a, finance):
        assert as_user(user).get(reverse("admin:onboarding_partner_import")).status_code == 403


def test_admin_import_reports_bad_rows_and_writes_nothing(as_user, rm_a):
    content = (
        "partner_type,legal_name,credit_code,legal_representative\n"
        "hardware,深圳好数据科技有限公司,91440300192185379H,王五\n"
        "hardware,深圳坏数据科技有限公司,91440300192185379J,王五\n"
    ).encode()
    upload = io.BytesIO(content)
    upload.name = "partners.csv"
    response = as_user(rm_a).post(
        reverse("admin:onboarding_partner_import"), {"import_file": upload, "format": "0", "resource": "0"}
    )
    assert response.status_code == 200
    result = response.context["result"]
    assert [row.number for row in result.invalid_rows] == [2]
    assert "confirm_form" not in response.context
    assert not Partner.objects.exists()


# ---- the list's query count ----------------------------------------------------------------------------


def _changelist_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_changelist_issues_a_constant_number_of_queries(as_user, head_office, rm_a, branch_a, rm_b):
    client = as_user(head_office)
    for i in range(3):
        PartnerFactory(branch=branch_a, relationship_manager=rm_a, partner_type=list(PartnerType)[i % 5])
    client.get(reverse(CHANGELIST))  # warm caches (content types, permissions) outside the count
    few = _changelist_queries(client)

    for i in range(27):
        rm = rm_a if i % 2 else rm_b
        PartnerFactory(branch=rm.branch, relationship_manager=rm, partner_type=list(PartnerType)[i % 5])
    many = _changelist_queries(client)

    assert Partner.objects.count() == 30
    print(f"partner changelist: {few} queries with 3 partners, {many} with 30")
    assert few == many, (few, many)
    assert many <= 12


def test_tier_change_button(as_user, case_in, rm_a, rm_b):
    partner = case_in(AdmissionState.ACTIVE)
    page = as_user(rm_a).get(change_url(partner))
    assert "change_tier" in [a["name"] for a in page.context["admission"]["actions"]]

    as_user(rm_a).post(
        action_url(partner, "change_tier"), {"tier": "silver", "comment": "季度评定", "expected_state": "active"}
    )
    partner.refresh_from_db()
    assert partner.tier == "silver"
    change = partner.tier_changes.get()
    recorded = (change.from_tier, change.to_tier, change.changed_by, change.reason)
    assert recorded == ("standard", "silver", rm_a, "季度评定")
    assert as_user(rm_b).post(action_url(partner, "change_tier"), {"tier": "gold"}).status_code == 404
