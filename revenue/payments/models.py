"""Payment models: partners' invoices, payment batches, their lines and the result files imported for them.

:class:`Invoice`
    A partner's VAT invoice (发票) for one approved settlement: submitted in the
    portal → accepted by finance, or returned with the reason (then a new one
    may be submitted). A settlement has at most one live (submitted or
    accepted) invoice, and an invoice number (with its code) is live once.
:class:`PaymentBatch`
    Credit transfers to partners, one per settlement: created by one finance
    user, approved by another (maker-checker). Its ISO 20022 pain.001.001.09
    file and the CSV of the same lines are written once, when it is created,
    with their SHA-256, and never changed: the approver approves those bytes.
:class:`PaymentBatchItem`
    One settlement's transfer: awaiting result → paid (with the bank's
    reference) or failed (with the reason; the settlement may go into a later
    batch). A settlement is held by one live line (awaiting or paid) at a time.
:class:`PaymentResultImport`
    One result file the payment system sent back, imported: what it changed
    and what it reported (unmatched, duplicate, already applied lines).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description

from core.money import money_field
from core.storage import private_storage
from revenue.payments.choices import (
    LIVE_INVOICE_STATES,
    LIVE_ITEM_STATES,
    BatchState,
    InvoiceFileType,
    InvoiceState,
    ItemState,
)

__all__ = ["Invoice", "PaymentBatch", "PaymentBatchItem", "PaymentResultImport"]

_USER = settings.AUTH_USER_MODEL


def invoice_upload_to(instance: Invoice, filename: str) -> str:
    # The server chooses the stored name: nothing of the uploaded name reaches the file system.
    extension = ".ofd" if instance.file_type == InvoiceFileType.OFD else ".pdf"
    return f"invoices/{instance.settlement_id}/{instance.number}{extension}"


def batch_upload_to(instance: PaymentBatch, filename: str) -> str:
    return f"payments/{instance.number}/{filename}"


class Invoice(ConcurrentTransitionMixin, models.Model):
    """A partner's VAT invoice for one settlement's service fee: submitted → accepted | returned."""

    settlement = models.ForeignKey(
        "settlement.Settlement", verbose_name=_("settlement"), on_delete=models.PROTECT, related_name="invoices"
    )
    partner = models.ForeignKey(
        "onboarding.Partner", verbose_name=_("partner"), on_delete=models.PROTECT, related_name="invoices"
    )
    number = models.CharField(_("invoice number"), max_length=20)
    code = models.CharField(_("invoice code"), max_length=12, blank=True)
    issued_on = models.DateField(_("invoice date"))
    amount = money_field(_("amount excluding tax"))
    tax_rate = models.DecimalField(_("tax rate"), max_digits=5, decimal_places=4)
    tax = money_field(_("tax amount"))
    buyer_name = models.CharField(_("buyer name"), max_length=100)
    buyer_taxpayer_number = models.CharField(_("buyer taxpayer number"), max_length=20)
    file = models.FileField(_("invoice file"), upload_to=invoice_upload_to, storage=private_storage, max_length=255)
    file_type = models.CharField(_("file type"), max_length=32, choices=InvoiceFileType.choices)
    file_name = models.CharField(_("file name"), max_length=255)
    file_sha256 = models.CharField(_("SHA-256 of the file"), max_length=64)
    state = FSMField(
        _("state"), max_length=16, choices=InvoiceState.choices, default=InvoiceState.SUBMITTED, protected=True
    )
    submitted_by = models.ForeignKey(_USER, verbose_name=_("submitted by"), on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(_("submitted at"))
    decided_by = models.ForeignKey(
        _USER, verbose_name=_("decided by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    return_reason = models.TextField(_("reason for return"), blank=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["partner", "state"], name="payments_invoice_partner")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=InvoiceState.values), name="payments_invoice_state_valid"
            ),
            # An invoice (code and number) pays one settlement once, whichever partner sends it. A returned
            # one was never used: the same invoice may come back for its settlement once mistyped data is fixed.
            models.UniqueConstraint(
                fields=["code", "number"],
                condition=models.Q(state__in=list(LIVE_INVOICE_STATES)),
                name="payments_invoice_number_once",
                violation_error_message=_("This invoice number has already been submitted."),
            ),
            models.UniqueConstraint(
                fields=["settlement"],
                condition=models.Q(state__in=list(LIVE_INVOICE_STATES)),
                name="payments_invoice_one_live_per_settlement",
                violation_error_message=_("This settlement already has an invoice submitted or accepted."),
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0) & models.Q(tax__gte=0), name="payments_invoice_amounts"
            ),
            models.CheckConstraint(
                condition=models.Q(tax_rate__gte=0) & models.Q(tax_rate__lt=1), name="payments_invoice_tax_rate"
            ),
            models.CheckConstraint(
                condition=~models.Q(state=InvoiceState.RETURNED) | ~models.Q(return_reason=""),
                name="payments_invoice_returned_has_reason",
            ),
        ]
        permissions = [
            ("submit_invoice", _("Can submit the own partner's invoices (portal)")),
            ("review_invoice", _("Can accept or return partners' invoices (finance)")),
        ]

    def __str__(self) -> str:
        return f"{self.code}-{self.number}" if self.code else self.number

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_INVOICE_STATES

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=InvoiceState.SUBMITTED, target=InvoiceState.ACCEPTED)
    def accept(self, by=None, description=None) -> None:
        """Finance found the invoice matches its settlement, the bank and the partner's rate."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=InvoiceState.SUBMITTED, target=InvoiceState.RETURNED)
    def send_back(self, by=None, description=None) -> None:
        """Back to the partner with the reason; the partner may submit a new invoice."""


class PaymentBatch(ConcurrentTransitionMixin, models.Model):
    """Credit transfers of approved, invoiced settlements: awaiting approval → approved → completed; or cancelled."""

    number = models.CharField(_("batch number"), max_length=35, unique=True)
    state = FSMField(
        _("state"), max_length=24, choices=BatchState.choices, default=BatchState.PENDING_APPROVAL, protected=True
    )
    execution_date = models.DateField(_("requested execution date"))
    transaction_count = models.PositiveIntegerField(_("transfers"))
    control_sum = money_field(_("control sum"))
    debtor_name = models.CharField(_("debtor account name"), max_length=140)
    debtor_account = models.CharField(_("debtor account number"), max_length=34)
    debtor_bank_name = models.CharField(_("debtor bank"), max_length=140)
    debtor_bank_code = models.CharField(_("debtor bank code"), max_length=12)
    xml_file = models.FileField(_("pain.001 file"), upload_to=batch_upload_to, storage=private_storage, max_length=255)
    xml_sha256 = models.CharField(_("SHA-256 of the pain.001 file"), max_length=64)
    csv_file = models.FileField(_("CSV file"), upload_to=batch_upload_to, storage=private_storage, max_length=255)
    csv_sha256 = models.CharField(_("SHA-256 of the CSV file"), max_length=64)
    created_by = models.ForeignKey(_USER, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"))
    approved_by = models.ForeignKey(
        _USER, verbose_name=_("approved by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        _USER, verbose_name=_("cancelled by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True)

    class Meta:
        verbose_name = _("payment batch")
        verbose_name_plural = _("payment batches")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=BatchState.values), name="payments_batch_state_valid"),
            models.CheckConstraint(
                condition=models.Q(transaction_count__gt=0) & models.Q(control_sum__gt=0),
                name="payments_batch_not_empty",
            ),
            # Maker-checker, also in the database: whoever created the batch cannot approve it.
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True) | ~models.Q(approved_by=models.F("created_by")),
                name="payments_batch_maker_checker",
            ),
        ]
        permissions = [
            ("create_paymentbatch", _("Can create and cancel payment batches")),
            ("approve_paymentbatch", _("Can approve a payment batch created by someone else")),
            ("import_payment_result", _("Can import a payment batch's result file")),
        ]

    def __str__(self) -> str:
        return self.number

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=BatchState.PENDING_APPROVAL, target=BatchState.APPROVED)
    def approve(self, by=None, description=None) -> None:
        """A second finance user approves the batch: its file may be sent to the payment system."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=BatchState.PENDING_APPROVAL, target=BatchState.CANCELLED)
    def cancel(self, by=None, description=None) -> None:
        """Withdrawn before approval: its settlements are free for another batch."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=BatchState.APPROVED, target=BatchState.COMPLETED)
    def complete(self, by=None, description=None) -> None:
        """Every transfer has its result (paid or failed)."""


class PaymentBatchItem(models.Model):
    """One settlement's credit transfer in a batch, with the creditor's details as the file names them."""

    batch = models.ForeignKey(PaymentBatch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="items")
    position = models.PositiveIntegerField(_("position"))
    settlement = models.ForeignKey(
        "settlement.Settlement",
        verbose_name=_("settlement"),
        on_delete=models.PROTECT,
        related_name="payment_items",
    )
    invoice = models.ForeignKey(Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT, related_name="+")
    end_to_end_id = models.CharField(_("end-to-end id"), max_length=35)
    amount = money_field(_("amount"))
    creditor_name = models.CharField(_("creditor account name"), max_length=140)
    creditor_account = models.CharField(_("creditor account number"), max_length=34)
    creditor_bank = models.CharField(_("creditor bank"), max_length=140)
    remittance = models.CharField(_("remittance information"), max_length=140)
    state = models.CharField(_("state"), max_length=16, choices=ItemState.choices, default=ItemState.PENDING)
    bank_reference = models.CharField(_("bank reference"), max_length=64, blank=True)
    result_date = models.DateField(_("result date"), null=True, blank=True)
    failure_reason = models.CharField(_("failure reason"), max_length=255, blank=True)
    result_import = models.ForeignKey(
        "payments.PaymentResultImport",
        verbose_name=_("result file"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="items",
    )

    class Meta:
        verbose_name = _("payment batch line")
        verbose_name_plural = _("payment batch lines")
        ordering = ["batch_id", "position"]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=ItemState.values), name="payments_item_state_valid"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payments_item_amount_positive"),
            models.UniqueConstraint(fields=["batch", "position"], name="payments_item_position_once"),
            models.UniqueConstraint(fields=["batch", "end_to_end_id"], name="payments_item_end_to_end_once"),
            # A settlement is paid once: held by one line awaiting its result or paid, never by two.
            models.UniqueConstraint(
                fields=["settlement"],
                condition=models.Q(state__in=list(LIVE_ITEM_STATES)),
                name="payments_item_one_live_per_settlement",
                violation_error_message=_("This settlement is already in a payment batch."),
            ),
            models.CheckConstraint(
                condition=~models.Q(state=ItemState.PAID) | ~models.Q(bank_reference=""),
                name="payments_item_paid_has_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.end_to_end_id}"


class PaymentResultImport(models.Model):
    """A result file imported for a batch: who, when, the file's digest, and what it changed and reported."""

    batch = models.ForeignKey(
        PaymentBatch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="result_imports"
    )
    file_name = models.CharField(_("file name"), max_length=255)
    file_sha256 = models.CharField(_("SHA-256 of the file"), max_length=64)
    imported_by = models.ForeignKey(_USER, verbose_name=_("imported by"), on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(_("imported at"))
    lines = models.PositiveIntegerField(_("lines"))
    paid = models.PositiveIntegerField(_("marked paid"))
    failed = models.PositiveIntegerField(_("marked failed"))
    already_applied = models.PositiveIntegerField(_("already applied"))
    report = models.JSONField(_("report"), default=dict, blank=True)

    class Meta:
        verbose_name = _("payment result import")
        verbose_name_plural = _("payment result imports")
        ordering = ["-imported_at", "-id"]

    def __str__(self) -> str:
        return f"{self.batch} · {self.file_name}"
