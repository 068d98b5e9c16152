"""Payment batches: created by one finance user, approved by another, files written once and never changed.

Invariants:

* a batch holds only settlements that are approved, have something payable
  and an accepted invoice, and whose partner has a settlement account;
* a settlement is in at most one live batch line (awaiting a result or paid;
  a database constraint), so it cannot be paid twice through two batches;
* the batch's pain.001.001.09 XML and its CSV are rendered when it is created,
  stored privately with their SHA-256, and served only after the digest is
  checked again: the approver approves exactly the bytes that leave the bank
  (which is why the files are written at creation rather than approval);
* whoever created a batch cannot approve it (maker-checker, also in the
  database); approving, cancelling and downloading are permission-checked
  and recorded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from django_fsm_log.models import StateLog

from core.bank_codes import bank_code_kind
from core.periods import CHINA_TZ
from organisation.models import User
from revenue.payments.choices import LIVE_ITEM_STATES, BatchState, InvoiceState, ItemState
from revenue.payments.errors import ConcurrentChange, InvalidState, MakerCheckerViolation, NotPayable, NotPermitted
from revenue.payments.files import Debtor, PaymentFileData, Transfer, control_sum, pain001_xml, payment_csv
from revenue.payments.models import Invoice, PaymentBatch, PaymentBatchItem
from revenue.payments.selectors import settlement_awaits_invoice, settlement_end_to_end_id, settlements_due_for_payment
from revenue.settlement.models import Settlement
from revenue.statements.selectors import statement_issuer

MAX_ACCOUNT = 34  # ISO 20022 Max34Text: the longest account number a payment file carries


def _require(by: User, perm: str, message) -> None:
    if by is None or not by.is_active or not by.has_perm(perm):
        raise NotPermitted(message)


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _account(number: str) -> str:
    return "".join((number or "").split())


def payment_debtor() -> Debtor:
    """The bank's settlement account from the bank profile; ``InvalidState`` until it is complete."""
    issuer = statement_issuer()
    debtor = Debtor(
        name=issuer.settlement_account_name.strip(),
        account=_account(issuer.settlement_account_no),
        bank_name=issuer.settlement_bank_name.strip(),
        bank_code=issuer.settlement_bank_code.strip(),
    )
    if not (debtor.name and debtor.account and debtor.bank_name) or bank_code_kind(debtor.bank_code) is None:
        raise InvalidState(
            _(
                "Set the bank's settlement account (name, number, bank and BIC or CNAPS code) in the bank profile "
                "(statement issuer) before creating payment batches."
            )
        )
    if len(debtor.account) > MAX_ACCOUNT:
        raise InvalidState(_("The bank's settlement account number is longer than a payment file allows (34)."))
    return debtor


def settlement_payment_blockers(settlement: Settlement, invoice: Invoice | None, in_live_batch: bool) -> list[str]:
    """Why a settlement cannot go into a payment batch (empty: it can)."""
    reasons = []
    if not settlement_awaits_invoice(settlement):
        reasons.append(
            gettext("it is %(state)s, not approved with a payable") % {"state": settlement.get_state_display()}
        )
    if invoice is None:
        reasons.append(gettext("it has no accepted invoice"))
    if in_live_batch:
        reasons.append(gettext("it is already in a payment batch"))
    partner = settlement.partner
    if not partner.settlement_account_name.strip() or not _account(partner.settlement_account_no):
        reasons.append(gettext("the partner has no settlement account"))
    elif len(_account(partner.settlement_account_no)) > MAX_ACCOUNT:
        reasons.append(gettext("the partner's account number is longer than a payment file allows (34)"))
    return reasons


def _next_number(now: dt.datetime) -> str:
    prefix = f"PB{now.astimezone(CHINA_TZ):%Y%m%d}"
    last = PaymentBatch.objects.filter(number__startswith=prefix).order_by("-number").values_list("number", flat=True)
    sequence = int(last[0][len(prefix) :]) + 1 if last else 1
    return f"{prefix}{sequence:04d}"


def _remittance(settlement: Settlement, invoice: Invoice) -> str:
    return f"{settlement.period.period} 服务费 发票{invoice}"


@dataclass(frozen=True)
class _Line:
    settlement: Settlement
    invoice: Invoice
    transfer: Transfer


def payment_batch_create(
    *, by: User, settlements: Iterable[Settlement] | None = None, execution_date: dt.date | None = None
) -> PaymentBatch:
    """A batch of the given settlements (or all those due), awaiting a second finance user's approval.

    All or nothing: if any settlement cannot be paid the batch is refused with
    the reasons, per settlement. The files are rendered and stored now.
    """
    _require(by, "payments.create_paymentbatch", _("Only finance creates payment batches."))
    debtor = payment_debtor()
    now = timezone.now()
    execution_date = execution_date or now.astimezone(CHINA_TZ).date()
    if execution_date < now.astimezone(CHINA_TZ).date():
        raise InvalidState(_("The execution date cannot be in the past."))
    with transaction.atomic():
        if settlements is None:
            ids = list(settlements_due_for_payment().values_list("pk", flat=True))
        else:
            ids = sorted({s.pk for s in settlements})
        if not ids:
            raise NotPayable(_("No settlement is due for payment (approved, with an accepted invoice)."))
        # Locked in id order, so two batches created at once wait for each other rather than deadlock.
        locked = list(
            Settlement.objects.select_for_update(of=("self",))
            .select_related("partner", "period")
            .filter(pk__in=ids)
            .order_by("pk")
        )
        invoices = {
            i.settlement_id: i for i in Invoice.objects.filter(settlement_id__in=ids, state=InvoiceState.ACCEPTED)
        }
        batched = set(
            PaymentBatchItem.objects.filter(settlement_id__in=ids, state__in=list(LIVE_ITEM_STATES)).values_list(
                "settlement_id", flat=True
            )
        )
        problems, lines = [], []
        for settlement in locked:
            invoice = invoices.get(settlement.pk)
            reasons = settlement_payment_blockers(settlement, invoice, settlement.pk in batched)
            if reasons:
                problems.append(f"{settlement}: {'; '.join(reasons)}")
                continue
            partner = settlement.partner
            lines.append(
                _Line(
                    settlement=settlement,
                    invoice=invoice,
                    transfer=Transfer(
                        end_to_end_id=settlement_end_to_end_id(settlement),
                        amount=settlement.payable,
                        creditor_name=partner.settlement_account_name.strip(),
                        creditor_account=_account(partner.settlement_account_no),
                        creditor_bank=partner.settlement_bank.strip(),
                        remittance=_remittance(settlement, invoice),
                    ),
                )
            )
        if problems:
            raise NotPayable(
                _("These settlements cannot be paid: %(problems)s") % {"problems": " | ".join(problems)},
                extra={"problems": problems},
            )
        number = _next_number(now)
        data = PaymentFileData(
            message_id=number,
            created_at=now,
            execution_date=execution_date,
            debtor=debtor,
            transfers=[line.transfer for line in lines],
            initiating_party=statement_issuer().name.strip(),
        )
        xml, csv = pain001_xml(data), payment_csv(data)
        batch = PaymentBatch(
            number=number,
            execution_date=execution_date,
            transaction_count=len(lines),
            control_sum=control_sum([line.transfer.amount for line in lines]),
            debtor_name=debtor.name,
            debtor_account=debtor.account,
            debtor_bank_name=debtor.bank_name,
            debtor_bank_code=debtor.bank_code,
            xml_sha256=_sha256(xml),
            csv_sha256=_sha256(csv),
            created_by=by,
            created_at=now,
        )
        batch.xml_file.save(f"{number}.pain.001.001.09.xml", ContentFile(xml), save=False)
        batch.csv_file.save(f"{number}.csv", ContentFile(csv), save=False)
        try:
            with transaction.atomic():
                batch.save()
                PaymentBatchItem.objects.bulk_create(
                    PaymentBatchItem(
                        batch=batch,
                        position=position,
                        settlement=line.settlement,
                        invoice=line.invoice,
                        end_to_end_id=line.transfer.end_to_end_id,
                        amount=line.transfer.amount,
                        creditor_name=line.transfer.creditor_name,
                        creditor_account=line.transfer.creditor_account,
                        creditor_bank=line.transfer.creditor_bank,
                        remittance=line.transfer.remittance,
                    )
                    for position, line in enumerate(lines, start=1)
                )
        except IntegrityError as exc:
            # Another batch took the number or one of the settlements between our reads and this insert.
            batch.xml_file.delete(save=False)
            batch.csv_file.delete(save=False)
            raise ConcurrentChange(_("Another payment batch was created at the same time. Try again.")) from exc
        StateLog.objects.create(
            content_object=batch,
            by=by,
            transition="create",
            source_state="",
            state=batch.state,
            description=f"{batch.transaction_count} · {batch.control_sum} CNY · SHA-256 {batch.xml_sha256}",
        )
    return batch


def _lock_batch(batch: PaymentBatch) -> PaymentBatch:
    current = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
    if current.state != batch.state:
        raise ConcurrentChange(_("This payment batch was changed by someone else. Reload it and try again."))
    return current


def _apply(batch: PaymentBatch, method: str, *, by: User | None, description: str) -> None:
    try:
        getattr(batch, method)(by=by, description=description or None)
        batch.save()
    except TransitionNotAllowed as exc:
        raise InvalidState(
            _("This is not possible for a batch that is %(state)s.") % {"state": batch.get_state_display()}
        ) from exc
    except ConcurrentTransition as exc:
        raise ConcurrentChange(_("Changed by someone else meanwhile. Reload it and try again.")) from exc


def _verify_file(field, expected: str) -> bytes:
    try:
        with field.storage.open(field.name, "rb") as handle:
            content = handle.read()
    except FileNotFoundError as exc:
        raise InvalidState(
            _("The payment file %(name)s is missing from the file store.") % {"name": field.name}
        ) from exc
    if _sha256(content) != expected:
        raise InvalidState(
            _("The payment file %(name)s does not match its recorded SHA-256: it was altered.") % {"name": field.name}
        )
    return content


def payment_batch_approve(*, batch: PaymentBatch, by: User, comment: str = "") -> PaymentBatch:
    """awaiting approval → approved, by a finance user other than its creator; its files are checked unchanged."""
    _require(by, "payments.approve_paymentbatch", _("Only finance approves payment batches."))
    with transaction.atomic():
        current = _lock_batch(batch)
        if current.state != BatchState.PENDING_APPROVAL:
            raise InvalidState(
                _("Only a batch awaiting approval can be approved; this one is %(state)s.")
                % {"state": current.get_state_display()}
            )
        if current.created_by_id == by.pk:
            raise MakerCheckerViolation(_("You created this payment batch, so another finance user must approve it."))
        _verify_file(current.xml_file, current.xml_sha256)
        _verify_file(current.csv_file, current.csv_sha256)
        stale = [
            str(item.settlement)
            for item in current.items.select_related("settlement__partner", "settlement__period", "invoice")
            if not settlement_awaits_invoice(item.settlement) or item.invoice.state != InvoiceState.ACCEPTED
        ]
        if stale:
            raise InvalidState(
                _("These settlements changed since the batch was created; cancel it and create a new one: %(list)s")
                % {"list": ", ".join(stale)}
            )
        current.approved_by, current.approved_at = by, timezone.now()
        _apply(current, "approve", by=by, description=comment.strip())
    batch.refresh_from_db()
    return batch


def payment_batch_cancel(*, batch: PaymentBatch, by: User, reason: str) -> PaymentBatch:
    """Withdraw a batch before approval (its settlements are free for another batch)."""
    _require(by, "payments.create_paymentbatch", _("Only finance cancels payment batches."))
    text = (reason or "").strip()
    if not text:
        raise InvalidState(_("Say why the batch is cancelled."))
    with transaction.atomic():
        current = _lock_batch(batch)
        current.cancelled_by, current.cancelled_at, current.cancel_reason = by, timezone.now(), text
        _apply(current, "cancel", by=by, description=text)
        current.items.update(state=ItemState.CANCELLED)
    batch.refresh_from_db()
    return batch


@dataclass(frozen=True)
class BatchFile:
    content: bytes
    filename: str
    content_type: str


def payment_batch_file(*, batch: PaymentBatch, kind: str, by: User) -> BatchFile:
    """A batch's XML or CSV for a finance reader, checked against its SHA-256; the download is recorded."""
    _require(by, "payments.view_paymentbatch", _("Only finance reads payment files."))
    if kind == "xml":
        content = _verify_file(batch.xml_file, batch.xml_sha256)
        result = BatchFile(content, f"{batch.number}.pain.001.001.09.xml", "application/xml")
    elif kind == "csv":
        content = _verify_file(batch.csv_file, batch.csv_sha256)
        result = BatchFile(content, f"{batch.number}.csv", "text/csv; charset=utf-8")
    else:
        raise InvalidState(_("Unknown payment file."))
    LogEntry.objects.create(
        user_id=by.pk,
        content_type_id=ContentType.objects.get_for_model(PaymentBatch).pk,
        object_id=str(batch.pk),
        object_repr=str(batch)[:200],
        action_flag=CHANGE,
        change_message=f"Downloaded {result.filename} (SHA-256 verified)",
    )
    return result


__all__ = [
    "BatchFile",
    "payment_batch_approve",
    "payment_batch_cancel",
    "payment_batch_create",
    "payment_batch_file",
    "payment_debtor",
    "settlement_payment_blockers",
]
