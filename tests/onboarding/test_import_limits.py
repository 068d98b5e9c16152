"""The partner import refuses a file over its size or row limit whole, before parsing it, and writes nothing."""

from __future__ import annotations

import io
from contextlib import contextmanager
from unittest import mock

import pytest
import tablib
from django.urls import reverse
from django_fsm_log.models import StateLog

from onboarding.errors import PartnerFileRefused
from onboarding.models import EvidenceItem, Partner
from onboarding.services import partner_import
from tests.onboarding.conftest import partner_csv


def _xlsx(csv_bytes: bytes) -> bytes:
    return tablib.Dataset().load(csv_bytes.decode(), format="csv").export("xlsx")


@contextmanager
def _parsing_forbidden():
    """Fails the test if any row of the file is parsed into a dataset."""
    refuse = mock.Mock(side_effect=AssertionError("the file was parsed"))
    with (
        mock.patch("import_export.formats.base_formats.TextFormat.create_dataset", refuse),
        mock.patch("import_export.formats.base_formats.XLSX.create_dataset", refuse),
    ):
        yield


def _nothing_written() -> bool:
    return not Partner.objects.exists() and not EvidenceItem.objects.exists() and not StateLog.objects.exists()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_over_the_row_limit_is_refused_whole_before_it_is_parsed(rm_a, settings, kind):
    settings.PARTNER_IMPORT_MAX_ROWS = 5
    data = partner_csv(6, branch="SZ", rm="rm_a")
    content = data if kind == "csv" else _xlsx(data)
    with _parsing_forbidden(), pytest.raises(PartnerFileRefused, match="at most 5 rows"):
        partner_import(content=content, file_format=kind, by=rm_a)
    assert _nothing_written()

    # At the limit the file is imported.
    content = partner_csv(5, branch="SZ", rm="rm_a")
    report = partner_import(content=content if kind == "csv" else _xlsx(content), file_format=kind, by=rm_a)
    assert report.ok and report.created == 5


def test_blank_lines_do_not_count_as_rows(rm_a, settings):
    settings.PARTNER_IMPORT_MAX_ROWS = 2
    report = partner_import(content=partner_csv(2, branch="SZ", rm="rm_a") + b"\n\n\n", file_format="csv", by=rm_a)
    assert report.ok and report.created == 2


def test_a_file_over_the_byte_limit_is_refused(rm_a, settings):
    settings.PARTNER_IMPORT_MAX_BYTES = 1024
    with pytest.raises(PartnerFileRefused, match="at most 1 KB"):
        partner_import(content=partner_csv(20, branch="SZ", rm="rm_a"), file_format="csv", by=rm_a)
    assert _nothing_written()


def test_a_bad_last_row_of_a_long_file_writes_nothing(rm_a):
    data = (
        partner_csv(40, branch="SZ", rm="rm_a") + "hardware,坏码有限公司,91440300192185379J,张三,1,SZ,rm_a\n".encode()
    )
    report = partner_import(content=data, file_format="csv", by=rm_a)
    assert [number for number, _reason in report.errors] == [41]
    assert _nothing_written()


def _upload(client, content: bytes, name: str, fmt: str):
    upload = io.BytesIO(content)
    upload.name = name
    return client.post(
        reverse("admin:onboarding_partner_import"), {"import_file": upload, "format": fmt, "resource": "0"}
    )


@pytest.mark.parametrize(("kind", "fmt"), [("csv", "0"), ("xlsx", "1")])
def test_admin_refuses_a_file_over_the_row_limit_with_a_clear_message(client, rm_a, settings, kind, fmt):
    settings.PARTNER_IMPORT_MAX_ROWS = 5
    client.force_login(rm_a)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    data = partner_csv(6, branch="SZ", rm="rm_a")
    with _parsing_forbidden():
        response = _upload(client, data if kind == "csv" else _xlsx(data), f"partners.{kind}", fmt)
    assert response.status_code == 200
    errors = response.context["form"].errors["import_file"]
    assert errors == ["The partner import takes at most 5 rows per file; split the file and import each part."]
    assert "confirm_form" not in response.context
    assert _nothing_written()


def test_admin_refuses_a_file_over_the_byte_limit(client, rm_a, settings):
    settings.PARTNER_IMPORT_MAX_BYTES = 1024
    client.force_login(rm_a)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = _upload(client, partner_csv(20, branch="SZ", rm="rm_a"), "partners.csv", "0")
    assert "at most 1 KB" in response.context["form"].errors["import_file"][0]
    assert _nothing_written()


def test_admin_refuses_a_file_that_is_not_an_xlsx(client, rm_a):
    client.force_login(rm_a)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = _upload(client, b"<html><script>alert(1)</script></html>", "partners.xlsx", "1")
    assert "not an XLSX" in response.context["form"].errors["import_file"][0]
    assert _nothing_written()
