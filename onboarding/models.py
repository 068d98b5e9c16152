from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description

from core.money import money_field
from core.storage import private_storage
from onboarding.documents import DOCUMENT_EXTENSIONS, DocumentType
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


class CaseOrigin(models.TextChoices):
    STAFF = "staff", _("Prepared by bank staff")
    SELF_APPLICATION = "self_application", _("Applied in the portal")


class PartnerTier(models.TextChoices):
    STANDARD = "standard", _("Standard")
    SILVER = "silver", _("Silver")
    GOLD = "gold", _("Gold")


# States in which an admission case is still open, so it can still be rejected.
OPEN_STATES = (
    AdmissionState.DRAFT,
    AdmissionState.SUBMITTED,
    AdmissionState.UNDER_REVIEW,
    AdmissionState.NEEDS_INFO,
    AdmissionState.RESUBMITTED,
    AdmissionState.PENDING_HEAD_OFFICE,
    AdmissionState.APPROVED,
    AdmissionState.CONTRACTED,
)
# States in which the RM may still edit the case and its evidence.
EDITABLE_STATES = (AdmissionState.DRAFT, AdmissionState.NEEDS_INFO)


# ---- Transition conditions: pure (they read, never write) ----------------------------------


def has_required_evidence(partner: Partner) -> bool:
    """every required evidence item of the type is recorded"""
    from onboarding.selectors import evidence_missing

    return not evidence_missing(partner=partner)


def has_no_evidence_needing_revision(partner: Partner) -> bool:
    """no evidence item is still marked for revision"""
    from onboarding.selectors import evidence_needing_revision

    return not evidence_needing_revision(partner=partner)


def has_all_evidence_accepted(partner: Partner) -> bool:
    """every required evidence item is accepted"""
    from onboarding.selectors import evidence_not_accepted

    return not evidence_not_accepted(partner=partner)


def needs_head_office_approval(partner: Partner) -> bool:
    """high risk or PE/VC"""
    return partner.risk_rating == RiskRating.HIGH or partner.partner_type == PartnerType.PE_VC


def needs_no_head_office_approval(partner: Partner) -> bool:
    """neither high risk nor PE/VC"""
    return not needs_head_office_approval(partner)


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
    # The one reviewer who decides the case while it is under review (head office may step in).
    assigned_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned reviewer"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="partners_to_review",
    )
    # Who prepared the case; a maker, so never its approver (maker-checker).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("prepared by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Where the case came from: prepared by an RM in the admin, or a company's own application in the portal.
    origin = models.CharField(_("origin"), max_length=24, choices=CaseOrigin.choices, default=CaseOrigin.STAFF)
    # When the next periodic re-review (年审) is due; set on activation and on each approved re-review.
    next_review_on = models.DateField(_("next re-review due"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["branch", "state"])]
        permissions = [
            ("submit_partner", _("Can submit and resubmit an admission case")),
            ("review_partner", _("Can review an admission case and decide its evidence")),
            ("approve_partner", _("Can approve an admission case (branch level)")),
            ("approve_partner_head_office", _("Can give the head-office approval of an admission case")),
            ("reject_partner", _("Can reject an admission case")),
            ("contract_partner", _("Can record the signed contract of an approved partner")),
            ("activate_partner", _("Can activate or reinstate a partner")),
            ("suspend_partner", _("Can suspend an active partner")),
            ("terminate_partner", _("Can terminate a partner")),
            ("import_partner", _("Can import partners from a file")),
            ("change_partner_tier", _("Can change a partner's tier")),
        ]
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

    # ---- Admission workflow -------------------------------------------------------------
    # Transitions are called only by the services in ``onboarding.services.admission``,
    # which check scope, permission and maker-checker, lock the row, save and log.
    # ``by``/``description`` are recorded in the django-fsm-log StateLog (who and why).

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=AdmissionState.DRAFT,
        target=AdmissionState.SUBMITTED,
        conditions=[has_required_evidence],
        permission="onboarding.submit_partner",
    )
    def submit(self, by=None, description=None) -> None:
        """The RM submits the prepared case for review."""

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=[AdmissionState.SUBMITTED, AdmissionState.RESUBMITTED, AdmissionState.UNDER_REVIEW],
        target=AdmissionState.UNDER_REVIEW,
        permission="onboarding.review_partner",
    )
    def assign_reviewer(self, reviewer, by=None, description=None) -> None:
        """A reviewer takes the case (or is given it); from under review this hands it over."""
        self.assigned_reviewer = reviewer

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=AdmissionState.UNDER_REVIEW,
        target=AdmissionState.NEEDS_INFO,
        permission="onboarding.review_partner",
    )
    def request_info(self, by=None, description=None) -> None:
        """The reviewer sends the case back naming the evidence to fix."""

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=AdmissionState.NEEDS_INFO,
        target=AdmissionState.RESUBMITTED,
        conditions=[has_required_evidence, has_no_evidence_needing_revision],
        permission="onboarding.submit_partner",
    )
    def resubmit(self, by=None, description=None) -> None:
        """The RM resubmits after fixing what the reviewer asked for."""

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=AdmissionState.UNDER_REVIEW,
        target=AdmissionState.APPROVED,
        conditions=[has_all_evidence_accepted, needs_no_head_office_approval],
        permission="onboarding.approve_partner",
    )
    def approve(self, by=None, description=None) -> None:
        """The branch approves a case that needs no head-office approval."""

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=AdmissionState.UNDER_REVIEW,
        target=AdmissionState.PENDING_HEAD_OFFICE,
        conditions=[has_all_evidence_accepted, needs_head_office_approval],
        permission="onboarding.approve_partner",
    )
    def refer_to_head_office(self, by=None, description=None) -> None:
        """The branch approves a high-risk or PE/VC case, which then awaits head office."""

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=AdmissionState.PENDING_HEAD_OFFICE,
        target=AdmissionState.APPROVED,
        conditions=[has_all_evidence_accepted],
        permission="onboarding.approve_partner_head_office",
    )
    def approve_head_office(self, by=None, description=None) -> None:
        """Head office gives the second approval."""

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=AdmissionState.APPROVED,
        target=AdmissionState.CONTRACTED,
        permission="onboarding.contract_partner",
    )
    def sign_contract(self, by=None, description=None) -> None:
        """The cooperation agreement is signed."""

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=AdmissionState.CONTRACTED,
        target=AdmissionState.ACTIVE,
        permission="onboarding.activate_partner",
    )
    def activate(self, by=None, description=None) -> None:
        """The partner goes live and starts earning a share."""

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=AdmissionState.ACTIVE,
        target=AdmissionState.SUSPENDED,
        permission="onboarding.suspend_partner",
    )
    def suspend(self, by=None, description=None) -> None:
        """The partner stops earning a share for a while."""

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=AdmissionState.SUSPENDED,
        target=AdmissionState.ACTIVE,
        permission="onboarding.activate_partner",
    )
    def reinstate(self, by=None, description=None) -> None:
        """A suspended partner is active again."""

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=list(OPEN_STATES),
        target=AdmissionState.REJECTED,
        permission="onboarding.reject_partner",
    )
    def reject(self, by=None, description=None) -> None:
        """The case is turned down (final)."""

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=state,
        source=[AdmissionState.ACTIVE, AdmissionState.SUSPENDED],
        target=AdmissionState.TERMINATED,
        permission="onboarding.terminate_partner",
    )
    def terminate(self, by=None, description=None) -> None:
        """The cooperation ends (final)."""

    @property
    def needs_head_office(self) -> bool:
        return needs_head_office_approval(self)


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


class EvidenceRequirementManager(models.Manager):
    def get_by_natural_key(self, partner_type: str, code: str) -> EvidenceRequirement:
        return self.get(partner_type=partner_type, code=code)


class EvidenceRequirement(models.Model):
    """One piece of admission evidence a partner type must provide, declared as data.

    The requirements are rows rather than code so head office can add, reword
    or retire a requirement in the admin when policy changes, without a
    release; the initial set (one per item of the admission policy, per type)
    is seeded by a data migration. A requirement with ``is_required`` blocks
    submission and approval until its evidence item is recorded and accepted;
    an optional one is collected but blocks nothing. Evidence items point at
    their requirement with a protected foreign key, so a requirement that has
    evidence cannot be deleted, only made optional.
    """

    partner_type = models.CharField(_("partner type"), max_length=32, choices=PartnerType.choices)
    code = models.SlugField(_("code"), max_length=48)
    name = models.CharField(_("name"), max_length=128)
    description = models.CharField(_("what to provide"), max_length=255, blank=True)
    is_required = models.BooleanField(_("required"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    objects = EvidenceRequirementManager()

    class Meta:
        verbose_name = _("evidence requirement")
        verbose_name_plural = _("evidence requirements")
        ordering = ["partner_type", "sort_order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["partner_type", "code"], name="onboarding_requirement_code_per_type"),
        ]

    def __str__(self) -> str:
        return self.name

    def natural_key(self) -> tuple[str, str]:
        return (self.partner_type, self.code)


class EvidenceDecision(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    NEEDS_REVISION = "needs_revision", _("Needs revision")


def evidence_upload_to(item: EvidenceItem, filename: str) -> str:
    """A name the server chooses: random, with the extension of the type read from the content, never the upload's."""
    extension = DOCUMENT_EXTENSIONS[item.document_type]
    return f"evidence/{item.partner_id}/{item.requirement.code}/{uuid4().hex}{extension}"


class EvidenceItem(models.Model):
    """The evidence a partner gave for one requirement, and the reviewer's decision on it.

    Recording new evidence resets the decision to pending: a reviewer accepts
    exactly what is on file. The document is a PDF, JPEG or PNG (checked by
    content, see ``onboarding.documents``) kept in the private storage under a
    name the server chose; staff read it only through the partner admin's
    download view, which records every download (``EvidenceDownload``).
    """

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.CASCADE, related_name="evidence_items"
    )
    requirement = models.ForeignKey(
        EvidenceRequirement, verbose_name=_("evidence requirement"), on_delete=models.PROTECT, related_name="items"
    )
    reference = models.CharField(
        _("reference"), max_length=255, blank=True, help_text=_("Number, registration or value as on the document.")
    )
    document = models.FileField(
        _("document"), upload_to=evidence_upload_to, storage=private_storage, blank=True, max_length=255
    )
    document_name = models.CharField(
        _("file name"), max_length=255, blank=True, help_text=_("The document's name as uploaded.")
    )
    document_type = models.CharField(_("document type"), max_length=32, choices=DocumentType.choices, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"), null=True, blank=True)
    # A licence's end of validity: a re-review opens REREVIEW_LEAD_DAYS before it.
    expires_on = models.DateField(_("valid until"), null=True, blank=True)
    decision = models.CharField(
        _("decision"), max_length=16, choices=EvidenceDecision.choices, default=EvidenceDecision.PENDING
    )
    decision_reason = models.CharField(_("reason"), max_length=255, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("evidence item")
        verbose_name_plural = _("evidence items")
        ordering = ["partner", "requirement__sort_order", "requirement__code"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "requirement"], name="onboarding_one_item_per_requirement"),
            # A reviewer who asks for a revision must say why.
            models.CheckConstraint(
                condition=~models.Q(decision=EvidenceDecision.NEEDS_REVISION) | ~models.Q(decision_reason=""),
                name="onboarding_revision_has_reason",
            ),
            # Only recorded evidence can be accepted.
            models.CheckConstraint(
                condition=~models.Q(decision=EvidenceDecision.ACCEPTED) | ~models.Q(reference=""),
                name="onboarding_accepted_item_has_reference",
            ),
            # A document has the type read from its content; no document, no type.
            models.CheckConstraint(
                condition=models.Q(document="", document_type="")
                | (~models.Q(document="") & models.Q(document_type__in=DocumentType.values)),
                name="onboarding_document_has_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} · {self.requirement}"

    @property
    def is_recorded(self) -> bool:
        return bool(self.reference.strip())


class EvidenceDownload(models.Model):
    """One download of an evidence document by bank staff: who, when, which item and which stored file."""

    item = models.ForeignKey(
        EvidenceItem, verbose_name=_("evidence item"), on_delete=models.PROTECT, related_name="downloads"
    )
    # The file as it was at the time: a later replacement of the document does not blur what was read.
    document = models.CharField(_("stored file"), max_length=255)
    document_name = models.CharField(_("file name"), max_length=255, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("downloaded by"), on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("evidence download")
        verbose_name_plural = _("evidence downloads")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} · {self.item} · {timezone.localtime(self.at):%Y-%m-%d %H:%M}"


class PartnerTierChange(models.Model):
    """One change of a partner's tier (普通/银牌/金牌): who, when, from, to and why."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="tier_changes")
    from_tier = models.CharField(_("from tier"), max_length=16, choices=PartnerTier.choices)
    to_tier = models.CharField(_("to tier"), max_length=16, choices=PartnerTier.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("changed by"), on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed at"))
    reason = models.CharField(_("reason"), max_length=255)

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["partner", "-changed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(from_tier=models.F("to_tier")), name="onboarding_tier_change_changes"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner}: {self.from_tier} → {self.to_tier}"


class PartnerApplication(models.Model):
    """A company's own application to join the alliance (申请加入联盟), made in the portal.

    The case itself is an ordinary ``Partner`` of the chosen branch (``origin =
    self_application``) going through the same state machine; this row binds
    it to the applicant's account and holds what only an application has: the
    e-mail confirmation and the rejection reason the reviewer chose to share.
    The applicant account cannot sign in until its e-mail is confirmed, and
    becomes the partner's first portal user when the partner is activated.
    """

    partner = models.OneToOneField(
        Partner, verbose_name=_("admission case"), on_delete=models.PROTECT, related_name="application"
    )
    applicant = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("applicant"), on_delete=models.PROTECT, related_name="application"
    )
    email = models.EmailField(_("e-mail"))
    mobile = models.CharField(_("mobile"), max_length=11)
    # As typed by the applicant; the RM it names (if any) became the case's RM.
    referral_code = models.CharField(_("referring RM's code"), max_length=150, blank=True)
    email_confirmed_at = models.DateTimeField(_("e-mail confirmed at"), null=True, blank=True)
    # What the applicant is told when the case is rejected; the log's reason stays internal.
    shared_reason = models.CharField(_("reason shared with the applicant"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("applied at"), auto_now_add=True)

    class Meta:
        verbose_name = _("application to join")
        verbose_name_plural = _("applications to join")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return str(self.partner)


class ReviewTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("Periodic re-review date")
    EVIDENCE_EXPIRY = "evidence_expiry", _("Evidence expiring")


class ReviewState(models.TextChoices):
    OPEN = "open", _("Open")
    PENDING_HEAD_OFFICE = "pending_head_office", _("Awaiting head-office approval")
    APPROVED = "approved", _("Approved")


# States of a re-review still running (at most one per partner).
REVIEW_RUNNING_STATES = (ReviewState.OPEN, ReviewState.PENDING_HEAD_OFFICE)


class PartnerReview(models.Model):
    """A periodic re-review (年审) of an admitted partner, opened by the nightly job before it falls due.

    The partner stays active while it runs: its evidence is refreshed and
    decided item by item with the admission services, the branch's reviewer
    approves (maker-checker), head office approves too when the partner is
    high-risk or PE/VC, and approval sets the partner's next re-review date.
    A partner whose re-review is overdue by more than REREVIEW_GRACE_DAYS is
    suspended by the nightly job (``suspended_at``) and reinstated when it passes.
    """

    partner = models.ForeignKey(Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="reviews")
    # Denormalised from the partner when opened, so branches filter their own re-reviews in one index.
    branch = models.ForeignKey(
        "organisation.Branch", verbose_name=_("branch"), on_delete=models.PROTECT, related_name="partner_reviews"
    )
    trigger = models.CharField(_("opened for"), max_length=24, choices=ReviewTrigger.choices)
    due_on = models.DateField(_("due on"), db_index=True)
    opened_on = models.DateField(_("opened on"))
    state = models.CharField(
        _("state"), max_length=24, choices=ReviewState.choices, default=ReviewState.OPEN, db_index=True
    )
    branch_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("branch approval by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_on = models.DateField(_("approved on"), null=True, blank=True)
    suspended_at = models.DateTimeField(_("partner suspended as overdue at"), null=True, blank=True)

    class Meta:
        verbose_name = _("re-review")
        verbose_name_plural = _("re-reviews")
        ordering = ["due_on", "id"]
        constraints = [
            # One running re-review per partner: the nightly job run twice opens one.
            models.UniqueConstraint(
                fields=["partner"],
                condition=models.Q(state__in=["open", "pending_head_office"]),
                name="onboarding_one_running_review",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="approved") | models.Q(approved_on__isnull=False),
                name="onboarding_approved_review_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} · {self.due_on}"

    @property
    def is_running(self) -> bool:
        return self.state in REVIEW_RUNNING_STATES
