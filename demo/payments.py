"""The demo's invoices and payments: invoices in each state and a paid payment batch (idempotent).

After the months are closed, finance approves the demo portal users' partners'
settlements; each partner submits its invoice through the service (as in the
portal). The first two are accepted, put into a batch by ``finance``,
approved by ``finance2`` (maker-checker) and paid by an imported result file;
the third is returned with a reason; the fourth waits for finance's check.
"""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Exists, OuterRef
from django.utils import timezone
from reportlab.pdfgen import canvas

from core.periods import CHINA_TZ
from organisation.models import User
from organisation.roles import Role
from organisation.services import user_create
from revenue.payments.models import Invoice, PaymentBatch
from revenue.payments.selectors import settlement_end_to_end_id
from revenue.payments.services import (
    invoice_return,
    invoice_review,
    invoice_submit,
    payment_batch_approve,
    payment_batch_create,
    payment_result_import,
)
from revenue.settlement.choices import SettlementState
from revenue.settlement.models import Settlement
from revenue.settlement.services import settlement_approve
from revenue.statements.models import StatementIssuer
from revenue.statements.selectors import statement_issuer

DEMO_PASSWORD = "demo12345"  # noqa: S105 - the documented password of the demo's users
BANK_ACCOUNT = {
    "taxpayer_number": "91110000710935003B",
    "settlement_account_name": "开放联盟银行股份有限公司服务商结算专户",
    "settlement_account_no": "110060577018800012345",
    "settlement_bank_name": "开放联盟银行总行营业部",
    "settlement_bank_code": "OPALCNBJXXX",
}


def _invoice_pdf(number: str) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 760, f"Demo VAT invoice {number} (not a real invoice)")
    page.save()
    return buffer.getvalue()


def _bank_profile() -> StatementIssuer:
    issuer = statement_issuer()
    if not issuer.settlement_account_no:
        for field, value in BANK_ACCOUNT.items():
            if not getattr(issuer, field):
                setattr(issuer, field, value)
        issuer.save()
    return issuer


def _second_finance_user(finance: User) -> User:
    found = User.objects.filter(username="finance2").first()
    return found or user_create(
        username="finance2",
        password=DEMO_PASSWORD,
        roles=[Role.FINANCE],
        branch=finance.branch,
        display_name="财务复核",
    )


def _submit(settlement: Settlement, by: User, number: str, issuer: StatementIssuer) -> Invoice:
    return invoice_submit(
        settlement=settlement,
        by=by,
        number=number,
        code="",
        issued_on=timezone.now().astimezone(CHINA_TZ).date(),
        amount=settlement.net,
        tax_rate=settlement.partner.vat_rate,
        tax=settlement.vat,
        buyer_name=issuer.invoice_title,
        buyer_taxpayer_number=issuer.taxpayer_number,
        file=SimpleUploadedFile(f"{number}.pdf", _invoice_pdf(number)),
    )


def demo_payments_create() -> dict[str, int]:
    """Invoices in each state and one paid payment batch; nothing when the demo already has invoices."""
    if Invoice.objects.exists():
        return {}
    finance = User.objects.get(username="finance")
    finance2 = _second_finance_user(finance)
    issuer = _bank_profile()
    portal_user = User.objects.filter(partner_id=OuterRef("partner_id"), is_active=True)
    candidates = list(
        Settlement.objects.filter(
            state__in=[SettlementState.CLOSED, SettlementState.APPROVED], carried_forward=False, payable__gt=0
        )
        .filter(Exists(portal_user))
        .select_related("partner", "period")
        .order_by("period__start", "partner_id")[:4]
    )
    users = {u.partner_id: u for u in User.objects.filter(partner_id__in=[s.partner_id for s in candidates])}
    invoices = []
    for number, settlement in enumerate(candidates, start=1):
        if settlement.state == SettlementState.CLOSED:
            settlement = settlement_approve(settlement=settlement, by=finance, comment="演示：财务审核通过")
        invoices.append(_submit(settlement, users[settlement.partner_id], f"2026{number:016d}", issuer))
    to_pay, rest = invoices[:2], invoices[2:]
    for invoice in to_pay:
        invoice_review(invoice=invoice, by=finance)
    if rest:
        invoice_return(invoice=rest[0], by=finance, reason="演示：发票备注栏未注明结算单号，请重新开具。")
    if to_pay:
        batch = payment_batch_create(by=finance, settlements=[i.settlement for i in to_pay])
        batch = payment_batch_approve(batch=batch, by=finance2, comment="演示：复核通过")
        today = timezone.now().astimezone(CHINA_TZ).date().isoformat()
        lines = [
            f"{settlement_end_to_end_id(i.settlement)},paid,CNAPS{today.replace('-', '')}{n:06d},{today},"
            for n, i in enumerate(to_pay, start=1)
        ]
        content = "end_to_end_id,status,bank_reference,date,reason\n" + "\n".join(lines) + "\n"
        payment_result_import(
            batch=batch, by=finance, file=SimpleUploadedFile(f"{batch.number}-result.csv", content.encode())
        )
    return {"invoices": len(invoices), "batches": PaymentBatch.objects.count()}
