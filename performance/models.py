"""Performance control (业绩管控): branch targets, stored scorecards and partner tier rules."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.money import MONEY_MAX_DIGITS, money_field
from onboarding.models import PartnerTier
from performance.periods import PeriodKind, ReportingPeriod, is_period_start
from performance.vocabulary import KPI

__all__ = [
    "KPI",
    "BranchScorecard",
    "BranchTarget",
    "PeriodKind",
    "ScorecardKPILine",
    "ScorecardTopPartner",
    "TierProposal",
    "TierProposalState",
    "TierRule",
]


# KPI figures are counts or yuan amounts; both are kept as Decimal with two places, no wider than an
# amount (the largest figure both databases hold exactly).
KPI_MAX_DIGITS = MONEY_MAX_DIGITS
KPI_DECIMAL_PLACES = 2
WEIGHT_MAX_DIGITS = 5
WEIGHT_DECIMAL_PLACES = 4


def kpi_value_field(verbose_name, **kwargs) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=KPI_MAX_DIGITS, decimal_places=KPI_DECIMAL_PLACES, **kwargs)


def weight_field(verbose_name, **kwargs) -> models.DecimalField:
    return models.DecimalField(
        verbose_name, max_digits=WEIGHT_MAX_DIGITS, decimal_places=WEIGHT_DECIMAL_PLACES, **kwargs
    )


class PeriodMixin(models.Model):
    """A period of a kind (month, quarter, year), named by its first day."""

    period_kind = models.CharField(_("period kind"), max_length=8, choices=PeriodKind.choices)
    period_start = models.DateField(_("period start"), help_text=_("First day of the month, quarter or year."))

    class Meta:
        abstract = True

    @property
    def period(self) -> ReportingPeriod:
        return ReportingPeriod(self.period_kind, self.period_start)

    def clean_period(self) -> None:
        if self.period_kind in PeriodKind.values and self.period_start is not None:
            if not is_period_start(self.period_kind, self.period_start):
                raise ValidationError(
                    {
                        "period_start": _("%(day)s is not the first day of a %(kind)s.")
                        % {"day": self.period_start.isoformat(), "kind": PeriodKind(self.period_kind).label}
                    }
                )


class BranchTarget(PeriodMixin):
    """What head office expects of a branch for one KPI in one period, and how much that KPI weighs.

    The weights of a branch's targets for one period sum to 1 so that branch
    scores are comparable; that is a rule over several rows, checked by the
    services and the import rather than by the database.
    """

    branch = models.ForeignKey(
        "organisation.Branch", verbose_name=_("branch"), on_delete=models.PROTECT, related_name="targets"
    )
    kpi = models.CharField(_("KPI"), max_length=32, choices=KPI.choices)
    target_value = kpi_value_field(_("target"))
    weight = weight_field(_("weight"), help_text=_("Share of the score, above 0 and at most 1."))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("branch target")
        verbose_name_plural = _("branch targets")
        ordering = ["-period_start", "period_kind", "branch__code", "kpi"]
        permissions = [
            ("import_branchtarget", _("Can import branch targets")),
            ("export_branchtarget", _("Can export branch targets")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["branch", "period_kind", "period_start", "kpi"],
                name="performance_one_target_per_branch_period_kpi",
                violation_error_message=_("This branch already has a target for this KPI in this period."),
            ),
            models.CheckConstraint(
                condition=models.Q(weight__gt=0) & models.Q(weight__lte=1),
                name="performance_target_weight_range",
                violation_error_message=_("A weight is above 0 and at most 1."),
            ),
            models.CheckConstraint(
                condition=models.Q(target_value__gte=0),
                name="performance_target_not_negative",
                violation_error_message=_("A target is not negative."),
            ),
            models.CheckConstraint(
                condition=models.Q(period_kind__in=PeriodKind.values), name="performance_target_period_kind_valid"
            ),
            models.CheckConstraint(condition=models.Q(kpi__in=KPI.values), name="performance_target_kpi_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.branch} {self.period_label} {self.get_kpi_display()}"

    @property
    def period_label(self) -> str:
        try:
            return str(self.period)
        except (ValueError, TypeError):
            return f"{self.period_kind} {self.period_start}"

    def clean(self) -> None:
        self.clean_period()


class TierRule(models.Model):
    """A rule proposing a partner tier when every threshold it sets is met (rules as data).

    Rules are tried from the highest ``priority`` down and the first one a
    partner meets proposes its tier; a partner meeting none is proposed the
    standard tier. A threshold left empty is not checked. The figures are the
    partner's over the evaluation period (see ``performance.scoring.PartnerFigures``).
    """

    name = models.CharField(_("name"), max_length=64)
    tier = models.CharField(_("tier"), max_length=16, choices=PartnerTier.choices)
    priority = models.PositiveSmallIntegerField(
        _("priority"), unique=True, help_text=_("Rules are tried from the highest priority down.")
    )
    min_revenue = money_field(_("minimum bank revenue (CNY)"), null=True, blank=True)
    min_volume = money_field(_("minimum transaction volume (CNY)"), null=True, blank=True)
    min_smes = models.PositiveIntegerField(_("minimum SMEs served"), null=True, blank=True)
    min_active_months = models.PositiveSmallIntegerField(_("minimum active months"), null=True, blank=True)
    min_growth_rate = models.DecimalField(
        _("minimum revenue growth"),
        max_digits=7,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("Against the previous period, e.g. 0.1000 for +10%."),
    )
    max_dispute_rate = models.DecimalField(
        _("maximum dispute rate"),
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("Disputed settlement lines per settlement line, e.g. 0.0200 for 2%."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    THRESHOLDS = (
        "min_revenue",
        "min_volume",
        "min_smes",
        "min_active_months",
        "min_growth_rate",
        "max_dispute_rate",
    )

    class Meta:
        verbose_name = _("tier rule")
        verbose_name_plural = _("tier rules")
        ordering = ["-priority"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(min_revenue__isnull=True) | models.Q(min_revenue__gte=0))
                & (models.Q(min_volume__isnull=True) | models.Q(min_volume__gte=0)),
                name="performance_tier_rule_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(min_growth_rate__isnull=True) | models.Q(min_growth_rate__gte=-1),
                name="performance_tier_rule_growth_range",
                violation_error_message=_("A growth rate cannot be below -100%."),
            ),
            models.CheckConstraint(
                condition=models.Q(max_dispute_rate__isnull=True)
                | (models.Q(max_dispute_rate__gte=0) & models.Q(max_dispute_rate__lte=1)),
                name="performance_tier_rule_dispute_rate_range",
                violation_error_message=_("A dispute rate is between 0 and 1."),
            ),
            models.CheckConstraint(
                condition=models.Q(tier__in=PartnerTier.values), name="performance_tier_rule_tier_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.get_tier_display()}"

    def clean(self) -> None:
        if all(getattr(self, name) is None for name in self.THRESHOLDS):
            raise ValidationError(_("A tier rule sets at least one threshold; otherwise every partner would meet it."))

    def as_criteria(self):
        from performance.scoring import TierCriteria

        return TierCriteria(
            tier=self.tier,
            priority=self.priority,
            rule_id=self.pk,
            **{name: getattr(self, name) for name in self.THRESHOLDS},
        )


class BranchScorecard(PeriodMixin):
    """A branch's computed scorecard for a period, stored so that it stays as it was published.

    ``as_of`` is the knowledge cut-off the figures were computed with: computing
    again with the same ``as_of`` gives the same figures even after later data arrived.
    """

    branch = models.ForeignKey(
        "organisation.Branch", verbose_name=_("branch"), on_delete=models.PROTECT, related_name="scorecards"
    )
    as_of = models.DateTimeField(_("figures as of"))
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)
    achievement_cap = models.DecimalField(
        _("achievement cap"),
        max_digits=5,
        decimal_places=4,
        help_text=_("Highest achievement rate that counts towards the score, e.g. 1.5000 for 150%."),
    )
    total_score = models.DecimalField(_("total score"), max_digits=7, decimal_places=2)
    rank = models.PositiveIntegerField(_("rank"))
    ranked_branches = models.PositiveIntegerField(_("branches ranked"))

    class Meta:
        verbose_name = _("branch scorecard")
        verbose_name_plural = _("branch scorecards")
        ordering = ["-period_start", "period_kind", "rank", "branch__code"]
        permissions = [
            ("build_branchscorecard", _("Can build the scorecards of a period")),
            ("export_branchscorecard", _("Can export scorecards")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["branch", "period_kind", "period_start"],
                name="performance_one_scorecard_per_branch_period",
            ),
            models.CheckConstraint(
                condition=models.Q(rank__gte=1) & models.Q(rank__lte=models.F("ranked_branches")),
                name="performance_scorecard_rank_range",
            ),
            models.CheckConstraint(condition=models.Q(total_score__gte=0), name="performance_scorecard_score_range"),
            models.CheckConstraint(
                condition=models.Q(achievement_cap__gte=1), name="performance_scorecard_cap_at_least_one"
            ),
            models.CheckConstraint(
                condition=models.Q(period_kind__in=PeriodKind.values), name="performance_scorecard_period_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.branch} {self.period_label}"

    @property
    def period_label(self) -> str:
        return str(self.period)

    def clean(self) -> None:
        self.clean_period()


class ScorecardKPILine(models.Model):
    """One KPI of a stored scorecard: target, actual, achievement and weighted score."""

    scorecard = models.ForeignKey(
        BranchScorecard, verbose_name=_("scorecard"), on_delete=models.CASCADE, related_name="lines"
    )
    kpi = models.CharField(_("KPI"), max_length=32, choices=KPI.choices)
    target_value = kpi_value_field(_("target"))
    actual_value = kpi_value_field(_("actual"))
    weight = weight_field(_("weight"))
    # Empty when the target is zero: the rate is then not defined (see performance.scoring).
    achievement_rate = models.DecimalField(_("achievement rate"), max_digits=26, decimal_places=4, null=True)
    weighted_score = models.DecimalField(_("weighted score"), max_digits=7, decimal_places=2)

    class Meta:
        verbose_name = _("scorecard KPI line")
        verbose_name_plural = _("scorecard KPI lines")
        ordering = ["scorecard", "kpi"]
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "kpi"], name="performance_one_line_per_scorecard_kpi"),
            models.CheckConstraint(
                condition=models.Q(weight__gt=0) & models.Q(weight__lte=1), name="performance_line_weight_range"
            ),
            models.CheckConstraint(condition=models.Q(target_value__gte=0), name="performance_line_target_range"),
            models.CheckConstraint(condition=models.Q(weighted_score__gte=0), name="performance_line_score_range"),
            models.CheckConstraint(condition=models.Q(kpi__in=KPI.values), name="performance_line_kpi_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.scorecard} {self.get_kpi_display()}"


class ScorecardTopPartner(models.Model):
    """One of a branch's top partners by bank revenue in the scorecard's period, as computed with it."""

    scorecard = models.ForeignKey(
        BranchScorecard, verbose_name=_("scorecard"), on_delete=models.CASCADE, related_name="top_partners"
    )
    position = models.PositiveSmallIntegerField(_("position"))
    partner = models.ForeignKey(
        "onboarding.Partner", verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    volume = money_field(_("transaction volume (CNY)"))
    revenue = money_field(_("bank revenue (CNY)"))
    smes = models.PositiveIntegerField(_("SMEs served"))

    class Meta:
        verbose_name = _("top partner")
        verbose_name_plural = _("top partners")
        ordering = ["scorecard", "position"]
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "position"], name="performance_top_partner_position_once"),
            models.UniqueConstraint(fields=["scorecard", "partner"], name="performance_top_partner_once"),
            models.CheckConstraint(condition=models.Q(position__gte=1), name="performance_top_partner_position_range"),
        ]

    def __str__(self) -> str:
        return f"{self.scorecard} #{self.position} {self.partner}"


class TierProposalState(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    CONFIRMED = "confirmed", _("Confirmed")
    DISMISSED = "dismissed", _("Dismissed")


class TierProposal(PeriodMixin):
    """A tier change the tier rules propose for a partner after a period, for its RM to confirm or dismiss.

    The figures the rules were evaluated on are kept with the proposal, so the
    RM decides on what the rules saw. Confirming applies the tier through the
    admission services (``onboarding.services.partner_tier_change``).
    """

    partner = models.ForeignKey(
        "onboarding.Partner", verbose_name=_("partner"), on_delete=models.PROTECT, related_name="tier_proposals"
    )
    as_of = models.DateTimeField(_("figures as of"))
    current_tier = models.CharField(_("current tier"), max_length=16, choices=PartnerTier.choices)
    proposed_tier = models.CharField(_("proposed tier"), max_length=16, choices=PartnerTier.choices)
    rule = models.ForeignKey(
        TierRule,
        verbose_name=_("rule met"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="proposals",
        help_text=_("Empty: no rule was met, so the standard tier is proposed."),
    )
    rule_name = models.CharField(_("rule name"), max_length=64, blank=True)
    revenue = money_field(_("bank revenue (CNY)"))
    volume = money_field(_("transaction volume (CNY)"))
    smes = models.PositiveIntegerField(_("SMEs served"))
    active_months = models.PositiveSmallIntegerField(_("active months"))
    previous_revenue = money_field(_("bank revenue of the previous period (CNY)"))
    growth_rate = models.DecimalField(_("revenue growth"), max_digits=26, decimal_places=4, null=True, blank=True)
    dispute_rate = models.DecimalField(_("dispute rate"), max_digits=5, decimal_places=4, null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=TierProposalState.choices, default=TierProposalState.PROPOSED
    )
    created_at = models.DateTimeField(_("proposed at"), default=timezone.now)
    decided_by = models.ForeignKey(
        "organisation.User",
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("note"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("tier proposal")
        verbose_name_plural = _("tier proposals")
        ordering = ["-period_start", "period_kind", "state", "partner__legal_name"]
        permissions = [("decide_tierproposal", _("Can confirm or dismiss tier proposals"))]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "period_kind", "period_start"],
                name="performance_one_tier_proposal_per_partner_period",
            ),
            models.CheckConstraint(
                condition=~models.Q(proposed_tier=models.F("current_tier")),
                name="performance_tier_proposal_changes_tier",
                violation_error_message=_("A proposal proposes another tier than the current one."),
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(state=TierProposalState.PROPOSED, decided_at__isnull=True, decided_by__isnull=True)
                    | (
                        models.Q(state__in=[TierProposalState.CONFIRMED, TierProposalState.DISMISSED])
                        & models.Q(decided_at__isnull=False, decided_by__isnull=False)
                    )
                ),
                name="performance_tier_proposal_decision_recorded",
                violation_error_message=_("A decided proposal records who decided it and when; an open one does not."),
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=TierProposalState.values), name="performance_tier_proposal_state_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(period_kind__in=PeriodKind.values),
                name="performance_tier_proposal_period_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} {self.period} → {self.get_proposed_tier_display()}"

    @property
    def is_open(self) -> bool:
        return self.state == TierProposalState.PROPOSED

    def figures(self):
        from performance.scoring import PartnerFigures

        return PartnerFigures(
            revenue=self.revenue,
            volume=self.volume,
            smes=self.smes,
            active_months=self.active_months,
            growth_rate=self.growth_rate,
            dispute_rate=self.dispute_rate,
        )
