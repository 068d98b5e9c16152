"""The payment system's result file for a batch: each transfer paid (with the bank's reference) or failed.

The file is a CSV with a header: ``end_to_end_id``, ``status``,
``bank_reference``, ``date`` and optionally ``reason`` (or the Chinese headers
of the batch's own CSV: 端到端标识, 状态, 银行流水号, 日期, 失败原因). Status
is ``paid`` / ``ACSC`` / ``成功`` or ``failed`` / ``RJCT`` / ``失败``; the date
is ``YYYY-MM-DD``.

Invariants:

* one transaction: a file with any unreadable line (unknown status, bad date,
  a paid line without its reference) changes nothing, and the error names the
  line; so does a line the settlement service refuses;
* a paid line marks its settlement paid through the settlement service
  (``settlement_mark_paid``, the one implementation) with the bank's
  reference; a failed line records the reason, and its settlement may go into
  a later batch;
* nothing is applied twice: a line whose result is already recorded is
  counted as already applied (importing the same file again changes
  nothing); a line that contradicts a recorded result is reported, not
  applied; unmatched end-to-end ids and repeated lines are reported.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin import error_text
from core.errors import ApplicationError
from core.periods import CHINA_TZ
from organisation.models import User
from revenue.payments.choices import BatchState, ItemState, ResultStatus
from revenue.payments.errors import BadResultFile, InvalidState, NotPermitted
from revenue.payments.models import PaymentBatch, PaymentBatchItem, PaymentResultImport
from revenue.settlement.services import settlement_mark_paid

MAX_RESULT_FILE_BYTES = 5 * 1024 * 1024
HEADER_ALIASES = {
    "end_to_end_id": "end_to_end_id",
    "endtoendid": "end_to_end_id",
    "端到端标识": "end_to_end_id",
    "status": "status",
    "状态": "status",
    "bank_reference": "bank_reference",
    "reference": "bank_reference",
    "银行流水号": "bank_reference",
    "date": "date",
    "日期": "date",
    "reason": "reason",
    "失败原因": "reason",
}
REQUIRED = ("end_to_end_id", "status", "bank_reference", "date")
STATUSES = {
    "paid": ResultStatus.PAID,
    "acsc": ResultStatus.PAID,
    "成功": ResultStatus.PAID,
    "failed": ResultStatus.FAILED,
    "rjct": ResultStatus.FAILED,
    "失败": ResultStatus.FAILED,
}


@dataclass(frozen=True)
class ResultLine:
    line: int
    end_to_end_id: str
    status: str
    bank_reference: str
    date: dt.date
    reason: str


@dataclass
class ImportReport:
    paid: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    already_applied: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {k: v for k, v in self.__dict__.items()}


def result_file_parse(content: bytes) -> list[ResultLine]:
    """The file's lines; ``BadResultFile`` (every error, by line number) if any cannot be read."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadResultFile(_("The result file is not UTF-8 text (CSV).")) from exc
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        raise BadResultFile(_("The result file is empty."))
    header = [HEADER_ALIASES.get(h.strip().lower().replace(" ", "_"), "") for h in rows[0]]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise BadResultFile(
            _("The result file's header lacks: %(columns)s (expected end_to_end_id, status, bank_reference, date).")
            % {"columns": ", ".join(missing)}
        )
    lines, errors = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header) if name}
        status = STATUSES.get(values["status"].lower())
        problems = []
        if not values["end_to_end_id"]:
            problems.append(gettext("no end-to-end id"))
        if status is None:
            problems.append(gettext("unknown status “%(status)s” (paid or failed)") % {"status": values["status"]})
        try:
            date = dt.date.fromisoformat(values["date"])
        except ValueError:
            date = None
            problems.append(gettext("date “%(date)s” is not YYYY-MM-DD") % {"date": values["date"]})
        if status == ResultStatus.PAID and not values["bank_reference"]:
            problems.append(gettext("a paid line needs the bank reference"))
        if len(values["bank_reference"]) > 64:
            problems.append(gettext("the bank reference is longer than 64 characters"))
        if problems:
            errors.append(gettext("line %(line)d: %(problems)s") % {"line": number, "problems": "; ".join(problems)})
            continue
        lines.append(
            ResultLine(
                line=number,
                end_to_end_id=values["end_to_end_id"],
                status=status,
                bank_reference=values["bank_reference"],
                date=date,
                reason=values.get("reason", "")[:255],
            )
        )
    if errors:
        raise BadResultFile(
            _("The result file was not imported, nothing was changed: %(errors)s") % {"errors": " | ".join(errors)},
            extra={"errors": errors},
        )
    return lines


def _paid_at(date: dt.date) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(0, 0), tzinfo=CHINA_TZ)


def _apply_line(item: PaymentBatchItem, line: ResultLine, *, by: User, report: ImportReport, record) -> None:
    label = f"{line.end_to_end_id} (line {line.line})"
    if item.state == ItemState.PENDING:
        if line.status == ResultStatus.PAID:
            try:
                settlement_mark_paid(
                    settlement=item.settlement,
                    by=by,
                    payment_reference=line.bank_reference,
                    paid_at=_paid_at(line.date),
                )
            except (ApplicationError, ValidationError) as exc:
                raise BadResultFile(
                    _("Line %(line)d (%(id)s) could not be applied, nothing was changed: %(error)s")
                    % {"line": line.line, "id": line.end_to_end_id, "error": error_text(exc)}
                ) from exc
            item.state, item.bank_reference = ItemState.PAID, line.bank_reference
            report.paid.append(label)
        else:
            item.state = ItemState.FAILED
            item.bank_reference = line.bank_reference
            item.failure_reason = line.reason or gettext("No reason given by the payment system.")
            report.failed.append(label)
        item.result_date, item.result_import = line.date, record
        item.save(update_fields=["state", "bank_reference", "failure_reason", "result_date", "result_import"])
        return
    same = (
        item.state == ItemState.PAID and line.status == ResultStatus.PAID and item.bank_reference == line.bank_reference
    ) or (item.state == ItemState.FAILED and line.status == ResultStatus.FAILED)
    if same:
        report.already_applied.append(label)
    else:
        report.conflicts.append(
            gettext("%(label)s says %(status)s but the transfer is already %(state)s")
            % {"label": label, "status": line.status, "state": item.get_state_display()}
        )


def payment_result_import(*, batch: PaymentBatch, by: User, file: File) -> PaymentResultImport:
    """Apply a result file to an approved batch, in one transaction; the import and its report are recorded."""
    if not (by and by.is_active and by.has_perm("payments.import_payment_result")):
        raise NotPermitted(_("Only finance imports payment results."))
    if file.size > MAX_RESULT_FILE_BYTES:
        raise BadResultFile(_("The result file is larger than 5 MB."))
    file.seek(0)
    content = file.read()
    lines = result_file_parse(content)
    with transaction.atomic():
        current = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
        if current.state not in (BatchState.APPROVED, BatchState.COMPLETED):
            raise InvalidState(
                _("Results are imported for an approved batch; this one is %(state)s.")
                % {"state": current.get_state_display()}
            )
        items = {
            item.end_to_end_id: item
            for item in current.items.select_for_update(of=("self",)).select_related("settlement")
        }
        record = PaymentResultImport.objects.create(
            batch=current,
            file_name=(getattr(file, "name", "") or "")[:255],
            file_sha256=hashlib.sha256(content).hexdigest(),
            imported_by=by,
            imported_at=timezone.now(),
            lines=len(lines),
            paid=0,
            failed=0,
            already_applied=0,
        )
        report, seen = ImportReport(), set()
        for line in lines:
            if line.end_to_end_id in seen:
                report.duplicates.append(f"{line.end_to_end_id} (line {line.line})")
                continue
            seen.add(line.end_to_end_id)
            item = items.get(line.end_to_end_id)
            if item is None:
                report.unmatched.append(f"{line.end_to_end_id} (line {line.line})")
                continue
            _apply_line(item, line, by=by, report=report, record=record)
        record.paid, record.failed, record.already_applied = (
            len(report.paid),
            len(report.failed),
            len(report.already_applied),
        )
        record.report = report.as_dict()
        record.save(update_fields=["paid", "failed", "already_applied", "report"])
        if current.state == BatchState.APPROVED and not any(i.state == ItemState.PENDING for i in items.values()):
            current.complete(by=by, description=f"{record.file_name} ({record.file_sha256[:12]})")
            current.save()
    return record
