"""Issuing statements: rendered once from the frozen settlement, stored immutably, regenerated identically.

Invariants
    * One statement per settlement (a one-to-one key), issued only once the
      settlement is final (closed, approved or paid), never changed or deleted.
    * The stored canonical data, the verification code (its keyed digest) and
      the PDF's SHA-256 belong together: rendering the stored data gives bytes
      whose SHA-256 is the stored one (the PDF toolkit is deterministic).
    * A PDF served is always one whose SHA-256 matches: a missing or altered
      file is regenerated from the stored data and checked before it is
      served or written back.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.pdf import normalize_code
from organisation.models import User
from revenue.settlement.models import Settlement
from revenue.statements.choices import EventKind
from revenue.statements.documents import (
    LAYOUT_VERSION,
    StatementData,
    statement_code,
    statement_pdf_render,
    stored_code_matches,
)
from revenue.statements.errors import StatementIntegrityError, StatementNotAvailable
from revenue.statements.models import PartnerEvent, Statement
from revenue.statements.selectors import (
    issuer_annotation,
    issuer_of_row,
    settlement_has_statement,
    settlement_is_final,
    settlement_lines_by_settlement,
    statement_data,
    statement_data_of,
)
from revenue.statements.services.events import partner_events_record

logger = logging.getLogger(__name__)


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _file_name(number: str, period: str, sha: str) -> str:
    return f"statements/{period}/{number}-{sha[:16]}.pdf"


def _stored_bytes(name: str) -> bytes | None:
    if not name or not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def _write_file(name: str, content: bytes, sha: str) -> str:
    """Store the PDF under ``name`` (or reuse an identical file there); the name actually used."""
    existing = _stored_bytes(name)
    if existing is not None and _sha256(existing) == sha:
        return name
    return default_storage.save(name, ContentFile(content))


@dataclass(frozen=True)
class RenderedStatement:
    data: StatementData
    code: str
    pdf: bytes
    sha256: str


def statement_render(*, settlement: Settlement) -> RenderedStatement:
    """Read the settlement's statement data and render it (no writes)."""
    return _render(statement_data(settlement=settlement))


def _render(data: StatementData) -> RenderedStatement:
    code = statement_code(data)
    pdf = statement_pdf_render(data, code=code)
    return RenderedStatement(data=data, code=code, pdf=pdf, sha256=_sha256(pdf))


def statement_generate(*, settlement: Settlement, by: User | None = None) -> Statement:
    """The settlement's statement, issued now if it has none yet (idempotent; safe to run twice at once).

    Refuses a draft settlement. Issuing records a ``statement.ready`` event for the partner (e-mail and
    webhooks once committed). See :func:`statements_issue` for several settlements at once.
    """
    found = _settlements_to_issue([settlement.pk])
    if not found:
        raise Settlement.DoesNotExist(f"no settlement {settlement.pk}")
    (settlement,) = found
    if settlement_has_statement(settlement):
        return settlement.statement
    if not settlement_is_final(settlement):
        raise StatementNotAvailable(
            _("The settlement of %(period)s is still a draft: its statement is issued when the period closes.")
            % {"period": settlement.period}
        )
    (statement,) = _issue([settlement], by=by)
    return statement


def statements_issue(*, settlement_ids: list[int], by: User | None = None) -> list[Statement]:
    """The statements of the final settlements among ``settlement_ids``, issuing those not issued yet.

    The same issue as :func:`statement_generate`, in a handful of round trips for the whole list: one read
    of the settlements (and the bank's profile), one of their lines, one insert of the statements and one of
    their events. Drafts and unknown ids are skipped.
    """
    issued, to_issue = [], []
    for settlement in _settlements_to_issue(settlement_ids):
        if settlement_has_statement(settlement):
            issued.append(settlement.statement)
        elif settlement_is_final(settlement):
            to_issue.append(settlement)
    return issued + _issue(to_issue, by=by)


def _settlements_to_issue(settlement_ids: list[int]) -> list[Settlement]:
    # One read: each statement if issued, else everything it prints but the lines (the bank's profile too).
    return list(
        Settlement.objects.select_related("statement", "period", "partner__branch")
        .annotate(issuer_row=issuer_annotation())
        .filter(pk__in=settlement_ids)
        .order_by("pk")
    )


def _issue(settlements: list[Settlement], *, by: User | None) -> list[Statement]:
    """Render, store and record the statements of final settlements without one.

    Rendering and files happen outside the transaction; two concurrent issues render the same bytes under
    the same file name, and the one-to-one key lets one row in: the loser returns the winner's rows.
    """
    if not settlements:
        return []
    lines = settlement_lines_by_settlement(settlement_ids=[settlement.pk for settlement in settlements])
    issuer = issuer_of_row(settlements[0].issuer_row)
    issued_at = timezone.now()
    statements, events = [], []
    for settlement in settlements:
        rendered = _render(statement_data_of(settlement, issuer=issuer, lines=lines[settlement.pk]))
        name = _write_file(
            _file_name(rendered.data.number, rendered.data.period, rendered.sha256), rendered.pdf, rendered.sha256
        )
        statement = Statement(
            settlement=settlement,
            number=rendered.data.number,
            code=rendered.code,
            layout=rendered.data.layout,
            data=rendered.data.canonical().decode(),
            sha256=rendered.sha256,
            size=len(rendered.pdf),
            pdf=name,
            period_label=rendered.data.period,
            generated_at=issued_at,
            generated_by=by,
        )
        statements.append(statement)
        events.append(_statement_ready_event(statement, rendered.data))
    try:
        with transaction.atomic():
            Statement.objects.bulk_create(statements)
            partner_events_record(events)
    except IntegrityError:
        # One of them was issued concurrently (the whole insert is undone): one by one, keeping the rows in.
        statements = [_insert_one(statement, event) for statement, event in zip(statements, events, strict=True)]
    else:
        for statement in statements:
            logger.info("statement %s issued (%s bytes)", statement.number, statement.size)
    return statements


def _insert_one(statement: Statement, event: PartnerEvent) -> Statement:
    try:
        with transaction.atomic():
            statement.save(force_insert=True)
            partner_events_record([event])
    except IntegrityError:
        # Issued concurrently: the other row holds identical content under the same file name.
        return Statement.objects.get(settlement_id=statement.settlement_id)
    logger.info("statement %s issued (%s bytes)", statement.number, statement.size)
    return statement


def _statement_ready_event(statement: Statement, data: StatementData) -> PartnerEvent:
    settlement = statement.settlement
    return PartnerEvent(
        partner_id=settlement.partner_id,
        kind=EventKind.STATEMENT_READY,
        key=f"statement.ready:{settlement.pk}",
        settlement=settlement,
        payload={
            "settlement_id": settlement.pk,
            "statement_number": statement.number,
            "period": data.period,
            "state": data.state,
            "payable": str(data.payable),
            "net": str(data.net),
            "vat": str(data.vat),
            "currency": "CNY",
            "verification_code": statement.code,
            "sha256": statement.sha256,
        },
    )


def statement_get_or_generate(*, settlement: Settlement, by: User | None = None) -> Statement:
    """For downloads: the issued statement, or issue it now (a close whose task has not run yet)."""
    return statement_generate(settlement=settlement, by=by)


def statement_stored_data(statement: Statement) -> StatementData:
    return StatementData.from_json(statement.data)


def statement_regenerate(*, statement: Statement) -> bytes:
    """Render the stored data again: byte for byte the issued PDF (checked against the stored SHA-256).

    Only the current layout is rendered: a statement issued with an earlier one lives in its stored file.
    """
    if statement.layout != LAYOUT_VERSION:
        raise StatementIntegrityError(
            _("Statement %(number)s was issued with an earlier layout: only its stored file can be served.")
            % {"number": statement.number}
        )
    data = statement_stored_data(statement)
    pdf = statement_pdf_render(data, code=statement.code)
    if _sha256(pdf) != statement.sha256:
        raise StatementIntegrityError(
            _("Statement %(number)s cannot be regenerated identically; its stored data or layout changed.")
            % {"number": statement.number}
        )
    return pdf


def statement_pdf(*, statement: Statement) -> bytes:
    """The statement's PDF bytes, checked against the stored SHA-256; a lost or altered file is restored."""
    content = _stored_bytes(statement.pdf.name)
    if content is not None and _sha256(content) == statement.sha256:
        return content
    logger.warning("statement %s: stored file %s missing or altered; regenerating", statement.number, statement.pdf)
    content = statement_regenerate(statement=statement)
    name = _write_file(
        _file_name(statement.number, statement.period_label, statement.sha256), content, statement.sha256
    )
    if name != statement.pdf.name:
        Statement.objects.filter(pk=statement.pk).update(pdf=name)
        statement.pdf.name = name
    return content


@dataclass(frozen=True)
class VerifiedStatement:
    """All the public verification page says about a statement: whose, which period, what total."""

    partner_name: str
    period: str
    payable: Decimal
    currency: str = "CNY"


def statement_verify(*, code: str) -> VerifiedStatement | None:
    """The statement printed with ``code``, or None (unknown code, or stored data that no longer digests to it)."""
    wanted = normalize_code(code or "")
    if wanted is None:
        return None
    statement = Statement.objects.filter(code=wanted).first()
    if statement is None:
        return None
    # The code is re-derived from the stored data: a row altered in the database no longer verifies. The data
    # is read as stored, not through StatementData, so statements of an earlier layout verify too.
    if not stored_code_matches(statement.data, wanted):
        logger.warning("statement %s: stored data does not match its verification code", statement.number)
        return None
    stored = json.loads(statement.data)
    return VerifiedStatement(
        partner_name=stored["partner_name"], period=stored["period"], payable=Decimal(stored["payable"])
    )
