"""The staff admin site: sections in the order of the work, no "view site" to a missing page, a language
switch in the header; and how amounts, counts, percentages, names and times read in its lists."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib import admin
from django.test.client import RequestFactory
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from core.admin import beijing_time, count_cell, money_cell, percent_cell, truncated
from core.sites import ADMIN_ORDER


@pytest.fixture
def zh_client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    return client


def test_sections_and_models_follow_the_work(head_office):
    request = RequestFactory().get("/admin/")
    request.user = head_office
    app_list = admin.site.get_app_list(request)
    labels = [app["app_label"] for app in app_list]
    known = [label for label in labels if label in ADMIN_ORDER]
    assert known == [label for label in ADMIN_ORDER if label in labels]
    assert labels[:6] == ["onboarding", "ledger", "settlement", "statements", "payments", "performance"]
    statements = next(app for app in app_list if app["app_label"] == "statements")
    # The statements head their section, not the download log (下载记录 sorts first by character code).
    assert statements["models"][0]["object_name"] == "Statement"
    onboarding = next(app for app in app_list if app["app_label"] == "onboarding")
    assert onboarding["models"][0]["object_name"] == "Partner"


def test_no_view_site_link_and_a_language_switch(zh_client, finance):
    zh_client.force_login(finance)
    page = zh_client.get(reverse("admin:index")).content.decode()
    assert "查看站点" not in page
    assert 'id="language-switch"' in page
    assert 'name="language" value="en"' in page

    # The switch is Django's set_language: the next page is in English, with a way back to Chinese.
    response = zh_client.post(reverse("set_language"), {"language": "en", "next": reverse("admin:index")})
    assert response.status_code == 302
    page = zh_client.get(reverse("admin:index")).content.decode()
    assert 'lang="en"' in page
    assert 'name="language" value="zh-hans"' in page
    # Kept as the user's own language: their notification e-mails are written in it.
    finance.refresh_from_db()
    assert finance.language == "en"
    zh_client.post(reverse("set_language"), {"language": "xx", "next": reverse("admin:index")})
    finance.refresh_from_db()
    assert finance.language == "en"  # an unknown language changes nothing


def test_celery_beat_schedules_are_not_edited_in_the_admin():
    from django_celery_beat.models import PeriodicTask

    assert not admin.site.is_registered(PeriodicTask)


@given(st.decimals(min_value=Decimal("-99999999999.99"), max_value=Decimal("99999999999.99"), places=2))
def test_money_reads_with_separators_and_back(amount):
    html = str(money_cell(amount))
    text = html.removeprefix('<span class="num">').removesuffix("</span>")
    assert Decimal(text.replace(",", "")) == amount
    assert text.count(".") == 1 and len(text.split(".")[1]) == 2


def test_cells():
    assert str(money_cell(Decimal("84717876.28"))) == '<span class="num">84,717,876.28</span>'
    assert money_cell(None) == "—"
    assert str(count_cell(Decimal("163.000000"))) == '<span class="num">163</span>'
    assert str(count_cell(Decimal("163.300000"))) == '<span class="num">163.3</span>'
    assert str(count_cell(12345)) == '<span class="num">12,345</span>'
    assert str(percent_cell(Decimal("0.06"))) == '<span class="num">6.00%</span>'
    cut = str(truncated("深圳市前海鹏程创新投资管理有限公司<b>", width="10em"))
    assert 'title="深圳市前海鹏程创新投资管理有限公司&lt;b&gt;"' in cut and "<b>" not in cut
    # 06:22 UTC is 14:22 in Beijing; no offset, no microseconds.
    moment = dt.datetime(2026, 12, 3, 6, 22, 37, 521421, tzinfo=dt.UTC)
    assert beijing_time(moment) == "2026-12-03 14:22"
    assert beijing_time(moment, seconds=True) == "2026-12-03 14:22:37"
