"""The portal's invoice pages: submit the invoice for an approved settlement, read the own partner's invoice files.

Thin: the partner-scoped selectors read (another partner's settlement or
invoice is a 404), ``revenue.payments.services`` writes and checks.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.admin import error_text
from core.errors import ApplicationError
from core.storage import private_file_response
from portal import presenters
from portal.invoice_forms import InvoiceForm
from portal.views import _own_settlement, partner_required, partner_statement_reader
from revenue.payments.errors import InvoiceMismatch
from revenue.payments.models import Invoice
from revenue.payments.selectors import (
    partner_invoices,
    settlement_awaits_invoice,
    settlement_live_invoice,
)
from revenue.payments.services import invoice_submit
from revenue.payments.services.invoices import invoice_file_open
from revenue.statements.selectors import statement_issuer


@partner_required
def invoice_submit_view(request, pk: int):
    settlement = _own_settlement(request, pk)
    if not settlement_awaits_invoice(settlement) or settlement_live_invoice(settlement) is not None:
        messages.info(request, _("This settlement is not awaiting an invoice."))
        return redirect("portal:settlement", pk=settlement.pk)
    form = InvoiceForm(request.POST or None, request.FILES or None)
    reasons = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invoice_submit(
                settlement=settlement,
                by=request.user,
                number=data["number"],
                code=data["code"],
                issued_on=data["issued_on"],
                amount=data["amount"],
                tax_rate=form.tax_rate,
                tax=data["tax"],
                buyer_name=data["buyer_name"],
                buyer_taxpayer_number=data["buyer_taxpayer_number"],
                file=data["file"],
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc.messages)
        except InvoiceMismatch as exc:
            reasons = exc.extra.get("reasons", [str(exc.message)])
        except ApplicationError as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(request, _("Your invoice was sent to the bank's finance team for checking."))
            return redirect("portal:settlement", pk=settlement.pk)
    issuer = statement_issuer()
    settlement.shown = presenters.settlement_figures(settlement)
    return render(
        request,
        "portal/invoice_submit.html",
        {
            "settlement": settlement,
            "form": form,
            "reasons": reasons,
            "issuer": issuer,
            "partner_rate": presenters.rate(settlement.partner.vat_rate),
        },
    )


@partner_statement_reader
def invoice_file(request, pk: int, invoice_pk: int):
    settlement = _own_settlement(request, pk)
    try:
        invoice = partner_invoices(partner_id=request.user.partner_id).get(settlement=settlement, pk=invoice_pk)
    except Invoice.DoesNotExist as exc:
        raise Http404 from exc
    try:
        opened = invoice_file_open(invoice=invoice, by=request.user, ip=request.META.get("REMOTE_ADDR"))
    except ApplicationError as exc:
        messages.error(request, error_text(exc))
        return redirect(reverse("portal:settlement", args=[settlement.pk]))
    return private_file_response(opened.file, filename=opened.filename, content_type=opened.content_type)
