"""The revenue API: source systems post batches, partners read their own; tokens stay in their lane."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from organisation.roles import Role
from revenue.ledger.models import IngestionBatch, Transaction
from revenue.ledger.services import transactions_ingest
from tests.factories import UserFactory
from tests.revenue.conftest import token_client
from tests.revenue.factories import reversal_row, txn_row

BATCH = "/api/v1/transactions/batch/"
PARTNER_LIST = "/api/v1/partner/transactions/"


def post(client, rows):
    return client.post(BATCH, {"transactions": rows}, format="json")


def test_a_full_batch_of_ten_thousand_is_accepted(source_client, pay, active_x):
    rows = [txn_row(active_x, f"T-{i}", sme_name="某某" * 40) for i in range(10_000)]
    response = post(source_client, rows)  # over Django's 2.5 MB default body limit
    assert response.status_code == 201, response.content[:300]
    assert response.json()["created"] == 10_000


def test_a_source_system_posts_a_batch(source_client, pay, active_x):
    response = post(source_client, [txn_row(active_x, "A-1"), txn_row(active_x, "A-2", amount=0.1, bank_revenue=0)])

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["received"], body["created"], body["duplicates"]) == (2, 2, 0)
    assert Transaction.objects.get(external_id="A-2").amount == Decimal("0.10")
    batch = IngestionBatch.objects.get(pk=body["batch"])
    assert (batch.source_id, batch.channel, batch.received_by.username) == ("payments", "api", "payments")

    replay = post(source_client, [txn_row(active_x, "A-1"), txn_row(active_x, "A-2", amount="0.10", bank_revenue="0")])
    assert replay.status_code == 201
    assert (replay.json()["created"], replay.json()["duplicates"]) == (0, 2)


def test_a_batch_with_a_bad_row_is_rejected_whole(source_client, pay, active_x):
    response = post(
        source_client,
        [txn_row(active_x, "B-1"), txn_row(active_x, "B-2", amount="abc"), txn_row(active_x, "B-3", product="NOPE")],
    )

    assert response.status_code == 400
    body = response.json()
    assert body["error_count"] == 2
    assert [(e["row"], e["field"], e["code"]) for e in body["errors"]] == [
        (2, "amount", "invalid_amount"),
        (3, "product", "unknown_product"),
    ]
    assert "Nothing was written" in body["detail"] or body["detail"]
    assert not Transaction.objects.exists()


def test_conflicting_replay_is_a_bad_row(source_client, pay, active_x):
    post(source_client, [txn_row(active_x, "C-1")])
    response = post(source_client, [txn_row(active_x, "C-1", bank_revenue="7.00")])
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "conflict"
    assert "different content" in response.json()["errors"][0]["message"]


def test_co_served_events_and_reversals_through_the_api(source_client, pay, active_x, active_y):
    rows = [
        {
            **txn_row(active_x, "D-1", amount="100.00", bank_revenue="1.00"),
            "partner": None,
            "attributions": [
                {"partner": active_x.credit_code, "weight": 0.7},
                {"partner": active_y.credit_code, "weight": "0.3"},
            ],
        },
        reversal_row("D-2", "D-1"),
    ]
    del rows[0]["partner"]
    response = post(source_client, rows)
    assert response.status_code == 201, response.json()
    weights = Transaction.objects.get(external_id="D-1").attributions.values_list("weight", "bank_revenue")
    assert sorted(weights) == [(Decimal("0.3"), Decimal("0.30")), (Decimal("0.7"), Decimal("0.70"))]
    assert Transaction.objects.get(external_id="D-2").bank_revenue == Decimal("-1.00")


def test_the_envelope_and_the_size_limit(source_client, pay, active_x, settings):
    assert source_client.post(BATCH, {"rows": []}, format="json").status_code == 400
    assert post(source_client, []).status_code == 400
    too_many = [txn_row(active_x, f"E-{i}") for i in range(10_001)]
    response = post(source_client, too_many)
    assert response.status_code == 400
    assert "10000" in str(response.json())
    too_big = source_client.post(BATCH, b"[" + b" " * (32 * 2**20) + b"]", content_type="application/json")
    assert too_big.status_code == 400 and "larger than 32 MB" in too_big.json()["detail"]
    not_json = source_client.post(BATCH, "{", content_type="application/json")
    assert not_json.status_code == 400
    assert post(source_client, ["just text"]).status_code == 400


def test_tokens_stay_in_their_lane(source_client, source_system, pay, active_x, partner_user_x, rm_a, head_office):
    transactions_ingest(rows=[txn_row(active_x, "F-1")], source="payments", by=None)
    partner_client = token_client(partner_user_x)

    # A source system posts but cannot read partners' data.
    assert source_client.get(PARTNER_LIST).status_code == 403
    # A partner reads but cannot post.
    assert post(partner_client, [txn_row(active_x, "F-2")]).status_code == 403
    # Neither can bank staff post as a source system, nor anyone without a token.
    assert post(token_client(rm_a), [txn_row(active_x, "F-3")]).status_code == 403
    assert post(token_client(head_office), [txn_row(active_x, "F-4")]).status_code == 403
    assert post(APIClient(), [txn_row(active_x, "F-5")]).status_code == 401
    assert APIClient().get(PARTNER_LIST).status_code == 401
    # Staff have no partner: nothing to read here.
    assert token_client(head_office).get(PARTNER_LIST).status_code == 403
    assert Transaction.objects.count() == 1


def test_a_partner_reads_only_its_own_part(pay, active_x, active_y, partner_user_x, partner_user_y):
    x, y = active_x.credit_code, active_y.credit_code
    transactions_ingest(
        rows=[
            txn_row(active_x, "G-X", occurred_at="2026-10-01T08:00:00"),
            txn_row(active_y, "G-Y", occurred_at="2026-10-02T08:00:00"),
            txn_row(f"{x}:0.25;{y}:0.75", "G-XY", amount="80.00", bank_revenue="4.00", occurred_at="2026-10-03T08:00"),
            txn_row(active_x, "G-SEP", occurred_at="2026-09-30T23:59:00"),
            reversal_row("G-R", "G-X", occurred_at="2026-10-05T08:00:00"),
        ],
        source="payments",
        by=None,
    )

    body = token_client(partner_user_x).get(PARTNER_LIST).json()
    assert body["count"] == 4
    assert [r["external_id"] for r in body["results"]] == ["G-R", "G-XY", "G-X", "G-SEP"]
    shared = next(r for r in body["results"] if r["external_id"] == "G-XY")
    assert (shared["weight"], shared["attributed_amount"], shared["attributed_bank_revenue"]) == (
        "0.250000",
        "20.00",
        "1.00",
    )
    assert shared["amount"] == "80.00" and "partner" not in shared  # never who else co-served it
    reversal = body["results"][0]
    assert (reversal["kind"], reversal["reverses"], reversal["attributed_bank_revenue"]) == ("reversal", "G-X", "-6.00")

    y_rows = token_client(partner_user_y).get(PARTNER_LIST).json()["results"]
    assert sorted(r["external_id"] for r in y_rows) == ["G-XY", "G-Y"]
    assert next(r for r in y_rows if r["external_id"] == "G-XY")["attributed_amount"] == "60.00"

    october = token_client(partner_user_x).get(PARTNER_LIST, {"period": "2026-10", "kind": "normal"}).json()
    assert [r["external_id"] for r in october["results"]] == ["G-XY", "G-X"]
    assert token_client(partner_user_x).get(PARTNER_LIST, {"period": "October"}).status_code == 400


def test_the_partner_list_costs_the_same_queries_for_any_page_size(pay, active_x, partner_user_x):
    client = token_client(partner_user_x)
    transactions_ingest(rows=[txn_row(active_x, "H-0")], source="payments", by=None)
    client.get(PARTNER_LIST)  # records the token's first use (then at most once a minute), outside the count
    with CaptureQueriesContext(connection) as one:
        assert client.get(PARTNER_LIST).status_code == 200
    transactions_ingest(
        rows=[txn_row(active_x, f"H-{i}") for i in range(1, 30)] + [reversal_row("H-R", "H-0")],
        source="payments",
        by=None,
    )
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(PARTNER_LIST).json()["results"]) == 31
    assert len(many) == len(one)


def test_partner_users_without_the_role_read_nothing(active_x):
    outsider = UserFactory(username="px2", is_staff=False, partner=active_x, roles=[])
    assert token_client(outsider).get(PARTNER_LIST).status_code == 403
    assert Role.PARTNER_USER  # the role that grants it


def test_the_endpoints_are_documented(client, db):
    schema = client.get("/api/schema/").content.decode()
    assert "/api/v1/transactions/batch/" in schema and "/api/v1/partner/transactions/" in schema
    assert "TransactionAttributionInput" in schema and "BatchRejected" in schema
