"""The ingestion service: idempotent replay, conflicts, all-or-nothing batches, reversals, co-served events.

The suite runs on SQLite and on PostgreSQL: the one engine must give the same
verdicts and messages on both.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.periods import CHINA_TZ
from revenue.ledger.errors import IngestionRejected, NotPermitted
from revenue.ledger.models import IngestionBatch, Transaction, TransactionAttribution
from revenue.ledger.services import transactions_ingest
from tests.factories import BranchFactory
from tests.revenue.factories import active_partner, beijing, registered, reversal_row, txn_row


@pytest.fixture
def ingest(source_system):
    def run(rows, *, source="payments", by=None, first_row=1):
        return transactions_ingest(rows=rows, source=source, by=by, first_row=first_row)

    return run


def _rejected(ingest, rows, **kwargs) -> list[tuple[int, str, str]]:
    with pytest.raises(IngestionRejected) as caught:
        ingest(rows, **kwargs)
    return [(e.row, e.field, e.code) for e in caught.value.errors]


def test_a_row_books_a_transaction_with_one_attribution_of_weight_one(ingest, pay, active_x):
    result = ingest([txn_row(active_x, "P-1")])

    assert (result.received, result.created, result.duplicates) == (1, 1, 0)
    txn = Transaction.objects.get(source="payments", external_id="P-1")
    assert txn.branch_id == active_x.branch_id  # from the partner
    assert (txn.amount, txn.bank_revenue, txn.currency) == (Decimal("1000.00"), Decimal("6.00"), "CNY")
    assert txn.occurred_at == beijing(2026, 10, 8, 10)
    assert txn.partner_active is True
    assert txn.batch == result.batch and txn.booked_at == result.batch.received_at
    (attribution,) = txn.attributions.all()
    assert (attribution.partner_id, attribution.weight) == (active_x.pk, Decimal("1"))
    assert (attribution.amount, attribution.bank_revenue) == (txn.amount, txn.bank_revenue)
    assert (attribution.product_id, attribution.occurred_at, attribution.is_reversal) == (
        pay.pk,
        txn.occurred_at,
        False,
    )
    assert result.batch.rows_created == 1


def test_replaying_the_same_rows_books_nothing_twice(ingest, pay, active_x):
    rows = [txn_row(active_x, "P-1"), txn_row(active_x, "P-2", amount="250.5")]
    ingest(rows)

    again = ingest(rows)

    assert (again.created, again.duplicates) == (0, 2)
    assert Transaction.objects.count() == 2
    assert TransactionAttribution.objects.count() == 2


def test_a_replay_in_another_format_is_still_a_duplicate(ingest, pay, active_x):
    ingest([txn_row(active_x, "P-1", amount="250.5", occurred_at="2026-10-08T10:00:00+08:00")])

    # A number instead of text, trailing zeros, the same instant in UTC, spaces around the code.
    again = ingest(
        [
            txn_row(
                f" {active_x.credit_code.lower()} ",
                "P-1",
                amount=Decimal("250.50"),
                occurred_at="2026-10-08 02:00:00Z",
                currency="CNY",
            )
        ]
    )

    assert (again.created, again.duplicates) == (0, 1)


def test_the_same_id_with_other_content_is_refused_and_nothing_is_written(ingest, pay, active_x):
    ingest([txn_row(active_x, "P-1")])
    batches = IngestionBatch.objects.count()

    errors = _rejected(ingest, [txn_row(active_x, "P-9"), txn_row(active_x, "P-1", amount="999.00")])

    assert errors == [(2, "external_id", "conflict")]
    assert not Transaction.objects.filter(external_id="P-9").exists()
    assert IngestionBatch.objects.count() == batches


def test_a_repeated_id_within_a_batch(ingest, pay, active_x):
    same = ingest([txn_row(active_x, "P-1"), txn_row(active_x, "P-1")])
    assert (same.created, same.duplicates) == (1, 1)

    errors = _rejected(ingest, [txn_row(active_x, "P-2"), txn_row(active_x, "P-2", bank_revenue="7.00")])
    assert errors == [(2, "external_id", "conflict")]


def test_a_batch_with_bad_rows_is_rejected_whole_with_every_reason(ingest, pay, active_x):
    rows = [
        txn_row(active_x, "OK-1"),
        txn_row(active_x, "BAD-2", amount="12.345"),
        txn_row(active_x, "OK-3"),
        txn_row("91440300MA5XXXXXXX", "BAD-4", occurred_at="2026-02-30T10:00:00"),
        txn_row(active_x, "BAD-5", product="NOPE", bank_revenue="-1.00", currency="USD"),
        {"external_id": "BAD-6", "occurred_at": "yesterday"},
    ]

    with pytest.raises(IngestionRejected) as caught:
        ingest(rows)

    found = sorted((e.row, e.field, e.code) for e in caught.value.errors)
    assert found == [
        (2, "amount", "invalid_amount"),
        (4, "occurred_at", "invalid_timestamp"),
        (5, "bank_revenue", "negative_amount"),
        (5, "currency", "invalid_currency"),
        (6, "amount", "required"),
        (6, "bank_revenue", "required"),
        (6, "occurred_at", "invalid_timestamp"),
        (6, "partner", "required"),
        (6, "product", "required"),
        (6, "sme_id", "required"),
    ]
    assert caught.value.error_count == len(found)
    assert Transaction.objects.count() == 0
    assert IngestionBatch.objects.count() == 0
    # Every error names its row in the message handed to the sender.
    assert caught.value.extra["errors"][0]["row"] == 2 and caught.value.extra["errors"][0]["message"]


def test_unknown_references_are_reported_once_the_row_is_well_formed(ingest, pay, active_x):
    errors = _rejected(
        ingest,
        [
            txn_row("91440300MA5XXXXXXX", "R-1"),
            txn_row(active_x, "R-2", product="NOPE"),
            txn_row(active_x, "R-3", branch="XX"),
        ],
    )
    assert errors == [
        (1, "partner", "unknown_partner"),
        (2, "product", "unknown_product"),
        (3, "branch", "unknown_branch"),
    ]


def test_row_numbers_follow_the_caller(ingest, pay, active_x):
    errors = _rejected(ingest, [txn_row(active_x, "A"), txn_row(active_x, "B", amount="x")], first_row=2)
    assert errors == [(3, "amount", "invalid_amount")]


def test_a_given_branch_overrides_the_partners(ingest, pay, active_x):
    other = BranchFactory(code="GZ", name="广州分行")
    ingest([txn_row(active_x, "P-1", branch="GZ")])
    assert Transaction.objects.get().branch == other


def test_events_of_a_partner_not_active_at_the_time_are_kept_but_flagged(ingest, pay, active_x):
    late_joiner = active_partner(since=beijing(2026, 10, 15))
    never = active_partner()
    never.active_periods.all().delete()

    ingest(
        [
            txn_row(late_joiner, "before", occurred_at="2026-10-14T23:59:59+08:00"),
            txn_row(late_joiner, "after", occurred_at="2026-10-15T00:00:00+08:00"),
            txn_row(never, "never"),
            txn_row(active_x, "active"),
        ]
    )

    flags = dict(Transaction.objects.values_list("external_id", "partner_active"))
    assert flags == {"before": False, "after": True, "never": False, "active": True}
    assert dict(TransactionAttribution.objects.values_list("transaction__external_id", "partner_active")) == flags


def test_an_ended_active_period_no_longer_covers_events(ingest, pay, partner_x):
    from tests.revenue.factories import make_active

    make_active(partner_x, since=beijing(2026, 1, 1), until=beijing(2026, 10, 10))
    ingest(
        [
            txn_row(partner_x, "in", occurred_at="2026-10-09T12:00:00"),
            txn_row(partner_x, "at-end", occurred_at="2026-10-10T00:00:00"),
        ]
    )
    assert dict(Transaction.objects.values_list("external_id", "partner_active")) == {"in": True, "at-end": False}


def test_co_served_events_split_exactly_by_weight(ingest, pay, active_x, active_y):
    third = active_partner()
    code = f"{active_x.credit_code}:0.333333;{active_y.credit_code}:0.333333;{third.credit_code}:0.333334"
    ingest([txn_row(code, "CO-1", amount="100.01", bank_revenue="0.05")])

    txn = Transaction.objects.get()
    parts = list(txn.attributions.order_by("id").values_list("partner_id", "weight", "amount", "bank_revenue"))
    assert parts == [
        (active_x.pk, Decimal("0.333333"), Decimal("33.34"), Decimal("0.02")),
        (active_y.pk, Decimal("0.333333"), Decimal("33.33"), Decimal("0.01")),
        (third.pk, Decimal("0.333334"), Decimal("33.34"), Decimal("0.02")),
    ]
    assert sum(p[2] for p in parts) == txn.amount and sum(p[3] for p in parts) == txn.bank_revenue
    assert txn.branch_id == active_x.branch_id  # the first partner named


def test_co_served_weights_must_add_up_to_one(ingest, pay, active_x, active_y):
    x, y = active_x.credit_code, active_y.credit_code
    errors = _rejected(
        ingest,
        [
            txn_row(f"{x}:0.5;{y}:0.4", "W-1"),
            txn_row(f"{x}:0.5;{x}:0.5", "W-2"),
            txn_row(f"{x}:1.5", "W-3"),
            txn_row(f"{x};{y}", "W-4"),
            txn_row(f"{x}:0.5;", "W-5"),
        ],
    )
    assert errors == [
        (1, "partner", "weights_sum"),
        (2, "partner", "duplicate_partner"),
        (3, "partner", "invalid_weight"),
        (4, "partner", "invalid_partner_list"),
        (5, "partner", "invalid_partner_list"),
    ]


def test_a_reversal_mirrors_what_it_reverses(ingest, pay, active_x, active_y):
    code = f"{active_x.credit_code}:0.6;{active_y.credit_code}:0.4"
    ingest([txn_row(code, "O-1", amount="100.01", bank_revenue="1.01")])

    ingest([reversal_row("R-1", "O-1")])

    original = Transaction.objects.get(external_id="O-1")
    reversal = Transaction.objects.get(external_id="R-1")
    assert reversal.kind == "reversal" and reversal.reverses == original
    assert (reversal.amount, reversal.bank_revenue) == (Decimal("-100.01"), Decimal("-1.01"))
    assert (reversal.product_id, reversal.branch_id, reversal.sme_id, reversal.sme_name) == (
        original.product_id,
        original.branch_id,
        original.sme_id,
        original.sme_name,
    )
    assert reversal.occurred_at == beijing(2026, 10, 20, 9)
    mirror = [
        (p, w, -a, -r)
        for p, w, a, r in original.attributions.values_list("partner_id", "weight", "amount", "bank_revenue")
    ]
    assert sorted(reversal.attributions.values_list("partner_id", "weight", "amount", "bank_revenue")) == sorted(mirror)
    assert all(reversal.attributions.values_list("is_reversal", flat=True))


def test_a_reversal_may_carry_the_mirrored_fields_but_they_must_match(ingest, pay, active_x):
    ingest([txn_row(active_x, "O-1")])
    ok = reversal_row(
        "R-1", "O-1", partner=active_x.credit_code, amount="-1000.00", bank_revenue="-6", product="PAY_SETTLE"
    )
    assert ingest([ok]).created == 1

    ingest([txn_row(active_x, "O-2")])
    errors = _rejected(ingest, [reversal_row("R-2", "O-2", amount="-999.00", bank_revenue="6.00", sme_id="OTHER")])
    assert errors == [
        (1, "sme_id", "mirror_mismatch"),
        (1, "amount", "mirror_mismatch"),
        (1, "bank_revenue", "mirror_mismatch"),
    ]


def test_a_transaction_is_reversed_at_most_once(ingest, pay, active_x):
    ingest([txn_row(active_x, "O-1"), reversal_row("R-1", "O-1")])

    assert _rejected(ingest, [reversal_row("R-2", "O-1")]) == [(1, "reverses", "already_reversed")]
    # Twice in one batch too.
    ingest([txn_row(active_x, "O-2")])
    assert _rejected(ingest, [reversal_row("R-3", "O-2"), reversal_row("R-4", "O-2")]) == [
        (2, "reverses", "already_reversed")
    ]
    # Replaying the accepted reversal is a duplicate, not a second reversal.
    assert ingest([reversal_row("R-1", "O-1")]).duplicates == 1


def test_what_a_reversal_may_reverse(ingest, pay, active_x):
    ingest([txn_row(active_x, "O-1"), reversal_row("R-1", "O-1")])

    errors = _rejected(
        ingest,
        [
            reversal_row("R-2", "NOPE"),
            reversal_row("R-3", "R-1"),
            reversal_row("R-4", "LATER"),  # comes later in the batch: not yet known
            txn_row(active_x, "LATER"),
            reversal_row("R-5", "O-X", occurred_at="2026-10-01T00:00:00"),
            txn_row(active_x, "O-X", occurred_at="2026-10-08T00:00:00"),
        ],
    )
    assert errors == [
        (1, "reverses", "unknown_original"),
        (2, "reverses", "original_is_reversal"),
        (3, "reverses", "unknown_original"),
        (5, "reverses", "unknown_original"),
    ]


def test_a_reversal_cannot_happen_before_its_original(ingest, pay, active_x):
    ingest([txn_row(active_x, "O-1", occurred_at="2026-10-08T10:00:00")])
    errors = _rejected(ingest, [reversal_row("R-1", "O-1", occurred_at="2026-10-08T09:59:59")])
    assert errors == [(1, "occurred_at", "reversal_before_original")]


def test_a_reversal_of_an_unflagged_event_stays_unflagged_and_vice_versa(ingest, pay, active_x):
    never = active_partner()
    never.active_periods.all().delete()
    ingest([txn_row(never, "O-1"), reversal_row("R-1", "O-1"), txn_row(active_x, "O-2"), reversal_row("R-2", "O-2")])
    assert dict(Transaction.objects.values_list("external_id", "partner_active")) == {
        "O-1": False,
        "R-1": False,
        "O-2": True,
        "R-2": True,
    }


def test_a_reversal_in_the_same_batch_as_its_original(ingest, pay, active_x):
    result = ingest([txn_row(active_x, "O-1"), reversal_row("R-1", "O-1")])
    assert result.created == 2
    assert Transaction.objects.get(external_id="R-1").reverses.external_id == "O-1"


def test_several_reversals_of_events_earlier_in_the_batch(ingest, pay, active_x):
    rows = [txn_row(active_x, f"O-{i}") for i in range(3)]
    rows += [reversal_row("R-1", "O-1"), reversal_row("R-0", "O-0"), reversal_row("R-2", "O-2")]
    assert ingest(rows).created == 6
    assert Transaction.objects.filter(kind="reversal").count() == 3


def test_naive_times_are_beijing_time(ingest, pay, active_x):
    ingest([txn_row(active_x, "N-1", occurred_at="2026-10-31T23:30:00")])
    moment = Transaction.objects.get().occurred_at
    assert moment == dt.datetime(2026, 10, 31, 15, 30, tzinfo=dt.UTC)
    assert moment.astimezone(CHINA_TZ).month == 10


def test_sources_keep_their_own_ids(ingest, pay, active_x):
    ingest([txn_row(active_x, "X-1")], source="payments")
    ingest([txn_row(active_x, "X-1", amount="5.00")], source=registered("lending"))
    assert Transaction.objects.filter(external_id="X-1").count() == 2


def test_text_limits_and_unknown_fields(ingest, pay, active_x):
    errors = _rejected(
        ingest,
        [
            txn_row(active_x, "E" * 65),
            txn_row(active_x, "T-2", sme_name="名" * 129),
            txn_row(active_x, "T-3", colour="blue"),
            txn_row(active_x, "T-4", kind="refund"),
            txn_row(active_x, "T-5", reverses="T-1"),
            txn_row(active_x, "T-6", sme_id="a\x00b"),
        ],
    )
    assert errors == [
        (1, "external_id", "too_long"),
        (2, "sme_name", "too_long"),
        (3, "colour", "unknown_field"),
        (4, "kind", "invalid_kind"),
        (5, "reverses", "not_allowed"),
        (6, "sme_id", "invalid_text"),
    ]


def test_who_may_book(ingest, pay, active_x, source_system, head_office, rm_a):
    assert ingest([txn_row(active_x, "S-1")], by=source_system).created == 1
    with pytest.raises(NotPermitted):
        ingest([txn_row(active_x, "S-2")], by=rm_a)
    # Head office imports files in the admin, but does not post as a source system.
    with pytest.raises(NotPermitted):
        ingest([txn_row(active_x, "S-3")], by=head_office)
