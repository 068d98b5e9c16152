"""Checking and booking rows chunk by chunk, with bulk look-ups only: the one ingestion engine.

:class:`ChunkProcessor` reads every row with :func:`revenue.ledger.ingestion.rows.row_parse`,
resolves its references and books it, on every database: there is no second
implementation of the checks. Each chunk costs a fixed number of queries
whatever its size: existing external ids, partners, active periods, reversed
originals, then the writes. On PostgreSQL the writes are two ``COPY``s fed
row by row through the driver's row writer (the values the validator
produced, never the sender's text); elsewhere two bulk inserts.

Rows are processed in order. Valid rows are inserted as they come, even after
an error was found, so that later rows are judged against the same state a
clean batch would have (a duplicate of an earlier row, a reversal of one); the
caller rolls the whole batch back when any error was found.
"""

from __future__ import annotations

import datetime as dt
import operator
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection

from onboarding.models import Partner, PartnerActivePeriod
from organisation.models import Branch
from revenue.calculations import split_exact
from revenue.ledger.ingestion.rows import (
    NORMAL,
    REVERSAL,
    ParsedRow,
    RowError,
    canonical_shares,
    latest_event_time,
    row_parse,
)
from revenue.ledger.models import IngestionBatch, Product, Transaction, TransactionAttribution

# Rows are reported up to this many errors; the count goes on beyond it.
MAX_REPORTED_ERRORS = 10_000


@dataclass
class Original:
    """What a reversal needs to know about the transaction it reverses."""

    id: int
    kind: str
    occurred_at: dt.datetime
    product_id: int
    product_code: str
    branch_id: int
    branch_code: str
    sme_id: str
    sme_name: str
    amount: Decimal
    bank_revenue: Decimal
    currency: str
    already_reversed: bool
    # (partner id, partner code, weight, amount, bank revenue, partner active)
    attributions: list[tuple[int, str, Decimal, Decimal, Decimal, bool]] = field(default_factory=list)
    # Set when the original is earlier in the same chunk and not booked yet (``id`` is then unknown).
    pending: _Pending | None = None

    @property
    def shares(self) -> tuple[tuple[str, Decimal], ...]:
        return tuple((code, weight) for _, code, weight, _, _, _ in self.attributions)


@dataclass(slots=True)
class NewTransaction:
    """A transaction about to be booked (plain values: cheaper than model instances by the thousand)."""

    batch_id: int
    source_id: str
    external_id: str
    kind: str
    reverses_id: int | None
    sme_id: str
    sme_name: str
    product_id: int
    branch_id: int
    amount: Decimal
    bank_revenue: Decimal
    currency: str
    occurred_at: dt.datetime
    booked_at: dt.datetime
    partner_active: bool
    content_hash: Any
    id: int | None = None


@dataclass(slots=True)
class NewAttribution:
    partner_id: int
    product_id: int
    occurred_at: dt.datetime
    is_reversal: bool
    weight: Decimal
    amount: Decimal
    bank_revenue: Decimal
    partner_active: bool
    transaction_id: int | None = None


TRANSACTION_FIELDS = tuple(f for f in NewTransaction.__slots__ if f != "id")
ATTRIBUTION_FIELDS = tuple(f for f in NewAttribution.__slots__ if f != "transaction_id")
# A row's values in column order, read in C (a generator of getattr calls costs a microsecond a field).
transaction_values = operator.attrgetter(*TRANSACTION_FIELDS)
attribution_values = operator.attrgetter(*ATTRIBUTION_FIELDS)


@dataclass
class _Pending:
    txn: NewTransaction
    attributions: list[NewAttribution]
    parsed: ParsedRow
    # A reversal of an event that is pending too: its ``reverses`` is set once that one is booked.
    reverses: _Pending | None = None


class ChunkProcessor:
    """Books rows of one batch; errors, counts and caches accumulate across chunks."""

    def __init__(self, *, source: str, batch: IngestionBatch) -> None:
        self.source = source
        self.batch = batch
        self.errors: list[RowError] = []
        self.error_count = 0
        self.created = 0
        self.duplicates = 0
        self._products = dict(Product.objects.values_list("code", "id"))
        self._product_codes = {pk: code for code, pk in self._products.items()}
        self._branches = dict(Branch.objects.values_list("code", "id"))
        self._branch_codes = {pk: code for code, pk in self._branches.items()}
        self._partners: dict[str, tuple[int, int] | None] = {}
        self._periods: dict[int, list[tuple[dt.datetime, dt.datetime | None]]] = {}
        # One horizon for the whole batch: a row's verdict does not depend on when its chunk was read.
        self.latest_event_time = latest_event_time()
        # Seconds spent per phase, for the log line that says where an ingestion's time went.
        self.seconds: Counter[str] = Counter()

    # ---- results -------------------------------------------------------------------------

    def error(self, err: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(err)

    @property
    def rejected(self) -> bool:
        return self.error_count > 0

    # ---- look-ups (one query each per chunk) ---------------------------------------------

    def _load_partners(self, codes: Iterable[str]) -> None:
        missing = {c for c in codes if c not in self._partners}
        if not missing:
            return
        for code, pk, branch_id in Partner.objects.filter(credit_code__in=missing).values_list(
            "credit_code", "id", "branch_id"
        ):
            self._partners[code] = (pk, branch_id)
        for code in missing:
            self._partners.setdefault(code, None)

    def _load_periods(self, partner_ids: Iterable[int]) -> None:
        missing = {p for p in partner_ids if p not in self._periods}
        if not missing:
            return
        for pid in missing:
            self._periods[pid] = []
        for pid, start, end in PartnerActivePeriod.objects.filter(partner_id__in=missing).values_list(
            "partner_id", "started_at", "ended_at"
        ):
            self._periods[pid].append((start, end))

    def is_active(self, partner_id: int, moment: dt.datetime) -> bool:
        """Whether an active period ``[started_at, ended_at)`` of the partner covers the moment."""
        return any(start <= moment and (end is None or moment < end) for start, end in self._periods[partner_id])

    def booked(self, external_ids: Sequence[str], fields: Sequence[str]) -> list[tuple]:
        """``(external id, *fields)`` of this source's booked rows among the ids: one index probe each.

        On PostgreSQL the ids go as one array parameter (an ``IN`` list of thousands of placeholders
        costs the driver more to build than the server to answer), each looked up on its own: within
        the batch's transaction the table has no statistics yet, and the planner, taking the source
        alone for selective, would otherwise read every row of the source for every chunk.
        """
        if connection.vendor != "postgresql":
            return list(
                Transaction.objects.filter(source=self.source, external_id__in=external_ids).values_list(
                    "external_id", *fields
                )
            )
        columns = ", ".join(f"t.{_column(Transaction, f)}" for f in fields)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT wanted.external_id, found.* FROM unnest(%s::text[]) AS wanted (external_id) "  # noqa: S608
                f"CROSS JOIN LATERAL (SELECT {columns} FROM ledger_transaction t "
                "WHERE t.source = %s AND t.external_id = wanted.external_id LIMIT 1) AS found",
                [list(external_ids), self.source],
            )
            return cursor.fetchall()

    def existing_digests(self, external_ids: Sequence[str]) -> dict[str, Any]:
        return dict(self.booked(external_ids, ["content_hash"]))

    def originals(self, external_ids: Sequence[str]) -> dict[str, Original]:
        """Booked transactions of this source by external id, as reversal targets."""
        found: dict[str, Original] = {}
        if not external_ids:
            return found
        rows = self.booked(
            external_ids,
            [
                "id",
                "kind",
                "occurred_at",
                "product_id",
                "branch_id",
                "sme_id",
                "sme_name",
                "amount",
                "bank_revenue",
                "currency",
            ],
        )
        by_id = {}
        for ext, pk, kind, occurred_at, product_id, branch_id, sme_id, sme_name, amount, revenue, currency in rows:
            by_id[pk] = found[ext] = Original(
                id=pk,
                kind=kind,
                occurred_at=occurred_at,
                product_id=product_id,
                product_code=self._product_codes.get(product_id, ""),
                branch_id=branch_id,
                branch_code=self._branch_codes.get(branch_id, ""),
                sme_id=sme_id,
                sme_name=sme_name,
                amount=amount,
                bank_revenue=revenue,
                currency=currency,
                already_reversed=False,
            )
        if by_id:
            for reversed_id in self._reversed_among(list(by_id)):
                by_id[reversed_id].already_reversed = True
            for txn_id, pid, code, weight, amount, revenue, active in self._attributions_of(list(by_id)):
                by_id[txn_id].attributions.append((pid, code, weight, amount, revenue, active))
        return found

    @staticmethod
    def _reversed_among(transaction_ids: list[int]) -> list[int]:
        """Which of these transactions a booked reversal already reverses (one index probe each on PostgreSQL)."""
        if connection.vendor != "postgresql":
            reversals = Transaction.objects.filter(reverses_id__in=transaction_ids)
            return list(reversals.values_list("reverses_id", flat=True))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT wanted.id FROM unnest(%s::bigint[]) AS wanted (id) WHERE EXISTS "
                "(SELECT 1 FROM ledger_transaction r WHERE r.reverses_id = wanted.id)",
                [transaction_ids],
            )
            return [pk for (pk,) in cursor.fetchall()]

    @staticmethod
    def _attributions_of(transaction_ids: list[int]) -> list[tuple]:
        """``(transaction, partner id, partner code, weight, amount, bank revenue, active)`` in booking order.

        On PostgreSQL one probe of the (transaction, partner) index per transaction, for the
        reason :meth:`booked` gives.
        """
        if connection.vendor != "postgresql":
            return list(
                TransactionAttribution.objects.filter(transaction_id__in=transaction_ids)
                .order_by("transaction_id", "id")
                .values_list(
                    "transaction_id",
                    "partner_id",
                    "partner__credit_code",
                    "weight",
                    "amount",
                    "bank_revenue",
                    "partner_active",
                )
            )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT wanted.id, a.partner_id, p.credit_code, a.weight, a.amount, a.bank_revenue, a.partner_active "
                "FROM unnest(%s::bigint[]) AS wanted (id) CROSS JOIN LATERAL ("
                "SELECT * FROM ledger_transactionattribution WHERE transaction_id = wanted.id OFFSET 0) AS a "
                "JOIN onboarding_partner p ON p.id = a.partner_id ORDER BY wanted.id, a.id",
                [transaction_ids],
            )
            return cursor.fetchall()

    # ---- one chunk -----------------------------------------------------------------------

    def process(self, chunk: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        started = time.perf_counter()
        parsed_rows: list[ParsedRow] = []
        for row, raw in chunk:
            parsed, errors = row_parse(row, raw, latest=self.latest_event_time)
            for err in errors:
                self.error(err)
            if parsed is not None:
                parsed_rows.append(parsed)
        validated = time.perf_counter()
        self.seconds["validate"] += validated - started
        if not parsed_rows:
            return

        existing = self.existing_digests(list({p.external_id for p in parsed_rows}))
        self._load_partners({code for p in parsed_rows if p.shares for code, _ in p.shares})
        self._load_periods(
            {self._partners[code][0] for p in parsed_rows if p.shares for code, _ in p.shares if self._partners[code]}
        )
        originals = self.originals(list({p.reverses for p in parsed_rows if p.is_reversal}))
        looked_up = time.perf_counter()
        self.seconds["look-ups"] += looked_up - validated

        seen: dict[str, Any] = {}  # external id → digest, of this chunk's rows
        pending: dict[str, _Pending] = {}  # external id → not yet inserted
        reversed_here: set[str] = set()  # originals reversed by this chunk (by external id)

        for p in parsed_rows:
            known = seen.get(p.external_id, existing.get(p.external_id))
            if known is not None:
                if known == p.content_hash:
                    self.duplicates += 1
                else:
                    self.error(RowError(p.row, "external_id", "conflict", {"external_id": p.external_id}))
                continue
            if p.is_reversal:
                original = originals.get(p.reverses)
                if original is None and p.reverses in pending:
                    original = self._pending_original(pending[p.reverses])
                item = self._reversal(p, original, reversed_here)
            else:
                item = self._normal(p)
            if item is None:
                continue
            seen[p.external_id] = p.content_hash
            pending[p.external_id] = item
            if p.is_reversal:
                reversed_here.add(p.reverses)
        resolved = time.perf_counter()
        self.seconds["resolve"] += resolved - looked_up
        self._flush(pending)
        self.seconds["write"] += time.perf_counter() - resolved

    def _pending_original(self, item: _Pending) -> Original:
        """An event accepted earlier in this chunk, seen as a reversal's original before it is booked."""
        txn = item.txn
        codes = [code for code, _ in item.parsed.shares]
        return Original(
            id=None,
            kind=txn.kind,
            occurred_at=txn.occurred_at,
            product_id=txn.product_id,
            product_code=self._product_codes.get(txn.product_id, ""),
            branch_id=txn.branch_id,
            branch_code=self._branch_codes.get(txn.branch_id, ""),
            sme_id=txn.sme_id,
            sme_name=txn.sme_name,
            amount=txn.amount,
            bank_revenue=txn.bank_revenue,
            currency=txn.currency,
            already_reversed=False,
            attributions=[
                (a.partner_id, code, a.weight, a.amount, a.bank_revenue, a.partner_active)
                for a, code in zip(item.attributions, codes, strict=True)
            ],
            pending=item,
        )

    def _normal(self, p: ParsedRow) -> _Pending | None:
        errors = []
        partners = []
        for code, weight in p.shares:
            ref = self._partners.get(code)
            if ref is None:
                errors.append(RowError(p.row, "partner", "unknown_partner", {"code": code}))
            else:
                partners.append((ref[0], ref[1], weight))
        product_id = self._products.get(p.product)
        if product_id is None:
            errors.append(RowError(p.row, "product", "unknown_product", {"code": p.product}))
        branch_id = None
        if p.branch is not None:
            branch_id = self._branches.get(p.branch)
            if branch_id is None:
                errors.append(RowError(p.row, "branch", "unknown_branch", {"code": p.branch}))
        for err in errors:
            self.error(err)
        if errors:
            return None
        if branch_id is None:
            branch_id = partners[0][1]  # the first partner named
        if len(partners) == 1:  # nearly every event: the whole of it is the one partner's
            amounts, revenues = [p.amount], [p.bank_revenue]
        else:
            weights = [w for _, _, w in partners]
            amounts = split_exact(p.amount, weights)
            revenues = split_exact(p.bank_revenue, weights)
        actives = [self.is_active(pid, p.occurred_at) for pid, _, _ in partners]
        txn = NewTransaction(
            batch_id=self.batch.pk,
            source_id=self.source,
            external_id=p.external_id,
            kind=NORMAL,
            reverses_id=None,
            sme_id=p.sme_id,
            sme_name=p.sme_name or "",
            product_id=product_id,
            branch_id=branch_id,
            amount=p.amount,
            bank_revenue=p.bank_revenue,
            currency=p.currency,
            occurred_at=p.occurred_at,
            booked_at=self.batch.received_at,
            partner_active=all(actives),
            content_hash=p.content_hash,
        )
        attributions = [
            NewAttribution(
                partner_id=pid,
                product_id=product_id,
                occurred_at=p.occurred_at,
                is_reversal=False,
                weight=weight,
                amount=amount,
                bank_revenue=revenue,
                partner_active=active,
            )
            for (pid, _, weight), amount, revenue, active in zip(partners, amounts, revenues, actives, strict=True)
        ]
        return _Pending(txn, attributions, p)

    def _reversal(self, p: ParsedRow, original: Original | None, reversed_here: set[str]) -> _Pending | None:
        def fail(field_name, error_code, **params):
            self.error(RowError(p.row, field_name, error_code, params))

        if original is None:
            fail("reverses", "unknown_original", external_id=p.reverses)
            return None
        if original.kind != NORMAL:
            fail("reverses", "original_is_reversal", external_id=p.reverses)
            return None
        if original.already_reversed or p.reverses in reversed_here:
            fail("reverses", "already_reversed", external_id=p.reverses)
            return None
        errors_before = self.error_count
        expected = {
            "partner": (canonical_shares(p.shares) if p.shares else None, canonical_shares(original.shares)),
            "sme_id": (p.sme_id, original.sme_id),
            "sme_name": (p.sme_name, original.sme_name or None),
            "product": (p.product, original.product_code),
            "branch": (p.branch, original.branch_code),
            "amount": (p.amount, -original.amount + 0),
            "bank_revenue": (p.bank_revenue, -original.bank_revenue + 0),
            "currency": (p.currency, original.currency),
        }
        for field_name, (given, mirror) in expected.items():
            if given is not None and given != mirror:
                fail(field_name, "mirror_mismatch", expected=mirror if mirror is not None else "—")
        if p.occurred_at < original.occurred_at:
            fail("occurred_at", "reversal_before_original", occurred_at=original.occurred_at.isoformat())
        if self.error_count != errors_before:
            return None
        txn = NewTransaction(
            batch_id=self.batch.pk,
            source_id=self.source,
            external_id=p.external_id,
            kind=REVERSAL,
            reverses_id=original.id,
            sme_id=original.sme_id,
            sme_name=original.sme_name,
            product_id=original.product_id,
            branch_id=original.branch_id,
            amount=-original.amount + 0,
            bank_revenue=-original.bank_revenue + 0,
            currency=original.currency,
            occurred_at=p.occurred_at,
            booked_at=self.batch.received_at,
            partner_active=all(a[5] for a in original.attributions),
            content_hash=p.content_hash,
        )
        attributions = [
            NewAttribution(
                partner_id=pid,
                product_id=original.product_id,
                occurred_at=p.occurred_at,
                is_reversal=True,
                weight=weight,
                amount=-amount + 0,
                bank_revenue=-revenue + 0,
                # A reversal mirrors its original: it claws back only what earned a share.
                partner_active=active,
            )
            for pid, _, weight, amount, revenue, active in original.attributions
        ]
        return _Pending(txn, attributions, p, reverses=original.pending)

    def _flush(self, pending: dict[str, _Pending]) -> None:
        if not pending:
            return
        items = list(pending.values())
        self.insert(items)
        self.created += len(items)
        pending.clear()

    def insert(self, items: list[_Pending]) -> None:
        """Book a chunk: events, then reversals of events of the same chunk (whose ids are then known).

        All attributions of the chunk go in one statement (the database checks each
        transaction's attributions as a set).
        """
        if connection.vendor == "postgresql":
            self._copy(items)
            return
        first = [i for i in items if i.reverses is None]
        then = [i for i in items if i.reverses is not None]
        self._create(first)
        for item in then:
            item.txn.reverses_id = item.reverses.txn.id
        self._create(then)
        TransactionAttribution.objects.bulk_create(
            TransactionAttribution(transaction_id=item.txn.id, **{f: getattr(a, f) for f in ATTRIBUTION_FIELDS})
            for item in items
            for a in item.attributions
        )

    @staticmethod
    def _create(items: list[_Pending]) -> None:
        if not items:
            return
        models = Transaction.objects.bulk_create(
            Transaction(**{f: getattr(i.txn, f) for f in TRANSACTION_FIELDS}) for i in items
        )
        for item, model in zip(items, models, strict=True):
            item.txn.id = model.pk

    @staticmethod
    def _copy(items: list[_Pending]) -> None:
        """PostgreSQL: ids drawn from the sequence first, then one ``COPY`` per table through the row writer.

        ``write_row`` sends typed values in COPY's own encoding, so no text the sender
        wrote (a ``\\.`` line, a carriage return, a tab) can end or split a row.
        """
        transactions, attributions = Transaction._meta.db_table, TransactionAttribution._meta.db_table
        txn_columns = [_column(Transaction, f) for f in ("id", *TRANSACTION_FIELDS)]
        attribution_columns = [_column(TransactionAttribution, f) for f in ("transaction_id", *ATTRIBUTION_FIELDS)]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [transactions, len(items)],
            )
            for item, (pk,) in zip(items, cursor.fetchall(), strict=True):
                item.txn.id = pk
            for item in items:
                if item.reverses is not None:
                    item.txn.reverses_id = item.reverses.txn.id
            with cursor.copy(f"COPY {transactions} ({', '.join(txn_columns)}) FROM STDIN") as copy:
                for item in items:
                    copy.write_row((item.txn.id, *transaction_values(item.txn)))
            with cursor.copy(f"COPY {attributions} ({', '.join(attribution_columns)}) FROM STDIN") as copy:
                for item in items:
                    for a in item.attributions:
                        copy.write_row((item.txn.id, *attribution_values(a)))


def _column(model, attname: str) -> str:
    """The database column of a model field given by its attribute name (``source_id`` → ``source``)."""
    return next(f.column for f in model._meta.concrete_fields if f.attname == attname)
