"""Settlement models: periods, runs, settlements, their lines and disputes.

Periods and watermarks
    A :class:`SettlementPeriod` is a calendar month (China time). Its close
    settles, up to a *watermark* (the highest attribution id it includes, taken
    while no ledger insert is in flight) and above the previous close's
    watermark:

    * regular lines: attributions that occurred in the month, ``id <= W``;
    * adjustment lines: attributions that occurred before the month, ``L < id <= W``
      (late events and reversals of already closed periods; each line names the
      period it corrects).

    The windows ``(L, W]`` of successive closes are disjoint and periods close in
    order, so every attribution is settled exactly once.

Runs
    A :class:`SettlementRun` (nightly accrual or month-end close) aggregates its
    window once into :class:`SettlementRunFigure` rows (per partner, product and
    corrected period), then settles chunks of partners (:class:`SettlementRunChunk`,
    each idempotent) and ends with a conservation check.

Settlements
    One :class:`Settlement` per partner and period: draft (accrued) → closed
    (frozen at month end) → approved (maker-checker) → paid. Its lines
    (:class:`SettlementLine`) are per product, adjustments, carried-forward
    balances and dispute resolutions. A closed settlement is never edited
    (services refuse, the admin is read-only, and a database trigger);
    a :class:`SettlementDispute` on one of its lines is resolved into an
    adjustment of the next open period.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models.functions import Abs
from django.db.models.lookups import LessThan
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description

from core.money import money_field
from core.periods import Period
from revenue.settlement.choices import (
    ACTIVE_RUN_STATES,
    DisputeState,
    LineKind,
    PeriodState,
    RunKind,
    RunState,
    RunTrigger,
    SettlementState,
    ShareLimit,
)

__all__ = [
    "Settlement",
    "SettlementDispute",
    "SettlementLine",
    "SettlementPeriod",
    "SettlementRun",
    "SettlementRunChunk",
    "SettlementRunFigure",
]

_USER = settings.AUTH_USER_MODEL
HALF_FEN = Decimal("0.005")


def _period_of(start) -> Period:
    return Period(start.year, start.month)


class SettlementPeriod(models.Model):
    """A settlement month and its close: open → closing → closed (closed is final).

    ``lower_watermark`` is the previous close's watermark (0 for the first close)
    and ``close_watermark`` this close's; both are set when the close starts.
    """

    start = models.DateField(_("month"), unique=True, help_text=_("The first day of the month."))
    state = models.CharField(_("state"), max_length=16, choices=PeriodState.choices, default=PeriodState.OPEN)
    lower_watermark = models.BigIntegerField(_("settled above attribution id"), null=True, blank=True)
    close_watermark = models.BigIntegerField(_("settled up to attribution id"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        _USER, verbose_name=_("closed by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("settlement period")
        verbose_name_plural = _("settlement periods")
        ordering = ["-start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=PeriodState.values), name="settlement_settlementperiod_state_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(state=PeriodState.CLOSED)
                | (models.Q(close_watermark__isnull=False) & models.Q(closed_at__isnull=False)),
                name="settlement_settlementperiod_closed_has_watermark",
            ),
        ]

    def __str__(self) -> str:
        return str(self.period)

    @property
    def period(self) -> Period:
        return _period_of(self.start)

    @property
    def is_closed(self) -> bool:
        return self.state == PeriodState.CLOSED


class SettlementRun(models.Model):
    """One accrual or close of a period: pending → running → completed | failed (failed → running on resume).

    Transitions are compare-and-swap updates in ``revenue.settlement.services``
    (several workers report on one run). ``attempt`` grows with every dispatch,
    so the final step of a superseded dispatch does nothing.
    """

    period = models.ForeignKey(
        SettlementPeriod, verbose_name=_("period"), on_delete=models.PROTECT, related_name="runs"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=RunKind.choices)
    state = models.CharField(_("state"), max_length=16, choices=RunState.choices, default=RunState.PENDING)
    attempt = models.PositiveIntegerField(_("attempt"), default=0)
    lower_watermark = models.BigIntegerField(_("above attribution id"), null=True, blank=True)
    watermark = models.BigIntegerField(_("up to attribution id"), null=True, blank=True)
    trigger = models.CharField(_("triggered from"), max_length=16, choices=RunTrigger.choices)
    triggered_by = models.ForeignKey(
        _USER, verbose_name=_("triggered by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    celery_task_id = models.CharField(_("task id"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last progress at"), null=True, blank=True)
    chunks_total = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    partners_count = models.PositiveIntegerField(_("partners"), default=0)
    settlements_count = models.PositiveIntegerField(_("settlements"), default=0)
    lines_count = models.PositiveIntegerField(_("lines"), default=0)
    attributions_count = models.BigIntegerField(_("attributions settled"), default=0)
    inactive_count = models.BigIntegerField(_("attributions of inactive partners"), default=0)
    bank_revenue_total = money_field(_("bank revenue settled"), default=Decimal("0.00"))
    share_total = money_field(_("partner shares"), default=Decimal("0.00"))
    retained_total = money_field(_("retained by the bank"), default=Decimal("0.00"))
    timings = models.JSONField(_("timings (seconds)"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("settlement run")
        verbose_name_plural = _("settlement runs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=RunKind.values), name="settlement_settlementrun_kind"),
            models.CheckConstraint(
                condition=models.Q(state__in=RunState.values), name="settlement_settlementrun_state"
            ),
            # Two beat schedulers or two clicks: the second close of a period fails on this.
            models.UniqueConstraint(
                fields=["period"],
                condition=models.Q(
                    kind=RunKind.CLOSE, state__in=[RunState.PENDING, RunState.RUNNING, RunState.COMPLETED]
                ),
                name="settlement_settlementrun_one_close_per_period",
                violation_error_message=_("This period already has a month-end close."),
            ),
            models.UniqueConstraint(
                fields=["period", "kind"],
                condition=models.Q(state__in=list(ACTIVE_RUN_STATES)),
                name="settlement_settlementrun_one_active_per_kind",
                violation_error_message=_("A run of this kind is already in progress for this period."),
            ),
        ]
        permissions = [
            ("run_settlement", _("Can start and resume settlement runs (accrual, month-end close)")),
            ("preview_settlement", _("Can preview a settlement (dry run)")),
        ]

    def __str__(self) -> str:
        return f"{self.period} · {self.get_kind_display()} #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_RUN_STATES

    @property
    def progress(self) -> int:
        """Percentage of chunks done."""
        return int(100 * self.chunks_done / self.chunks_total) if self.chunks_total else 0

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class SettlementRunChunk(models.Model):
    """A range of partner ids ``(after_partner_id, upto_partner_id]`` of a run, settled in one transaction.

    ``done`` is set in the same transaction that writes the chunk's
    settlements, so a chunk delivered twice (or re-run after a crash) writes
    its rows once.
    """

    run = models.ForeignKey(SettlementRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField(_("chunk"))
    after_partner_id = models.BigIntegerField(_("partners above id"))
    upto_partner_id = models.BigIntegerField(_("partners up to id"), null=True, blank=True)
    partners = models.PositiveIntegerField(_("partners"), default=0)
    done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    seconds = models.FloatField(_("seconds"), null=True, blank=True)  # a timing, not money
    settlements = models.PositiveIntegerField(_("settlements"), default=0)
    lines = models.PositiveIntegerField(_("lines"), default=0)
    # What the chunk wrote, read back in its own transaction (aggregation.written_sums): the final
    # step's conservation check adds these up over the chunks rather than reading every line again.
    written_sums = models.JSONField(_("sums written"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("settlement run chunk")
        verbose_name_plural = _("settlement run chunks")
        ordering = ["run_id", "number"]
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="settlement_settlementrunchunk_unique")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.number}"


class SettlementRunFigure(models.Model):
    """A run's aggregated window: one row per partner, product, corrected period and active flag.

    Written by one set-based ``INSERT … SELECT`` when the run starts, read by
    its chunks, deleted when the run completes. Amounts are integer fen and
    the net count is in millionths, so the sums are exact on every database.
    """

    run = models.ForeignKey(SettlementRun, on_delete=models.CASCADE, related_name="+", db_index=False)
    partner = models.ForeignKey("onboarding.Partner", on_delete=models.CASCADE, related_name="+", db_index=False)
    product = models.ForeignKey("ledger.Product", on_delete=models.CASCADE, related_name="+", db_index=False)
    # Null: the run's own period (regular lines); else the first day of the corrected month.
    corrects_period = models.DateField(null=True)
    partner_active = models.BooleanField()
    transaction_count = models.BigIntegerField()
    net_count_micro = models.BigIntegerField()
    bank_revenue_fen = models.BigIntegerField()
    volume_fen = models.BigIntegerField()
    # Of transaction_count: the reversals, and the co-served rows with what they add to the net count.
    reversal_count = models.BigIntegerField(default=0)
    coserved_count = models.BigIntegerField(default=0)
    coserved_net_micro = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("settlement run figure")
        verbose_name_plural = _("settlement run figures")
        indexes = [models.Index(fields=["run", "partner_id"], name="settlement_figure_run_partner")]

    def __str__(self) -> str:
        return f"{self.run_id}: {self.partner_id} × {self.product_id} {self.corrects_period or ''}"


class Settlement(ConcurrentTransitionMixin, models.Model):
    """One partner's settlement of one period: draft → closed → approved → paid.

    Totals (all CNY, two places)::

        share_total      Σ product lines
        adjustment_total Σ adjustment and dispute-resolution lines
        carried_in       the previous period's carried-forward net
        net              share_total + adjustment_total + carried_in   (the service fee, before VAT)
        vat              round_money(net × vat_rate), 0 when carried forward
        payable          net + vat, 0 when carried forward

    A net below zero or below ``SETTLEMENT_MINIMUM_PAYOUT`` is not paid: it is
    ``carried_forward`` and comes back as the next period's ``carried_in``.
    ``watermark_from`` (exclusive) and ``watermark_to`` (inclusive) are the
    attribution ids its ledger lines come from.
    """

    # No single-column indexes of their own: the (partner, period) unique constraint and the
    # period index lead with them, and every index is written again when a close freezes the
    # month's settlements.
    partner = models.ForeignKey(
        "onboarding.Partner",
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        related_name="settlements",
        db_index=False,
    )
    period = models.ForeignKey(
        SettlementPeriod,
        verbose_name=_("period"),
        on_delete=models.PROTECT,
        related_name="settlements",
        db_index=False,
    )
    run = models.ForeignKey(
        SettlementRun,
        verbose_name=_("run"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="settlements",
    )
    state = FSMField(
        _("state"), max_length=16, choices=SettlementState.choices, default=SettlementState.DRAFT, protected=True
    )
    watermark_from = models.BigIntegerField(_("attributions above id"), default=0)
    watermark_to = models.BigIntegerField(_("attributions up to id"), default=0)
    transaction_count = models.BigIntegerField(_("attributed transactions"), default=0)
    bank_revenue = money_field(_("bank revenue"), default=Decimal("0.00"))
    share_total = money_field(_("shares"), default=Decimal("0.00"))
    adjustment_total = money_field(_("adjustments"), default=Decimal("0.00"))
    carried_in = money_field(_("carried in"), default=Decimal("0.00"))
    net = money_field(_("service fee before VAT"), default=Decimal("0.00"))
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=4, default=Decimal("0.0000"))
    vat = money_field(_("VAT"), default=Decimal("0.00"))
    payable = money_field(_("payable"), default=Decimal("0.00"))
    carried_forward = models.BooleanField(
        _("carried forward"),
        default=False,
        help_text=_("Negative or below the minimum payout: not paid, netted in the next period."),
    )
    computed_at = models.DateTimeField(_("computed at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        _USER,
        verbose_name=_("closed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # partial, see Meta.indexes
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        _USER,
        verbose_name=_("approved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # partial, see Meta.indexes
    )
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    paid_by = models.ForeignKey(
        _USER,
        verbose_name=_("paid by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # partial, see Meta.indexes
    )
    payment_reference = models.CharField(_("payment reference"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("settlement")
        verbose_name_plural = _("settlements")
        ordering = ["-period__start", "partner_id"]
        indexes = [
            # Not on state, nor on closed_at: a close freezes its ten thousand drafts in one update, and
            # with no indexed column changing (and room on the page: PostgreSQL's fillfactor, see
            # revenue/settlement/sql) each new row version stays on its page without new index
            # entries (a HOT update).
            models.Index(fields=["period"], name="settlement_settle_period"),
            # Who closed, approved or paid: empty on the drafts a run writes by the thousand, so
            # indexed only where set.
            *(
                models.Index(
                    fields=[f"{step}_by"],
                    condition=models.Q(**{f"{step}_by__isnull": False}),
                    name=f"settlement_settle_{step}_by",
                )
                for step in ("closed", "approved", "paid")
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "period"],
                name="settlement_settlement_one_per_partner_period",
                violation_error_message=_("This partner already has a settlement for this period."),
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=SettlementState.values), name="settlement_settlement_state_valid"
            ),
            # Within half a fen rather than equal: exact on PostgreSQL (numeric), and SQLite computes
            # decimal columns as floating point, where 300.33 + 18.02 is not exactly 318.35.
            models.CheckConstraint(
                condition=LessThan(
                    Abs(
                        models.F("net")
                        - models.F("share_total")
                        - models.F("adjustment_total")
                        - models.F("carried_in")
                    ),
                    HALF_FEN,
                ),
                name="settlement_settlement_net_adds_up",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    LessThan(Abs(models.F("payable") - models.F("net") - models.F("vat")), HALF_FEN),
                    carried_forward=False,
                )
                | models.Q(carried_forward=True, payable=0, vat=0),
                name="settlement_settlement_payable_adds_up",
            ),
            models.CheckConstraint(
                condition=models.Q(vat_rate__gte=0) & models.Q(vat_rate__lt=1), name="settlement_settlement_vat_rate"
            ),
            models.CheckConstraint(
                condition=~models.Q(state=SettlementState.PAID)
                | (models.Q(paid_at__isnull=False) & ~models.Q(payment_reference="")),
                name="settlement_settlement_paid_has_reference",
            ),
            # Maker-checker, also in the database: whoever closed it cannot approve it.
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True)
                | models.Q(closed_by__isnull=True)
                | ~models.Q(approved_by=models.F("closed_by")),
                name="settlement_settlement_maker_checker",
            ),
        ]
        permissions = [
            ("approve_settlement", _("Can approve a closed settlement (finance)")),
            ("pay_settlement", _("Can mark an approved settlement paid")),
            ("view_partner_settlements", _("Can read the own partner's settlements")),
        ]

    def __str__(self) -> str:
        return f"{self.partner} · {self.period}"

    @property
    def is_frozen(self) -> bool:
        return self.state != SettlementState.DRAFT

    # ---- lifecycle --------------------------------------------------------------------------
    # Called only by ``revenue.settlement.services`` (which check permission and
    # maker-checker, lock the row and save). draft → closed happens set-based for
    # a whole period when its close completes.

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=SettlementState.CLOSED, target=SettlementState.APPROVED)
    def approve(self, by=None, description=None) -> None:
        """Finance approves the closed settlement for payment."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=SettlementState.APPROVED, target=SettlementState.PAID)
    def pay(self, by=None, description=None) -> None:
        """The payment was made (its reference is recorded)."""


class SettlementLine(models.Model):
    """One line of a settlement: a product's figures and share, an adjustment, a carried balance or a resolution.

    * ``product``: the period's attributions of one product (``corrects_period`` empty);
    * ``adjustment``: late events and reversals of ``corrects_period``, already
      closed; ``share`` is that period's share recomputed with them minus
      ``previous_share``, what earlier closes settled for it;
    * ``carry_forward``: the net of ``carried_from``, a settlement not paid;
    * ``dispute_resolution``: the amount of ``dispute``, resolved by the bank.

    Lines of a settlement that left ``draft`` are frozen with it (a database
    trigger refuses their insert, update and delete).
    """

    settlement = models.ForeignKey(
        Settlement,
        verbose_name=_("settlement"),
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,  # led by the (settlement, position) index
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    kind = models.CharField(_("kind"), max_length=24, choices=LineKind.choices)
    product = models.ForeignKey(
        "ledger.Product",
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # see Meta.indexes
    )
    corrects_period = models.DateField(_("corrects period"), null=True, blank=True)
    carried_from = models.ForeignKey(
        Settlement,
        verbose_name=_("carried from"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="carried_into_lines",
        db_index=False,  # a partial index: few lines carry a balance
    )
    dispute = models.ForeignKey(
        "settlement.SettlementDispute",
        verbose_name=_("dispute"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resolution_lines",
        db_index=False,  # a partial index: few lines resolve a dispute
    )
    transaction_count = models.BigIntegerField(
        _("transactions"),
        default=0,
        help_text=_("Attributed transactions counted whole: events plus reversals."),
    )
    reversal_count = models.BigIntegerField(_("reversals"), default=0)
    coserved_count = models.BigIntegerField(
        _("co-served transactions"), default=0, help_text=_("Of the transactions, those shared with other partners.")
    )
    coserved_net_count = models.DecimalField(
        _("co-served, by weight"),
        max_digits=18,
        decimal_places=6,
        default=Decimal("0"),
        help_text=_("What the co-served transactions count for: their weights, a reversal's negative."),
    )
    net_count = models.DecimalField(
        _("counted transactions"),
        max_digits=18,
        decimal_places=6,
        default=Decimal("0"),
        help_text=_("Co-served transactions count as their weight, reversals as minus their weight."),
    )
    volume = money_field(_("volume"), default=Decimal("0.00"))
    bank_revenue = money_field(_("bank revenue"), default=Decimal("0.00"))
    agreement_version = models.ForeignKey(
        "ledger.AgreementVersion",
        verbose_name=_("agreement version"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="settlement_lines",
        db_index=False,
    )
    rule_description = models.CharField(_("rule"), max_length=255, blank=True)
    effective_rate = models.DecimalField(_("effective rate"), max_digits=12, decimal_places=8, null=True, blank=True)
    previous_share = money_field(_("previously settled"), null=True, blank=True)
    share = money_field(_("share"))
    description = models.CharField(_("description"), max_length=255, blank=True)
    share_limit = models.CharField(
        _("limit applied"),
        max_length=16,
        blank=True,
        choices=ShareLimit.choices,
        help_text=_("What shaped the share beyond the rule's rate; empty when the rate alone did."),
    )
    tier_reached = models.PositiveSmallIntegerField(_("tier reached"), null=True, blank=True)
    tier_basis_figure = money_field(_("tier basis"), null=True, blank=True)

    class Meta:
        verbose_name = _("settlement line")
        verbose_name_plural = _("settlement lines")
        ordering = ["settlement_id", "position", "id"]
        indexes = [
            models.Index(fields=["settlement", "position"], name="settlement_settleline_pos"),
            # Every index costs on each of the tens of thousands of lines a close writes. Lines are
            # read by settlement; product and agreement version are not indexed (only deleting a
            # product or a version looks lines up by them, and a version a close used is locked);
            # the rare references are indexed where they are set only.
            models.Index(
                fields=["carried_from"],
                condition=models.Q(carried_from__isnull=False),
                name="settlement_settleline_carried",
            ),
            models.Index(
                fields=["dispute"], condition=models.Q(dispute__isnull=False), name="settlement_settleline_dispute"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=LineKind.values), name="settlement_settlementline_kind"),
            models.CheckConstraint(
                condition=models.Q(kind=LineKind.PRODUCT, product__isnull=False, corrects_period__isnull=True)
                | models.Q(kind=LineKind.ADJUSTMENT, product__isnull=False, corrects_period__isnull=False)
                | models.Q(kind=LineKind.CARRY_FORWARD, carried_from__isnull=False)
                | models.Q(kind=LineKind.DISPUTE_RESOLUTION, dispute__isnull=False),
                name="settlement_settlementline_shape",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.product or ''} {self.share}"

    @property
    def corrected_period(self) -> Period | None:
        return _period_of(self.corrects_period) if self.corrects_period else None

    @property
    def is_ledger_line(self) -> bool:
        return self.kind in (LineKind.PRODUCT, LineKind.ADJUSTMENT)

    @property
    def event_count(self) -> int:
        """The line's attributed transactions that are not reversals (with the reversals: ``transaction_count``)."""
        return self.transaction_count - self.reversal_count

    @property
    def corrected_label(self) -> str:
        """The period a line refers to, "YYYY-MM": the one an adjustment corrects, or a carried balance's."""
        if self.corrects_period:
            return str(self.corrected_period)
        if self.carried_from_id:
            return str(self.carried_from.period.period)
        return ""


class SettlementDispute(ConcurrentTransitionMixin, models.Model):
    """A partner's objection to a line of a closed settlement: open → resolved | rejected.

    A resolution with an amount becomes a ``dispute_resolution`` line of the
    settlement of ``adjust_period`` (the next open period); the disputed
    settlement itself is never edited.
    """

    line = models.ForeignKey(SettlementLine, verbose_name=_("line"), on_delete=models.PROTECT, related_name="disputes")
    settlement = models.ForeignKey(
        Settlement, verbose_name=_("settlement"), on_delete=models.PROTECT, related_name="disputes"
    )
    raised_by = models.ForeignKey(_USER, verbose_name=_("raised by"), on_delete=models.PROTECT, related_name="+")
    raised_at = models.DateTimeField(_("raised at"))
    comment = models.TextField(_("comment"))
    state = FSMField(_("state"), max_length=16, choices=DisputeState.choices, default=DisputeState.OPEN, protected=True)
    resolved_by = models.ForeignKey(
        _USER, verbose_name=_("resolved by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution_comment = models.TextField(_("resolution"), blank=True)
    resolution_amount = money_field(
        _("adjustment amount"),
        null=True,
        blank=True,
        help_text=_("Paid to the partner (positive) or recovered (negative) in the next open period."),
    )
    adjust_period = models.ForeignKey(
        SettlementPeriod,
        verbose_name=_("adjusted in period"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="dispute_adjustments",
    )

    class Meta:
        verbose_name = _("settlement dispute")
        verbose_name_plural = _("settlement disputes")
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["adjust_period", "state"], name="settlement_dispute_adjust")]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=DisputeState.values), name="settlement_dispute_state"),
            models.UniqueConstraint(
                fields=["line"],
                condition=models.Q(state=DisputeState.OPEN),
                name="settlement_dispute_one_open_per_line",
                violation_error_message=_("This line already has an open dispute."),
            ),
            models.CheckConstraint(
                condition=~models.Q(state=DisputeState.RESOLVED)
                | (models.Q(resolution_amount__isnull=False) & models.Q(adjust_period__isnull=False)),
                name="settlement_dispute_resolution_has_amount",
            ),
        ]
        permissions = [
            ("raise_settlement_dispute", _("Can dispute a line of the own partner's settlement")),
            ("resolve_settlement_dispute", _("Can resolve or reject a settlement dispute")),
        ]

    def __str__(self) -> str:
        return f"{self.settlement} · {self.get_state_display()}"

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=DisputeState.OPEN, target=DisputeState.RESOLVED)
    def resolve(self, by=None, description=None) -> None:
        """The bank accepts (part of) the claim; the amount settles in the next open period."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=DisputeState.OPEN, target=DisputeState.REJECTED)
    def reject(self, by=None, description=None) -> None:
        """The bank rejects the claim, saying why."""

    @property
    def is_open(self) -> bool:
        return self.state == DisputeState.OPEN
