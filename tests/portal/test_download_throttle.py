"""Portal downloads (statement PDFs, detail CSV/XLSX) are limited per partner, with a 429 page that says so."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from organisation.roles import Role
from portal.throttling import portal_download_wait, rate_parse
from revenue.statements.models import DownloadEvent
from tests.factories import UserFactory
from tests.revenue.statements.conftest import login


def test_downloads_over_the_rate_get_a_429_page(settings, partner_x, partner_user_x, settlement_x):
    settings.PORTAL_DOWNLOAD_THROTTLE_RATE = "2/minute"
    portal = login(partner_user_x)
    assert portal.get(f"/portal/settlements/{settlement_x.pk}/statement.pdf").status_code == 200
    assert portal.get(f"/portal/settlements/{settlement_x.pk}/transactions.csv").status_code == 200
    refused = portal.get(f"/portal/settlements/{settlement_x.pk}/transactions.xlsx")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "Too many downloads" in refused.content.decode()
    assert DownloadEvent.objects.count() == 2  # the refused one was not served
    # Pages other than downloads are not counted.
    assert portal.get(f"/portal/settlements/{settlement_x.pk}/").status_code == 200
    # The partner's other users share the allowance.
    colleague = UserFactory(username="x-colleague", is_staff=False, partner=partner_x, roles=[Role.PARTNER_USER])
    assert login(colleague).get(f"/portal/settlements/{settlement_x.pk}/statement.pdf").status_code == 429


def test_each_partner_has_its_own_allowance(settings, partner_user_x, partner_user_y, settlement_x, settlement_y):
    settings.PORTAL_DOWNLOAD_THROTTLE_RATE = "1/minute"
    assert login(partner_user_x).get(f"/portal/settlements/{settlement_x.pk}/statement.pdf").status_code == 200
    assert login(partner_user_y).get(f"/portal/settlements/{settlement_y.pk}/statement.pdf").status_code == 200


def test_the_window_ends(settings):
    settings.PORTAL_DOWNLOAD_THROTTLE_RATE = "1/minute"
    assert portal_download_wait(partner_id=7, now=600.0) is None
    assert portal_download_wait(partner_id=7, now=630.0) == 30
    assert portal_download_wait(partner_id=7, now=660.0) is None  # the next minute


def test_rates_are_read_as_drf_writes_them():
    assert rate_parse("60/minute") == (60, 60)
    assert rate_parse("1000/hour") == (1000, 3600)
    with pytest.raises(ImproperlyConfigured):
        rate_parse("many")
