"""The money-in side: the product catalogue, revenue-share agreements and the transaction ledger.

Agreements
    An :class:`Agreement` is the revenue-share deal for one product, either the
    default of a partner type or one partner's own (which overrides the
    default). Its terms live in :class:`AgreementVersion` rows with effective
    dates ``[valid_from, valid_to)``; two versions of one agreement never
    overlap (an exclusion constraint on PostgreSQL, a locked check in
    ``revenue.ledger.services.agreements`` everywhere). A version used by a settlement
    is locked (``locked_at``) and can no longer be edited: a change is a new version.

Ledger
    :class:`Transaction` rows are append-only: the ORM (``save``/``delete``),
    the queryset (``update``/``delete``), the admin (read-only) and the
    database's triggers refuse to change booked rows. A correction is a
    reversal (``kind=reversal``, ``reverses`` the original, at most once) plus
    a new event. Each transaction is attributed to one or more partners by
    :class:`TransactionAttribution` rows whose weights add up to exactly 1 and
    whose amounts add back exactly to the transaction's (largest-remainder split).

    The attribution rows carry what a settlement aggregates (product, occurred
    at, attributed amount and revenue, the partner's active flag) so that a
    month's figures per partner and product come from one scan of one table.

    Booked rows are append-only in the database too: triggers refuse UPDATE,
    DELETE and TRUNCATE of both tables (``revenue/ledger/sql``), and the
    attributions of a transaction must weigh exactly 1 and add back to it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Case, F, When
from django.db.models.functions import Cast, Round
from django.utils.translation import gettext_lazy as _

from core.money import money_field
from onboarding.models import PartnerType
from revenue.ledger.choices import (
    LEDGER_CURRENCY,
    TIERED_KINDS,
    IngestionChannel,
    RevenueKind,
    RuleKind,
    TierBasis,
    TransactionKind,
)
from revenue.ledger.errors import ImmutableRecord

RATE_MAX_DIGITS = 7
RATE_DECIMAL_PLACES = 6


def rate_field(verbose_name, **kwargs) -> models.DecimalField:
    """A fraction between 0 and 1 with six decimals (0.300000 = 30%)."""
    return models.DecimalField(verbose_name, max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES, **kwargs)


class Product(models.Model):
    """A bank product that partners distribute, and the kind of revenue the bank earns from it."""

    code = models.CharField(
        _("code"),
        max_length=32,
        unique=True,
        validators=[RegexValidator(r"^[A-Z][A-Z0-9_]*$", _("Use capital letters, digits and underscores."))],
        help_text=_("The code source systems send, e.g. PAY_SETTLE."),
    )
    name = models.CharField(_("name"), max_length=64)
    revenue_kind = models.CharField(_("revenue kind"), max_length=32, choices=RevenueKind.choices)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(
        _("offered"), default=True, help_text=_("Withdrawn products keep their history and still accept late events.")
    )

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(revenue_kind__in=RevenueKind.values), name="ledger_product_revenue_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Agreement(models.Model):
    """The revenue-share deal for one product: a partner type's default, or one partner's own."""

    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="agreements")
    partner_type = models.CharField(
        _("default for partner type"), max_length=32, choices=PartnerType.choices, blank=True
    )
    partner = models.ForeignKey(
        "onboarding.Partner",
        verbose_name=_("partner's own agreement"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_agreements",
    )
    reference = models.CharField(_("contract reference"), max_length=64, blank=True)
    # Bumped by every version write: the first statement of such a write, so that
    # concurrent writers of one agreement queue behind each other (see services).
    revision = models.PositiveIntegerField(_("revision"), default=0, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("revenue-share agreement")
        verbose_name_plural = _("revenue-share agreements")
        ordering = ["product__code", "partner_type", "partner_id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(partner__isnull=True) & ~models.Q(partner_type=""))
                | (models.Q(partner__isnull=False) & models.Q(partner_type="")),
                name="ledger_agreement_type_default_or_partner",
                violation_error_message=_("An agreement is either a partner type's default or one partner's own."),
            ),
            models.UniqueConstraint(
                fields=["product", "partner_type"],
                condition=models.Q(partner__isnull=True),
                name="ledger_agreement_one_default_per_type",
                violation_error_message=_("This partner type already has a default agreement for the product."),
            ),
            models.UniqueConstraint(
                fields=["product", "partner"],
                condition=models.Q(partner__isnull=False),
                name="ledger_agreement_one_per_partner",
                violation_error_message=_("This partner already has its own agreement for the product."),
            ),
        ]

    def __str__(self) -> str:
        scope = self.partner if self.partner_id else self.get_partner_type_display()
        return f"{self.product.code} · {scope}"

    @property
    def is_default(self) -> bool:
        return self.partner_id is None


class AgreementVersion(models.Model):
    """The terms of an agreement from ``valid_from`` (inclusive) to ``valid_to`` (exclusive, open when empty).

    Rule kinds: a percentage of bank revenue (``rate``); a fixed amount per
    transaction (``fixed_amount``); tiered, progressive or retroactive, by the
    ``tier_basis`` figure with :class:`AgreementTier` brackets. ``floor`` and
    ``cap`` bound the share of a period. See :mod:`revenue.calculations`.
    """

    agreement = models.ForeignKey(
        Agreement, verbose_name=_("agreement"), on_delete=models.PROTECT, related_name="versions"
    )
    number = models.PositiveIntegerField(_("version"), editable=False)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid until (exclusive)"), null=True, blank=True)
    rule_kind = models.CharField(_("rule"), max_length=32, choices=RuleKind.choices)
    rate = rate_field(_("rate"), null=True, blank=True, help_text=_("A fraction: 0.300000 is 30%."))
    fixed_amount = money_field(_("fixed amount per transaction (CNY)"), null=True, blank=True)
    tier_basis = models.CharField(_("tier basis"), max_length=32, choices=TierBasis.choices, blank=True)
    floor = money_field(_("floor per period (CNY)"), null=True, blank=True)
    cap = money_field(_("cap per period (CNY)"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    # Set when a settlement used this version; from then on the version is frozen.
    locked_at = models.DateTimeField(_("used in a settlement at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("agreement version")
        verbose_name_plural = _("agreement versions")
        ordering = ["agreement_id", "valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "number"], name="ledger_version_number_unique"),
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gt=models.F("valid_from")),
                name="ledger_version_period_ordered",
                violation_error_message=_("A version must end after it starts."),
            ),
            models.CheckConstraint(
                condition=models.Q(rule_kind__in=RuleKind.values), name="ledger_version_rule_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(rate__isnull=True) | (models.Q(rate__gte=0) & models.Q(rate__lte=1)),
                name="ledger_version_rate_range",
                violation_error_message=_("A rate is a fraction between 0 and 1."),
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(
                        rule_kind=RuleKind.PERCENTAGE, rate__isnull=False, fixed_amount__isnull=True, tier_basis=""
                    )
                    | models.Q(
                        rule_kind=RuleKind.FIXED_PER_TRANSACTION,
                        fixed_amount__isnull=False,
                        rate__isnull=True,
                        tier_basis="",
                    )
                    | (
                        models.Q(rule_kind__in=TIERED_KINDS, rate__isnull=True, fixed_amount__isnull=True)
                        & models.Q(tier_basis__in=TierBasis.values)
                    )
                ),
                name="ledger_version_rule_fields",
                violation_error_message=_(
                    "A percentage needs a rate, a fixed rule a fixed amount and a tiered rule a tier basis "
                    "(and nothing else)."
                ),
            ),
            models.CheckConstraint(
                condition=(models.Q(fixed_amount__isnull=True) | models.Q(fixed_amount__gte=0))
                & (models.Q(floor__isnull=True) | models.Q(floor__gte=0))
                & (models.Q(cap__isnull=True) | models.Q(cap__gte=0)),
                name="ledger_version_amounts_not_negative",
                violation_error_message=_("Amounts of a rule cannot be negative."),
            ),
            models.CheckConstraint(
                condition=models.Q(floor__isnull=True)
                | models.Q(cap__isnull=True)
                | models.Q(cap__gte=models.F("floor")),
                name="ledger_version_cap_above_floor",
                violation_error_message=_("The cap cannot be below the floor."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agreement} v{self.number}"

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    def clean(self) -> None:
        super().clean()
        # Tiers already saved with the version must still form contiguous brackets from zero.
        if self.pk and self.rule_kind in TIERED_KINDS:
            from revenue.calculations import TierBracket, tier_brackets_problems

            brackets = [TierBracket(t.lower_bound, t.upper_bound, t.rate) for t in self.tiers.all()]
            problems = tier_brackets_problems(brackets)
            if problems:
                raise ValidationError(problems)


class AgreementTier(models.Model):
    """One slab of a tiered version: figures from ``lower_bound`` (inclusive) to ``upper_bound`` (exclusive)."""

    version = models.ForeignKey(
        AgreementVersion, verbose_name=_("version"), on_delete=models.CASCADE, related_name="tiers"
    )
    lower_bound = money_field(_("from (CNY)"))
    upper_bound = money_field(_("up to, exclusive (CNY)"), null=True, blank=True, help_text=_("Empty: no limit."))
    rate = rate_field(_("rate"), help_text=_("A fraction of bank revenue: 0.300000 is 30%."))

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["version_id", "lower_bound"]
        constraints = [
            models.UniqueConstraint(fields=["version", "lower_bound"], name="ledger_tier_lower_bound_unique"),
            models.CheckConstraint(condition=models.Q(lower_bound__gte=0), name="ledger_tier_lower_not_negative"),
            models.CheckConstraint(
                condition=models.Q(upper_bound__isnull=True) | models.Q(upper_bound__gt=models.F("lower_bound")),
                name="ledger_tier_upper_above_lower",
                violation_error_message=_("A slab must end above where it starts."),
            ),
            models.CheckConstraint(
                condition=models.Q(rate__gte=0) & models.Q(rate__lte=1),
                name="ledger_tier_rate_range",
                violation_error_message=_("A rate is a fraction between 0 and 1."),
            ),
        ]

    def __str__(self) -> str:
        upper = self.upper_bound if self.upper_bound is not None else "∞"
        return f"[{self.lower_bound}, {upper}) @ {self.rate}"


SOURCE_CODE_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$",
    _("A source system code is 1 to 32 letters, digits, '.', '_' or '-', e.g. payments."),
)


class SourceSystem(models.Model):
    """A registered system that reports attributable transactions (payments, lending, account opening).

    Its code names the transactions it sends (external ids are unique per
    source); its API account holds the token it posts batches with. An
    inactive source's files and batches are refused; what it booked stays.
    """

    code = models.CharField(_("code"), max_length=32, unique=True, validators=[SOURCE_CODE_VALIDATOR])
    name = models.CharField(_("name"), max_length=64)
    is_active = models.BooleanField(_("active"), default=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("API account"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="source_system",
        help_text=_("The account whose API token the system posts batches with (none: files only)."),
    )
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("source system")
        verbose_name_plural = _("source systems")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class IngestionBatch(models.Model):
    """One accepted batch of transactions: who sent it, how, and what it added."""

    source = models.ForeignKey(
        SourceSystem,
        verbose_name=_("source system"),
        to_field="code",
        db_column="source",
        on_delete=models.PROTECT,
        related_name="batches",
    )
    # A file's SHA-256 (files and uploads; empty for API batches): the same file is not booked twice by mistake.
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64, blank=True, db_index=True)
    channel = models.CharField(_("channel"), max_length=16, choices=IngestionChannel.choices)
    filename = models.CharField(_("file name"), max_length=255, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("received from"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    received_at = models.DateTimeField(_("received at"))
    rows_received = models.PositiveIntegerField(_("rows received"), default=0)
    rows_created = models.PositiveIntegerField(_("transactions booked"), default=0)
    rows_duplicate = models.PositiveIntegerField(_("duplicates ignored"), default=0)

    class Meta:
        verbose_name = _("ingestion batch")
        verbose_name_plural = _("ingestion batches")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.source_id} {self.received_at:%Y-%m-%d %H:%M} ({self.rows_created})"


class LedgerQuerySet(models.QuerySet):
    """Querysets of append-only rows: bulk updates, upserts and deletes are refused."""

    def bulk_create(self, objs, *args, update_conflicts=False, **kwargs):
        # An upsert would rewrite a booked row (the database's guard refuses it too).
        if update_conflicts:
            raise ImmutableRecord()
        return super().bulk_create(objs, *args, **kwargs)

    def update_or_create(self, *args, **kwargs):
        raise ImmutableRecord()

    def update(self, **kwargs):
        raise ImmutableRecord()

    def bulk_update(self, objs, fields, batch_size=None):
        raise ImmutableRecord()

    def delete(self):
        raise ImmutableRecord()

    delete.queryset_only = True


class LedgerRow(models.Model):
    """Shared append-only behaviour: a row can be inserted once and never saved again or deleted."""

    objects = LedgerQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRecord()
        kwargs["force_insert"] = True
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecord()


class TransactionQuerySet(LedgerQuerySet):
    def visible_to_partner(self, partner_id: int):
        return self.filter(attributions__partner_id=partner_id)


class Transaction(LedgerRow):
    """A revenue-bearing event booked from a source system, attributed to one or more partners."""

    batch = models.ForeignKey(
        IngestionBatch,
        verbose_name=_("batch"),
        on_delete=models.PROTECT,
        db_index=False,
        related_name="transactions",
    )
    # Led by the (source, external id) unique index.
    source = models.ForeignKey(
        SourceSystem,
        verbose_name=_("source system"),
        to_field="code",
        db_column="source",
        on_delete=models.PROTECT,
        db_index=False,
        related_name="+",
    )
    external_id = models.CharField(_("external id"), max_length=64)
    kind = models.CharField(_("kind"), max_length=8, choices=TransactionKind.choices, default=TransactionKind.NORMAL)
    reverses = models.ForeignKey(
        "self",
        verbose_name=_("reverses"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="reversals",
    )
    sme_id = models.CharField(_("SME id"), max_length=64)
    sme_name = models.CharField(_("SME name"), max_length=128, blank=True)
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        db_index=False,
        related_name="transactions",
    )
    branch = models.ForeignKey(
        "organisation.Branch",
        verbose_name=_("branch"),
        on_delete=models.PROTECT,
        db_index=False,
        related_name="ledger_transactions",
    )
    amount = money_field(_("amount"))
    bank_revenue = money_field(_("bank revenue (CNY)"))
    currency = models.CharField(_("currency"), max_length=3, default=LEDGER_CURRENCY)
    occurred_at = models.DateTimeField(_("occurred at"))
    booked_at = models.DateTimeField(_("booked at"))
    # False when an attributed partner was not active when the event happened: kept, but it earns no share.
    partner_active = models.BooleanField(_("partners active"))
    # Digest of the submitted content: a replay with the same id and digest is a duplicate, not a conflict.
    content_hash = models.UUIDField(_("content digest"), editable=False)

    objects = TransactionQuerySet.as_manager()

    class Meta:
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["occurred_at"], name="ledger_txn_occurred_at")]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                name="ledger_transaction_source_external_id",
                violation_error_message=_("This source already sent a transaction with this external id."),
            ),
            models.UniqueConstraint(
                fields=["reverses"],
                condition=models.Q(reverses__isnull=False),
                name="ledger_transaction_reversed_once",
                violation_error_message=_("This transaction is already reversed."),
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind=TransactionKind.NORMAL, reverses__isnull=True, amount__gte=0, bank_revenue__gte=0)
                    | models.Q(
                        kind=TransactionKind.REVERSAL, reverses__isnull=False, amount__lte=0, bank_revenue__lte=0
                    )
                ),
                name="ledger_transaction_kind_shape",
                violation_error_message=_(
                    "A normal event has non-negative amounts and reverses nothing; a reversal has non-positive "
                    "amounts and names what it reverses."
                ),
            ),
        ]
        permissions = [
            ("ingest_transactions", _("Can post transactions through the API (source systems)")),
            ("import_transactions", _("Can import transaction files in the admin")),
            ("view_partner_transactions", _("Can read the own partner's attributed transactions")),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.external_id}"

    @property
    def is_reversal(self) -> bool:
        return self.kind == TransactionKind.REVERSAL


class TransactionAttribution(LedgerRow):
    """The part of a transaction attributed to one partner (weight, and the exact split of its amounts).

    The weights of a transaction add up to 1; ``amount`` and ``bank_revenue``
    are the transaction's split with :func:`core.money.allocate`, so they add
    back exactly. Product, time, kind and the partner's active flag are copied
    from the transaction so a settlement aggregates this table alone.
    """

    transaction = models.ForeignKey(
        Transaction,
        verbose_name=_("transaction"),
        on_delete=models.PROTECT,
        db_index=False,  # the (transaction, partner) unique index serves lookups by transaction
        related_name="attributions",
    )
    partner = models.ForeignKey(
        "onboarding.Partner",
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        db_index=False,  # led by the (partner, occurred_at) index
        related_name="attributed_transactions",
    )
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        db_index=False,
        related_name="+",
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    is_reversal = models.BooleanField(_("reversal"), default=False)
    weight = rate_field(_("weight"))
    amount = money_field(_("attributed amount"))
    bank_revenue = money_field(_("attributed bank revenue (CNY)"))
    partner_active = models.BooleanField(_("partner active"))
    # The same figures as integers, written by the database with the row: a settlement sums a month
    # of them exactly on every database, and integer sums cost a fraction of decimal ones.
    amount_fen = models.GeneratedField(
        expression=Cast(Round(F("amount") * 100), models.BigIntegerField()),
        output_field=models.BigIntegerField(_("attributed amount (fen)")),
        db_persist=True,
    )
    bank_revenue_fen = models.GeneratedField(
        expression=Cast(Round(F("bank_revenue") * 100), models.BigIntegerField()),
        output_field=models.BigIntegerField(_("attributed bank revenue (fen)")),
        db_persist=True,
    )
    net_count_micro = models.GeneratedField(
        # What the attribution adds to the net count (a reversal takes it away), in millionths.
        expression=Cast(
            Round(Case(When(is_reversal=True, then=F("weight") * -1), default=F("weight")) * 1000000),
            models.BigIntegerField(),
        ),
        output_field=models.BigIntegerField(_("net count (millionths)")),
        db_persist=True,
    )

    class Meta:
        verbose_name = _("attribution")
        verbose_name_plural = _("attributions")
        ordering = ["transaction_id", "partner_id"]
        # A partner's figures over a period and its own list (settlement chunks, API). A whole
        # month across partners is read through an index on occurred_at that is BRIN on PostgreSQL
        # (revenue/ledger/sql; a plain index on SQLite): rows arrive roughly in time order, and a
        # B-tree led by the time costs a bulk load more than a third again for what BRIN does as well.
        indexes = [models.Index(fields=["partner", "occurred_at"], name="ledger_attr_partner_occurred")]
        constraints = [
            models.UniqueConstraint(fields=["transaction", "partner"], name="ledger_attribution_once_per_partner"),
            models.CheckConstraint(
                condition=models.Q(weight__gt=0) & models.Q(weight__lte=1),
                name="ledger_attribution_weight_range",
                violation_error_message=_("An attribution weight is more than 0 and at most 1."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id} → {self.partner_id} × {self.weight}"
