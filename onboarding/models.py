from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField

from core.money import money_field
from onboarding.validators import validate_uscc


class PartnerType(models.TextChoices):
    INTERNET_PLATFORM = "internet_platform", _("Internet platform")
    SOFTWARE_DATA = "software_data", _("Software and data service provider")
    HARDWARE = "hardware", _("Hardware service provider")
    SUPPLY_CHAIN = "supply_chain", _("Supply-chain scenario")
    PE_VC = "pe_vc", _("PE/VC digital venture firm")


class AdmissionState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    UNDER_REVIEW = "under_review", _("Under review")
    NEEDS_INFO = "needs_info", _("Needs more information")
    RESUBMITTED = "resubmitted", _("Resubmitted")
    PENDING_HEAD_OFFICE = "pending_head_office", _("Awaiting head-office approval")
    APPROVED = "approved", _("Approved")
    CONTRACTED = "contracted", _("Contracted")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    REJECTED = "rejected", _("Rejected")
    TERMINATED = "terminated", _("Terminated")


class RiskRating(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class PartnerTier(models.TextChoices):
    STANDARD = "standard", _("Standard")
    SILVER = "silver", _("Silver")
    GOLD = "gold", _("Gold")


class Partner(ConcurrentTransitionMixin, models.Model):
    """A service provider (服务商) and its admission case.

    ``state`` is the admission state machine; it is protected and changes only
    through the transition services in ``onboarding.services``.
    """

    partner_type = models.CharField(_("partner type"), max_length=32, choices=PartnerType.choices)
    legal_name = models.CharField(_("legal name"), max_length=128)
    credit_code = models.CharField(
        _("unified social credit code"),
        max_length=18,
        unique=True,
        validators=[validate_uscc],
        error_messages={"unique": _("A partner with this unified social credit code already exists.")},
    )
    legal_representative = models.CharField(_("legal representative"), max_length=64)
    registered_capital = money_field(_("registered capital (CNY)"), default=Decimal("0.00"))
    contact_name = models.CharField(_("contact name"), max_length=64, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    settlement_account_name = models.CharField(_("settlement account name"), max_length=128, blank=True)
    settlement_bank = models.CharField(_("settlement bank"), max_length=128, blank=True)
    settlement_account_no = models.CharField(_("settlement account number"), max_length=40, blank=True)
    branch = models.ForeignKey(
        "organisation.Branch", verbose_name=_("owning branch"), on_delete=models.PROTECT, related_name="partners"
    )
    relationship_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("relationship manager"),
        on_delete=models.PROTECT,
        related_name="managed_partners",
    )
    risk_rating = models.CharField(
        _("risk rating"), max_length=16, choices=RiskRating.choices, default=RiskRating.MEDIUM
    )
    tier = models.CharField(_("tier"), max_length=16, choices=PartnerTier.choices, default=PartnerTier.STANDARD)
    # VAT on the partner's service fee: 6% for general taxpayers, less for small-scale ones.
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=4, default=Decimal("0.0600"))
    state = FSMField(
        _("admission state"),
        max_length=32,
        choices=AdmissionState.choices,
        default=AdmissionState.DRAFT,
        protected=True,
        db_index=True,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["branch", "state"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(vat_rate__gte=0) & models.Q(vat_rate__lt=1),
                name="onboarding_partner_vat_rate_range",
            ),
            models.CheckConstraint(
                condition=models.Q(registered_capital__gte=0), name="onboarding_partner_capital_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.legal_name


class PartnerActivePeriod(models.Model):
    """An interval during which a partner was active and so earns a share.

    Opened when a partner becomes active, closed when it is suspended or
    terminated, by the admission services. Revenue uses these intervals to
    flag events attributed to a partner that was not active when they happened.
    """

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="active_periods")
    started_at = models.DateTimeField(_("active from"))
    ended_at = models.DateTimeField(_("active until"), null=True, blank=True)

    class Meta:
        verbose_name = _("active period")
        verbose_name_plural = _("active periods")
        ordering = ["partner", "started_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True) | models.Q(ended_at__gte=models.F("started_at")),
                name="onboarding_active_period_ends_after_start",
            ),
            models.UniqueConstraint(
                fields=["partner"],
                condition=models.Q(ended_at__isnull=True),
                name="onboarding_one_open_active_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} {self.started_at:%Y-%m-%d} – {self.ended_at or '…'}"
