"""Partners' invoices: submitted in the portal, checked by finance, accepted or returned with the reason.

The check (:func:`invoice_mismatches`) is one pure function, run when the
partner submits (a mismatch is refused there and then, nothing stored) and
again when finance reviews (the settlement, the bank's details or the
partner's rate may have changed meanwhile):

* amount excluding tax = the settlement's net share, to the fen;
* tax = the settlement's VAT, to the fen;
* rate = the partner's VAT rate;
* buyer name and taxpayer number = the bank's (the bank profile,
  ``StatementIssuer``), compared without surrounding or inner blanks and,
  for the taxpayer number, case.

An invoice (code and number) is live once across all partners (a database
constraint); a settlement has one live invoice. Every step checks its
permission and is recorded in django-fsm-log (who, when, from, to, why).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from django_fsm_log.models import StateLog

from core.money import round_money
from core.pdf import format_percent
from core.periods import CHINA_TZ
from organisation.models import User
from revenue.payments.choices import LIVE_INVOICE_STATES, InvoiceState
from revenue.payments.documents import invoice_file_check, invoice_file_name
from revenue.payments.errors import ConcurrentChange, InvalidState, InvoiceMismatch, NotPermitted
from revenue.payments.models import Invoice
from revenue.payments.selectors import settlement_awaits_invoice
from revenue.settlement.models import Settlement
from revenue.statements.models import StatementIssuer
from revenue.statements.selectors import statement_issuer

# A paper-era invoice has an 8-digit number and a 10- or 12-digit code; a fully digital one (数电票) a 20-digit
# number and no code.
NUMBER_RE = re.compile(r"^(\d{8}|\d{20})$")
CODE_RE = re.compile(r"^(\d{10}|\d{12})?$")


@dataclass(frozen=True)
class InvoiceFigures:
    """What the invoice says, as the partner typed it."""

    amount: Decimal
    tax_rate: Decimal
    tax: Decimal
    buyer_name: str
    buyer_taxpayer_number: str


def _squeeze(text: str) -> str:
    return "".join((text or "").split())


def invoice_mismatches(
    *, figures: InvoiceFigures, net: Decimal, vat: Decimal, partner_rate: Decimal, bank_name: str, bank_taxpayer: str
) -> list[str]:
    """Why an invoice does not match its settlement, the bank and the partner's rate (empty: it matches)."""
    reasons = []
    if figures.amount != net:
        reasons.append(
            gettext("The amount excluding tax is %(amount)s; the settlement's service fee is %(net)s.")
            % {"amount": f"{figures.amount:,.2f}", "net": f"{net:,.2f}"}
        )
    if figures.tax != vat:
        reasons.append(
            gettext("The tax amount is %(tax)s; the settlement's VAT is %(vat)s.")
            % {"tax": f"{figures.tax:,.2f}", "vat": f"{vat:,.2f}"}
        )
    if figures.tax_rate != partner_rate:
        reasons.append(
            gettext("The tax rate is %(rate)s; your VAT rate with the bank is %(expected)s.")
            % {"rate": format_percent(figures.tax_rate), "expected": format_percent(partner_rate)}
        )
    if _squeeze(figures.buyer_name) != _squeeze(bank_name):
        reasons.append(
            gettext("The buyer is “%(buyer)s”; it must be “%(bank)s”.")
            % {"buyer": figures.buyer_name, "bank": bank_name}
        )
    if _squeeze(figures.buyer_taxpayer_number).upper() != _squeeze(bank_taxpayer).upper():
        reasons.append(
            gettext("The buyer's taxpayer number is %(number)s; the bank's is %(expected)s.")
            % {"number": figures.buyer_taxpayer_number, "expected": bank_taxpayer}
        )
    return reasons


def _settlement_mismatches(settlement: Settlement, figures: InvoiceFigures, issuer: StatementIssuer) -> list[str]:
    return invoice_mismatches(
        figures=figures,
        net=settlement.net,
        vat=settlement.vat,
        partner_rate=settlement.partner.vat_rate,
        bank_name=issuer.invoice_title,
        bank_taxpayer=issuer.taxpayer_number,
    )


def _require(by: User, perm: str, message) -> None:
    if by is None or not by.is_active or not by.has_perm(perm):
        raise NotPermitted(message)


def _money(value, field: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or round_money(value) != value:
        raise ValidationError({field: _("Enter an amount in yuan with at most two decimals.")})
    return value


def _log(invoice: Invoice, *, by: User, transition: str, source: str, description: str = "") -> None:
    StateLog.objects.create(
        content_object=invoice,
        by=by,
        transition=transition,
        source_state=source,
        state=invoice.state,
        description=description or None,
    )


def invoice_submit(
    *,
    settlement: Settlement,
    by: User,
    number: str,
    code: str,
    issued_on: dt.date,
    amount: Decimal,
    tax_rate: Decimal,
    tax: Decimal,
    buyer_name: str,
    buyer_taxpayer_number: str,
    file: File,
) -> Invoice:
    """A partner user submits the invoice for their own partner's approved settlement.

    Refused, with nothing stored: another partner's settlement; a settlement
    not awaiting an invoice (not approved, nothing payable) or with a live
    invoice; a number or code of the wrong shape, or already live; a date in
    the future; a file that is not a PDF or OFD by content or is too big;
    figures that do not match (:func:`invoice_mismatches`).
    """
    _require(by, "payments.submit_invoice", _("Only a partner's own users submit its invoices."))
    if not by.partner_id or by.partner_id != settlement.partner_id:
        raise NotPermitted(_("You can only submit invoices for your own partner's settlements."))
    number, code = _squeeze(number), _squeeze(code)
    errors = {}
    if not NUMBER_RE.match(number):
        errors["number"] = _("An invoice number has 8 digits (20 for a fully digital invoice).")
    if not CODE_RE.match(code):
        errors["code"] = _("An invoice code has 10 or 12 digits (leave it empty for a fully digital invoice).")
    if issued_on > timezone.now().astimezone(CHINA_TZ).date():
        errors["issued_on"] = _("The invoice date cannot be in the future.")
    try:
        file_type = invoice_file_check(file)
    except ValidationError as exc:
        errors["file"] = exc.messages
    if errors:
        raise ValidationError(errors)
    figures = InvoiceFigures(
        amount=_money(amount, "amount"),
        tax_rate=tax_rate,
        tax=_money(tax, "tax"),
        buyer_name=buyer_name.strip(),
        buyer_taxpayer_number=_squeeze(buyer_taxpayer_number).upper(),
    )
    with transaction.atomic():
        # The settlement's lock orders two submissions for it (two tabs, a double click).
        current = Settlement.objects.select_for_update(of=("self",)).select_related("partner").get(pk=settlement.pk)
        if not settlement_awaits_invoice(current):
            raise InvalidState(_("This settlement is not awaiting an invoice (it must be approved with a payable)."))
        if current.invoices.filter(state__in=list(LIVE_INVOICE_STATES)).exists():
            raise InvalidState(_("This settlement already has an invoice submitted or accepted."))
        if Invoice.objects.filter(code=code, number=number, state__in=list(LIVE_INVOICE_STATES)).exists():
            raise ValidationError({"number": _("This invoice number has already been submitted.")})
        reasons = _settlement_mismatches(current, figures, statement_issuer())
        if reasons:
            raise InvoiceMismatch(" ".join(reasons), extra={"reasons": reasons})
        digest = hashlib.sha256()
        file.seek(0)
        for chunk in iter(lambda: file.read(65536), b""):
            digest.update(chunk)
        file.seek(0)
        invoice = Invoice(
            settlement=current,
            partner_id=current.partner_id,
            number=number,
            code=code,
            issued_on=issued_on,
            amount=figures.amount,
            tax_rate=figures.tax_rate,
            tax=figures.tax,
            buyer_name=figures.buyer_name,
            buyer_taxpayer_number=figures.buyer_taxpayer_number,
            file_type=file_type,
            file_name=invoice_file_name(file.name, file_type),
            file_sha256=digest.hexdigest(),
            submitted_by=by,
            submitted_at=timezone.now(),
        )
        invoice.file.save(invoice.file_name, file, save=False)
        try:
            with transaction.atomic():
                invoice.save()
        except IntegrityError as exc:
            # Another partner's submission of the same number committed between the check and the insert.
            invoice.file.delete(save=False)
            raise ValidationError({"number": _("This invoice number has already been submitted.")}) from exc
        _log(invoice, by=by, transition="submit", source="", description=str(invoice))
    return invoice


def _lock_invoice(invoice: Invoice) -> Invoice:
    current = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("settlement__partner", "settlement__period")
        .get(pk=invoice.pk)
    )
    if current.state != invoice.state:
        raise ConcurrentChange(_("This invoice was changed by someone else. Reload it and try again."))
    if current.state != InvoiceState.SUBMITTED:
        raise InvalidState(
            _("Only a submitted invoice can be decided; this one is %(state)s.")
            % {"state": current.get_state_display()}
        )
    return current


def _apply(invoice: Invoice, method: str, *, by: User, description: str) -> None:
    try:
        getattr(invoice, method)(by=by, description=description or None)
        invoice.save()
    except TransitionNotAllowed as exc:
        raise InvalidState(
            _("This is not possible in the state %(state)s.") % {"state": invoice.get_state_display()}
        ) from exc
    except ConcurrentTransition as exc:
        raise ConcurrentChange(_("Changed by someone else meanwhile. Reload it and try again.")) from exc


def _return(current: Invoice, *, by: User, reason: str) -> None:
    current.return_reason = reason
    current.decided_by, current.decided_at = by, timezone.now()
    _apply(current, "send_back", by=by, description=reason)


def invoice_review(*, invoice: Invoice, by: User) -> Invoice:
    """Finance checks a submitted invoice: accepted when it matches, else returned with the mismatches as reason."""
    _require(by, "payments.review_invoice", _("Only finance reviews invoices."))
    with transaction.atomic():
        current = _lock_invoice(invoice)
        settlement = current.settlement
        if not settlement_awaits_invoice(settlement):
            raise InvalidState(
                _("The settlement is no longer awaiting an invoice (it is %(state)s).")
                % {"state": settlement.get_state_display()}
            )
        figures = InvoiceFigures(
            amount=current.amount,
            tax_rate=current.tax_rate,
            tax=current.tax,
            buyer_name=current.buyer_name,
            buyer_taxpayer_number=current.buyer_taxpayer_number,
        )
        reasons = _settlement_mismatches(settlement, figures, statement_issuer())
        if reasons:
            _return(current, by=by, reason=" ".join(reasons))
        else:
            current.decided_by, current.decided_at = by, timezone.now()
            _apply(current, "accept", by=by, description=gettext("Matches the settlement and the bank's details."))
    invoice.refresh_from_db()
    return invoice


def invoice_return(*, invoice: Invoice, by: User, reason: str) -> Invoice:
    """Finance sends a submitted invoice back to the partner with the reason (shown in the portal)."""
    _require(by, "payments.review_invoice", _("Only finance reviews invoices."))
    text = (reason or "").strip()
    if not text:
        raise ValidationError({"reason": _("Tell the partner why the invoice is returned.")})
    with transaction.atomic():
        _return(_lock_invoice(invoice), by=by, reason=text)
    invoice.refresh_from_db()
    return invoice


@dataclass(frozen=True)
class InvoiceFile:
    """An invoice file opened for one reader: the file (the caller streams and closes it), its type and name."""

    file: File
    content_type: str
    filename: str


def invoice_file_open(*, invoice: Invoice, by: User, ip: str | None = None) -> InvoiceFile:
    """Open an invoice's file for its own partner's users or for staff who may see the partner; recorded.

    Anyone else gets ``NotPermitted`` and nothing is opened or recorded.
    """
    from revenue.payments.selectors import invoice_list

    own = by.is_active and by.partner_id is not None and by.partner_id == invoice.partner_id
    staff = (
        by.is_active and by.has_perm("payments.view_invoice") and invoice_list(user=by).filter(pk=invoice.pk).exists()
    )
    if not (own or staff):
        raise NotPermitted(_("You may not read this invoice."))
    try:
        handle = invoice.file.storage.open(invoice.file.name, "rb")
    except FileNotFoundError as exc:
        raise InvalidState(_("The invoice file is missing from the file store.")) from exc
    LogEntry.objects.create(
        user_id=by.pk,
        content_type_id=ContentType.objects.get_for_model(Invoice).pk,
        object_id=str(invoice.pk),
        object_repr=str(invoice)[:200],
        action_flag=CHANGE,
        change_message=f"Downloaded {invoice.file_name}" + (f" from {ip}" if ip else ""),
    )
    return InvoiceFile(file=handle, content_type=invoice.file_type, filename=invoice.file_name)
