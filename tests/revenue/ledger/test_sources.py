"""Source systems are registered records: unknown or inactive sources are refused by every way in."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from organisation.roles import Role
from revenue.ledger.errors import NotPermitted, UnknownSource
from revenue.ledger.models import IngestionBatch, SourceSystem, Transaction
from revenue.ledger.services import source_system_register, transactions_ingest
from tests.factories import UserFactory
from tests.revenue.conftest import token_client
from tests.revenue.factories import txn_row
from tests.revenue.ledger.test_ways_in import csv_bytes


def test_an_unknown_source_is_refused_by_the_service_and_the_command(pay, active_x, tmp_path):
    with pytest.raises(UnknownSource, match="lending"):
        transactions_ingest(rows=[txn_row(active_x, "S-1")], source="lending", by=None)
    path = tmp_path / "lending.csv"
    path.write_bytes(csv_bytes([txn_row(active_x, "S-1")]))
    with pytest.raises(CommandError, match="Unknown source system “lending”"):
        call_command("ingest_transactions", str(path), source="lending", stdout=io.StringIO())
    assert not Transaction.objects.exists() and not IngestionBatch.objects.exists()


def test_an_inactive_source_is_refused(pay, active_x):
    SourceSystem.objects.filter(code="payments").update(is_active=False)
    with pytest.raises(UnknownSource, match="no longer active"):
        transactions_ingest(rows=[txn_row(active_x, "S-1")], source="payments", by=None)


def test_the_admin_import_offers_only_active_registered_sources(pay, active_x, client, head_office):
    source_system_register(code="lending", name="信贷系统", by=head_office)
    SourceSystem.objects.filter(code="payments").update(is_active=False)
    client.force_login(head_office)
    upload = SimpleUploadedFile("s.csv", csv_bytes([txn_row(active_x, "S-1")]))
    response = client.post("/admin/ledger/transaction/import/", {"source": "payments", "file": upload})
    assert response.status_code == 200 and response.context["form"].errors["source"]
    assert not Transaction.objects.exists()
    upload = SimpleUploadedFile("s.csv", csv_bytes([txn_row(active_x, "S-1")]))
    assert client.post("/admin/ledger/transaction/import/", {"source": "lending", "file": upload}).status_code == 302
    assert Transaction.objects.get().source_id == "lending"


def test_a_batch_books_under_the_source_registered_for_the_token(pay, active_x, source_system):
    response = token_client(source_system).post(
        "/api/v1/transactions/batch/", {"transactions": [txn_row(active_x, "S-1")]}, format="json"
    )
    assert response.status_code == 201
    assert Transaction.objects.get().source_id == "payments"


def test_an_account_with_the_role_but_no_registered_system_is_refused(pay, active_x):
    stray = UserFactory(username="stray", is_staff=False, roles=[Role.SOURCE_SYSTEM])
    response = token_client(stray).post(
        "/api/v1/transactions/batch/", {"transactions": [txn_row(active_x, "S-1")]}, format="json"
    )
    assert response.status_code == 403
    assert not Transaction.objects.exists()


def test_only_head_office_registers_source_systems(rm_a, head_office):
    with pytest.raises(NotPermitted):
        source_system_register(code="lending", name="信贷系统", by=rm_a)
    assert source_system_register(code="lending", name="信贷系统", by=head_office).code == "lending"
