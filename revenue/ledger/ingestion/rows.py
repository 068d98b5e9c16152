"""One transaction row as source systems send it: its columns, how each is read, and its content digest.

Pure: no ORM. Every way in (REST, admin import, the large-file command)
hands the ingestion service rows of text keyed by :data:`COLUMNS`; this module
reads one such row into a :class:`ParsedRow` or the list of what is wrong with
it. There is no other reader: every database books what this module read,
and every error message comes from here.

Columns
    ``external_id``   the source's id of the event (unique per source), ≤ 64 characters
    ``kind``          ``normal`` (default) or ``reversal``
    ``reverses``      for a reversal, the external id (same source) of the event it reverses
    ``partner``       the partner's unified social credit code, or for a co-served event
                      ``code:weight;code:weight`` with weights (≤ 6 decimals) adding up to 1
    ``sme_id``        the end customer's id at the source, ``sme_name`` its name
    ``product``       the product code; ``branch`` a branch code (default: the first partner's branch)
    ``amount``        the transaction amount, ``bank_revenue`` the bank's revenue from it, both
                      with at most 13 digits and two decimals, not negative for a normal event
    ``currency``      ``CNY`` (the default and, for now, the only currency accepted)
    ``occurred_at``   ISO 8601, e.g. ``2026-10-08T14:30:00+08:00``; without an offset Beijing time;
                      at most ``TRANSACTION_MAX_DAYS_AHEAD`` days after the batch is read

    A reversal needs only ``external_id``, ``kind``, ``reverses`` and
    ``occurred_at``: it mirrors what it reverses (same partners, product,
    customer and branch, negated amounts). Fields it does carry must match that mirror.

Content digest
    The MD5 of the normalised submitted content (codes trimmed, partners
    sorted with six-decimal weights, amounts with two decimals, the time in
    microseconds since the epoch), joined by the unit separator. The same
    event sent again in another format (JSON number or CSV text, another
    offset) has the same digest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sys
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.money import CENT, MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from core.periods import CHINA_TZ
from revenue.ledger.choices import LEDGER_CURRENCY, SUPPORTED_CURRENCIES, TransactionKind

COLUMNS = (
    "external_id",
    "kind",
    "reverses",
    "partner",
    "sme_id",
    "sme_name",
    "product",
    "branch",
    "amount",
    "bank_revenue",
    "currency",
    "occurred_at",
)
# A file must name at least these columns; the others may be left out.
REQUIRED_COLUMNS = ("external_id", "occurred_at")

MAX_LENGTH = {
    "external_id": 64,
    "reverses": 64,
    "sme_id": 64,
    "sme_name": 128,
    "product": 32,
    "branch": 16,
    "partner": 1000,
}
# The key under which a reader hands over a line it could not split into fields, with the reason.
MALFORMED = "\x00malformed"
WEIGHT_QUANTUM = Decimal("0.000001")
SEPARATOR = "\x1f"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)
ONE = Decimal(1)
# Plain strings, read once: the enum's members and ``values`` cost an attribute lookup and a list per row.
NORMAL, REVERSAL = TransactionKind.NORMAL.value, TransactionKind.REVERSAL.value
KINDS = frozenset(TransactionKind.values)

# Control characters (line breaks, tabs, NUL) and invisible format characters (zero-width spaces,
# bidirectional overrides, the BOM): no code, id or name carries them, and they make ids that look
# alike differ, or text that reads one way display another.
_HIDDEN = "".join(re.escape(chr(c)) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in ("Cc", "Cf"))
HIDDEN_CHARACTER_RE = re.compile(f"[{_HIDDEN}]")

# [0-9], never \d: \d also matches other scripts' digits. At most the yuan digits both databases hold exactly.
YUAN_DIGITS = MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES
AMOUNT_RE = re.compile(rf"^[0-9]{{1,{YUAN_DIGITS}}}(\.[0-9]{{1,{MONEY_DECIMAL_PLACES}}})?$")
SIGNED_AMOUNT_RE = re.compile(rf"^-?[0-9]{{1,{YUAN_DIGITS}}}(\.[0-9]{{1,{MONEY_DECIMAL_PLACES}}})?$")
WEIGHT_RE = re.compile(r"^[0-9](\.[0-9]{1,6})?$")
TIMESTAMP_RE = re.compile(
    r"^(2[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]"
    r"(:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)?$"
)

MESSAGES = {
    "missing_column": _("The file has no column %(column)s."),
    "unknown_column": _("Unknown column %(column)s; the columns are: %(columns)s."),
    "malformed": _("The file cannot be read here: %(detail)s"),
    "too_many_rows": _("At most %(max)d transactions per request."),
    "unknown_field": _("Unknown field; the fields are: %(columns)s."),
    "required": _("This field is required."),
    "too_long": _("At most %(max)d characters."),
    "invalid_text": _("Contains a control or invisible character (a line break, tab, zero-width space or the like)."),
    "invalid_value": _("Must be text or a number, not a list, an object or true/false."),
    "invalid_kind": _("Kind must be normal or reversal."),
    "not_allowed": _("Must be empty for a normal transaction."),
    "invalid_amount": _(
        "Not an amount: use at most %(digits)d digits before the point and two after it, e.g. 1234.50."
    ),
    "negative_amount": _("Must not be negative for a normal transaction."),
    "invalid_timestamp": _("Not a date and time between 2000 and 2999: use ISO 8601, e.g. 2026-10-08T14:30:00+08:00."),
    "in_the_future": _("Lies more than %(days)d day(s) in the future (after %(latest)s)."),
    "invalid_currency": _("Only %(currencies)s is accepted."),
    "invalid_partner_list": _("Write one partner code, or code:weight pairs separated by ';'."),
    "invalid_weight": _("Weight %(weight)s is not a number with at most six decimals, more than 0 and at most 1."),
    "weights_sum": _("The weights add up to %(sum)s, not to exactly 1."),
    "duplicate_partner": _("Partner %(code)s is named twice."),
    "unknown_partner": _("Unknown partner %(code)s."),
    "unknown_product": _("Unknown product %(code)s."),
    "unknown_branch": _("Unknown branch %(code)s."),
    "conflict": _("External id %(external_id)s was already received with different content."),
    "unknown_original": _("Reverses %(external_id)s, which is neither booked nor earlier in this batch."),
    "original_is_reversal": _("Reverses %(external_id)s, which is itself a reversal."),
    "already_reversed": _("%(external_id)s is already reversed."),
    "mirror_mismatch": _("A reversal mirrors what it reverses: expected %(expected)s."),
    "reversal_before_original": _("A reversal cannot happen before the event it reverses (%(occurred_at)s)."),
}


@dataclass(frozen=True)
class RowError:
    """What is wrong with one row: its number (the file line, or the position in a request), field and reason."""

    row: int
    field: str
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return str(MESSAGES[self.code]) % dict(self.params) if self.params else str(MESSAGES[self.code])

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "code": self.code, "message": self.message}

    def __str__(self) -> str:
        where = f"{self.row} {self.field}" if self.field else f"{self.row}"
        return f"{where}: {self.message}"


@dataclass
class ParsedRow:
    """A row that is well-formed on its own (references not yet checked)."""

    row: int
    external_id: str
    kind: str
    reverses: str | None
    shares: tuple[tuple[str, Decimal], ...] | None  # (partner code, weight) in the order given
    sme_id: str | None
    sme_name: str | None
    product: str | None
    branch: str | None
    amount: Decimal | None
    bank_revenue: Decimal | None
    currency: str
    occurred_at: dt.datetime
    content_hash: uuid.UUID

    @property
    def is_reversal(self) -> bool:
        return self.kind == REVERSAL


def _text(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value).strip(" ")
    return value or None


def parse_amount(text: str, *, signed: bool) -> Decimal | None:
    pattern = SIGNED_AMOUNT_RE if signed else AMOUNT_RE
    if not pattern.match(text):
        return None
    # Adding zero turns -0 into 0, as PostgreSQL's numeric does.
    return (Decimal(text) + 0).quantize(CENT)


def parse_timestamp(text: str) -> dt.datetime | None:
    if not TIMESTAMP_RE.match(text):
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)
    return moment


def parse_shares(text: str) -> tuple[tuple[tuple[str, Decimal], ...] | None, list[tuple[str, dict]]]:
    """``CODE`` or ``CODE:W;CODE:W`` into ((code, weight), …) and the problems found."""
    parts = [p.strip(" ") for p in text.split(";")]
    if any(not p for p in parts):
        return None, [("invalid_partner_list", {})]
    if len(parts) == 1 and ":" not in parts[0]:
        return ((parts[0].upper(), ONE),), []
    shares, problems = [], []
    for part in parts:
        code, sep, weight_text = part.partition(":")
        code, weight_text = code.strip(" ").upper(), weight_text.strip(" ")
        if not sep or not code:
            return None, [("invalid_partner_list", {})]
        weight = Decimal(weight_text) if WEIGHT_RE.match(weight_text) else None
        if weight is None or not (0 < weight <= ONE):
            problems.append(("invalid_weight", {"weight": weight_text}))
            continue
        shares.append((code, weight.quantize(WEIGHT_QUANTUM)))
    if problems:
        return None, problems
    codes = [c for c, _ in shares]
    for code in sorted({c for c in codes if codes.count(c) > 1}):
        problems.append(("duplicate_partner", {"code": code}))
    total = sum((w for _, w in shares), Decimal(0))
    if total != ONE:
        problems.append(("weights_sum", {"sum": total.normalize()}))
    return (tuple(shares), problems) if not problems else (None, problems)


def canonical_shares(shares: tuple[tuple[str, Decimal], ...] | None) -> str:
    if not shares:
        return ""
    return ";".join(f"{code}:{weight.quantize(WEIGHT_QUANTUM)}" for code, weight in sorted(shares))


def microseconds(moment: dt.datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def content_digest(
    *,
    kind: str,
    reverses: str | None,
    shares,
    sme_id: str | None,
    sme_name: str | None,
    product: str | None,
    branch: str | None,
    amount: Decimal | None,
    bank_revenue: Decimal | None,
    currency: str,
    occurred_at: dt.datetime,
) -> uuid.UUID:
    fields = [
        kind,
        reverses or "",
        canonical_shares(shares),
        sme_id or "",
        sme_name or "",
        product or "",
        branch or "",
        "" if amount is None else str(amount),
        "" if bank_revenue is None else str(bank_revenue),
        currency,
        str(microseconds(occurred_at)),
    ]
    return uuid.UUID(bytes=hashlib.md5(SEPARATOR.join(fields).encode(), usedforsecurity=False).digest())


def latest_event_time(now: dt.datetime | None = None) -> dt.datetime:
    """The latest time an event may carry: now plus the allowed clock skew between systems."""
    return (now or timezone.now()) + dt.timedelta(days=settings.TRANSACTION_MAX_DAYS_AHEAD)


def row_parse(row: int, raw: Mapping[str, Any], *, latest: dt.datetime) -> tuple[ParsedRow | None, list[RowError]]:
    """Read one row; the row, or ``None`` and every problem found in it. Events after ``latest`` are refused."""
    errors: list[RowError] = []

    def fail(field_name: str, error_code: str, **params) -> None:
        errors.append(RowError(row, field_name, error_code, params))

    if MALFORMED in raw:
        return None, [RowError(row, "", "malformed", {"detail": raw[MALFORMED]})]
    for key in unknown_fields(raw):
        fail(key, "unknown_field", columns=", ".join(COLUMNS))
    # Control and format characters are unprintable: a row whose text is all printable (nearly every
    # row) has none, and one C-level pass over it says so. Any other row is searched column by column.
    suspect = not " ".join(map(str, raw.values())).isprintable()
    values: dict[str, str | None] = {}
    for column in COLUMNS:
        given = raw.get(column)
        if isinstance(given, (bool, list, dict)):  # a JSON body's non-scalar values
            fail(column, "invalid_value")
            values[column] = None
            continue
        value = _text(given)
        if value is not None and suspect and HIDDEN_CHARACTER_RE.search(value):
            fail(column, "invalid_text")
            value = None
        elif value is not None and column in MAX_LENGTH and len(value) > MAX_LENGTH[column]:
            fail(column, "too_long", max=MAX_LENGTH[column])
            value = None
        values[column] = value

    external_id = values["external_id"]
    if external_id is None and not any(e.field == "external_id" for e in errors):
        fail("external_id", "required")

    kind = values["kind"] or NORMAL
    if kind not in KINDS:
        fail("kind", "invalid_kind")
        kind = None
    reversal = kind == REVERSAL

    reverses = values["reverses"]
    if kind == NORMAL and reverses is not None:
        fail("reverses", "not_allowed")
    if reversal and reverses is None and not any(e.field == "reverses" for e in errors):
        fail("reverses", "required")

    shares = None
    if values["partner"] is not None:
        shares, problems = parse_shares(values["partner"])
        for code, params in problems:
            fail("partner", code, **params)
    elif not reversal and not any(e.field == "partner" for e in errors):
        fail("partner", "required")

    for column in ("sme_id", "product"):
        if values[column] is None and not reversal and not any(e.field == column for e in errors):
            fail(column, "required")

    amounts: dict[str, Decimal | None] = {}
    for column in ("amount", "bank_revenue"):
        text = values[column]
        amounts[column] = None
        if text is None:
            if not reversal and not any(e.field == column for e in errors):
                fail(column, "required")
            continue
        value = parse_amount(text, signed=True)
        if value is None:
            fail(column, "invalid_amount", digits=YUAN_DIGITS)
        elif value < 0 and not reversal:
            fail(column, "negative_amount")
        else:
            amounts[column] = value

    currency = values["currency"] or LEDGER_CURRENCY
    if currency not in SUPPORTED_CURRENCIES:
        fail("currency", "invalid_currency", currencies=", ".join(SUPPORTED_CURRENCIES))

    occurred_at = None
    if values["occurred_at"] is None:
        if not any(e.field == "occurred_at" for e in errors):
            fail("occurred_at", "required")
    else:
        occurred_at = parse_timestamp(values["occurred_at"])
        if occurred_at is None:
            fail("occurred_at", "invalid_timestamp")
        elif occurred_at > latest:
            fail("occurred_at", "in_the_future", days=settings.TRANSACTION_MAX_DAYS_AHEAD, latest=latest_text(latest))
            occurred_at = None

    if errors:
        return None, errors
    digest = content_digest(
        kind=kind,
        reverses=reverses,
        shares=shares,
        sme_id=values["sme_id"],
        sme_name=values["sme_name"],
        product=values["product"],
        branch=values["branch"],
        amount=amounts["amount"],
        bank_revenue=amounts["bank_revenue"],
        currency=currency,
        occurred_at=occurred_at,
    )
    return (
        ParsedRow(
            row=row,
            external_id=external_id,
            kind=kind,
            reverses=reverses,
            shares=shares,
            sme_id=values["sme_id"],
            sme_name=values["sme_name"],
            product=values["product"],
            branch=values["branch"],
            amount=amounts["amount"],
            bank_revenue=amounts["bank_revenue"],
            currency=currency,
            occurred_at=occurred_at,
            content_hash=digest,
        ),
        [],
    )


def latest_text(moment: dt.datetime) -> str:
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def unknown_fields(raw: Mapping[str, Any]) -> list[str]:
    return [str(key) for key in raw if key not in _COLUMN_SET]


_COLUMN_SET = frozenset(COLUMNS)


def as_text(value: Any) -> str | None:
    """A JSON or spreadsheet value as the text a CSV would have carried."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
