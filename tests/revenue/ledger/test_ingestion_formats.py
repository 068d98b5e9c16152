"""One ingestion engine: the same rows sent as request rows and as a CSV file come out identical.

Every way in reads rows with the same reader and books them with the same
processor (COPY through the driver's row writer on PostgreSQL, bulk inserts
elsewhere), so the verdict, the booked values and the content digest cannot
depend on the format or the database. Hypothesis varies the spelling of
amounts, times, codes and names; the same rows go in as request rows and as
a file under two sources and must come out identical. The suite runs on
SQLite and on PostgreSQL, so both databases are held to the same outcomes.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from revenue.ledger.errors import IngestionRejected
from revenue.ledger.ingestion.rows import COLUMNS
from revenue.ledger.models import Transaction
from revenue.ledger.services import transactions_ingest, transactions_ingest_csv
from tests.revenue.factories import registered, txn_row

COUNTER = itertools.count()

canonical_amounts = st.integers(0, 10**9).map(lambda f: f"{f // 100}.{f % 100:02d}")
# Mostly well-formed (so that most rows are booked and compared), with the odd spelling.
amounts = st.one_of(
    canonical_amounts,
    canonical_amounts,
    canonical_amounts,
    canonical_amounts,
    st.integers(0, 10**6).map(str),
    st.sampled_from(["0.5", "007.50", "1.", ".5", "-0.00", " 12.30", "1e3", "12.345", "１２", "12,5"]),
)
spelled_times = st.one_of(
    st.builds(
        "2026-{:02d}-{:02d}{}{:02d}:{:02d}:{:02d}{}".format,
        st.integers(1, 12),
        st.integers(1, 31),
        st.sampled_from(["T", " "]),
        st.integers(0, 24),  # 24 and 60 are out of range
        st.integers(0, 59),
        st.integers(0, 60),
        st.sampled_from(["", "", "Z", "+08:00", "+08:00", "-05:30", "+14:00", "+15:00", "+0800", "+08"]),
    ),
)
times = st.one_of(
    spelled_times,
    spelled_times,
    spelled_times,
    st.sampled_from(["2026-02-29T10:00:00", "2028-02-29T10:00:00", "1999-12-31T10:00:00", "2026-10-08", "now"]),
)


def partner_spelling(code: str):
    return st.sampled_from([code, code, code, code.lower(), f" {code}", f"{code}:1", f"{code}:1.000000"])


@st.composite
def rows(draw, codes):
    code = draw(st.sampled_from(codes))
    return {
        "partner": draw(partner_spelling(code)),
        "amount": draw(amounts),
        "bank_revenue": draw(amounts),
        "occurred_at": draw(times),
        "sme_id": draw(st.sampled_from(["S1", "S1", " S1 ", "S2"])),
        "sme_name": draw(st.sampled_from(["", "  ", "深圳市宏达贸易有限公司", "A" * 128])),
        "product": draw(st.sampled_from(["PAY_SETTLE"] * 6 + ["PAY_SETTLE ", "pay_settle"])),
        "branch": draw(st.sampled_from([None, "", "SZ", "HZ"] * 2 + ["XX"])),
        "currency": draw(st.sampled_from([None, "CNY"] * 3 + ["cny"])),
        "kind": draw(st.sampled_from([None, "normal", "normal", " normal"])),
    }


def as_csv(rows_) -> io.BytesIO:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in rows_:
        writer.writerow(["" if row.get(c) is None else row[c] for c in COLUMNS])
    return io.BytesIO(buffer.getvalue().encode())


def outcome(rows_, source, way):
    source = registered(source)
    try:
        if way == "rows":
            transactions_ingest(rows=rows_, source=source, by=None)
        else:
            # The same rows go in again and again under other sources: the same file, on purpose.
            transactions_ingest_csv(stream=as_csv(rows_), source=source, by=None, allow_same_file=True)
    except IngestionRejected as exc:
        # A file numbers its rows by line (the header is line 1), a request by position.
        shift = 1 if way == "file" else 0
        return "rejected", sorted((e.row - shift, e.field, e.code) for e in exc.errors)
    booked = Transaction.objects.filter(source=source).order_by("external_id")
    return "booked", [
        (
            t.external_id,
            t.amount,
            t.bank_revenue,
            t.occurred_at,
            t.sme_id,
            t.sme_name,
            t.branch_id,
            t.partner_active,
            t.content_hash,
            sorted(t.attributions.values_list("partner_id", "weight", "amount", "bank_revenue")),
        )
        for t in booked.prefetch_related("attributions")
    ]


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_rows_and_files_book_or_refuse_alike(data, pay, active_x, active_y, branch_a, branch_b):
    batch = data.draw(st.lists(rows([active_x.credit_code, active_y.credit_code]), min_size=1, max_size=4))
    n = next(COUNTER)
    for i, row in enumerate(batch):
        row["external_id"] = f"H{n}-{i}"
    # The batch as a whole, and each row alone (most of which are booked).
    for k, part in enumerate([batch, *([row] for row in batch)]):
        assert outcome(part, f"rows{n}-{k}", "rows") == outcome(part, f"file{n}-{k}", "file")


def test_rows_and_files_agree_on_many_mostly_good_rows(pay, active_x, active_y, branch_a, branch_b):
    """A seeded mix where most rows are good, in batches of five: most batches are booked and compared."""
    rng = random.Random(7)
    codes = [active_x.credit_code, active_y.credit_code]

    def pick(good, odd, p_odd=0.05):
        return rng.choice(odd) if rng.random() < p_odd else good()

    def row(i):
        fen = rng.randrange(10**9)
        return {
            "external_id": f"M-{i}",
            "partner": pick(lambda: rng.choice(codes), [codes[0].lower(), f" {codes[1]}", f"{codes[0]}:1"]),
            "amount": pick(lambda: f"{fen // 100}.{fen % 100:02d}", ["12", "0.5", "007.50", "1.", "12.345"]),
            "bank_revenue": pick(lambda: f"{fen // 10000}.{fen % 100:02d}", ["3", " 1.20", "1e3"]),
            "occurred_at": pick(
                lambda: f"2026-10-{rng.randint(1, 31):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
                f"{rng.randint(0, 59):02d}{rng.choice(['', '+08:00', 'Z', '-05:30'])}",
                ["2026-10-08 10:00", "2026-10-08T10:00:00.5+08:00", "2026-10-08T24:00:00", "2026-09-31T10:00:00"],
            ),
            "sme_id": pick(lambda: f"S{rng.randrange(50)}", [" S1 ", ""]),
            "sme_name": pick(lambda: rng.choice(["", "深圳市宏达贸易有限公司"]), ["  ", "A" * 129]),
            "product": pick(lambda: "PAY_SETTLE", ["PAY_SETTLE ", "pay_settle"]),
            "branch": pick(lambda: rng.choice([None, "SZ", "HZ"]), ["XX", " SZ"]),
        }

    rows_ = [row(i) for i in range(150)]
    booked = 0
    for start in range(0, len(rows_), 5):
        part = rows_[start : start + 5]
        as_rows = outcome(part, f"mrows{start}", "rows")
        assert as_rows == outcome(part, f"mfile{start}", "file"), part
        booked += as_rows[0] == "booked"
    assert booked >= 10  # the comparison covered booked rows, not only refusals


def test_co_served_rows_are_split_to_the_fen_whatever_the_way_in(pay, active_x, active_y, branch_b):
    from tests.revenue.factories import PartnerFactory, active_partner

    third, inactive = active_partner(), PartnerFactory()
    x, y, z, off = active_x.credit_code, active_y.credit_code, third.credit_code, inactive.credit_code
    rows_ = [
        txn_row(f"{x}:0.333333;{y}:0.333333;{z}:0.333334", "C-1", amount="100.01", bank_revenue="0.05"),
        txn_row(f"{y}:0.7;{x}:0.3", "C-2", amount="0.01", bank_revenue="0.00", branch="HZ"),
        txn_row(f"{z}:0.5;{off}:0.5", "C-3", amount="1234567890123.99", bank_revenue="7.77", sme_name=""),
        txn_row(f"{x}:1.000000;{y}:0.000001", "C-4"),  # weights add up to more than 1: the reader refuses it
        txn_row(x, "S-1"),
    ]
    good = [r for r in rows_ if r["external_id"] != "C-4"]
    assert outcome(good, "rows", "rows") == outcome(good, "file", "file")
    assert outcome(rows_, "rows-bad", "rows") == outcome(rows_, "file-bad", "file")
    assert outcome(rows_, "rows-bad", "rows")[0] == "rejected"
    flags = dict(Transaction.objects.filter(source="rows").values_list("external_id", "partner_active"))
    assert flags == {"C-1": True, "C-2": True, "C-3": False, "S-1": True}
    split = Transaction.objects.get(source="rows", external_id="C-1").attributions.order_by("id")
    assert list(split.values_list("amount", flat=True)) == [Decimal("33.34"), Decimal("33.33"), Decimal("33.34")]


@pytest.mark.parametrize(
    "spelling",
    [
        "{x}:0.5;{x}:0.5",  # the same partner twice
        "{x}:0.5;{y}:0.4",  # weights short of 1
        "{x}:0.5; {y}:0.5",  # spaces are the reader's business
        "{x}:0.5;{y}:0.5;",  # an empty part
        "{x}:0.5;{y}:.5",
        "{x}:0.5:1;{y}:0.5",
        "{x}:0.5;UNKNOWN:0.5",
        "{x}:1;{y}:0",
    ],
)
def test_odd_co_served_spellings_are_judged_alike(spelling, pay, active_x, active_y):
    code = spelling.format(x=active_x.credit_code, y=active_y.credit_code)
    rows_ = [txn_row(code, "O-1"), txn_row(active_x, "O-2")]
    assert outcome(rows_, "rows", "rows") == outcome(rows_, "file", "file")


def test_an_id_repeated_with_the_very_same_text_is_booked_once(pay, active_x, active_y):
    co = f"{active_x.credit_code}:0.6;{active_y.credit_code}:0.4"
    rows_ = [txn_row(active_x, "R-1"), txn_row(co, "R-2"), txn_row(active_x, "R-1"), txn_row(co, "R-2")]
    rows_.append(txn_row(active_x, "R-1"))
    first = transactions_ingest(rows=rows_, source=registered("counts"), by=None)
    assert (first.created, first.duplicates) == (2, 3)
    assert outcome(rows_, "rows", "rows") == outcome(rows_, "file", "file")
    # Sent again: every row is a duplicate of what is booked.
    again = transactions_ingest_csv(stream=as_csv(rows_), source="counts", by=None, allow_same_file=True)
    assert (again.created, again.duplicates) == (0, 5)


def test_an_id_repeated_with_other_text_is_judged_alike(pay, active_x):
    same_content = [txn_row(active_x, "D-1"), txn_row(active_x, " D-1 ")]  # a duplicate, but not the same text
    conflict = [txn_row(active_x, "D-2"), txn_row(active_x, "D-2", amount="1.00")]
    for k, rows_ in enumerate([same_content, conflict]):
        assert outcome(rows_, f"rows{k}", "rows") == outcome(rows_, f"file{k}", "file")
    assert outcome(conflict, "again", "file")[0] == "rejected"


def test_a_reversal_of_a_co_served_event_mirrors_it(pay, active_x, active_y):
    from tests.revenue.factories import reversal_row

    co = f"{active_x.credit_code}:0.5;{active_y.credit_code}:0.5"
    rows_ = [txn_row(co, "V-1", amount="0.03", bank_revenue="0.01"), reversal_row("V-2", "V-1")]
    assert outcome(rows_, "rows", "rows") == outcome(rows_, "file", "file")
    reversal = Transaction.objects.get(source="file", external_id="V-2")
    assert sorted(reversal.attributions.values_list("amount", flat=True)) == [Decimal("-0.02"), Decimal("-0.01")]
