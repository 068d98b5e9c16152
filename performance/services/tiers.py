"""Partner tier proposals: the tier rules evaluated on each partner's KPIs, confirmed or dismissed by an RM.

The rules (``performance.TierRule``, data edited by head office) are evaluated
by the pure :func:`performance.scoring.tier_evaluate`; a proposal is stored for
every admitted partner whose proposed tier differs from its tier. Only an RM
of the partner's branch (or head office) decides a proposal, and confirming
one changes the tier through the admission service
``onboarding.services.partner_tier_change``, which records who, when, from,
to and why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import NotPermitted
from onboarding.models import Partner, PartnerTier
from onboarding.policies import ADMITTED_STATES
from onboarding.services import partner_tier_change
from organisation.models import User
from performance.errors import TierProposalClosed
from performance.models import TierProposal, TierProposalState, TierRule
from performance.periods import ReportingPeriod
from performance.scoring import PartnerFigures, tier_evaluate
from performance.selectors import partner_figures_for_period, user_may_see_branch_details
from performance.services.scorecards import BUILD_PERMISSION

DECIDE_PERMISSION = "performance.decide_tierproposal"
REASON_MAX_LENGTH = 255


@dataclass(frozen=True)
class TierProposalRun:
    period: ReportingPeriod
    as_of: dt.datetime
    rules: int
    evaluated: int
    proposed: int
    kept_decided: int


@transaction.atomic
def partner_tier_proposals(
    *,
    period: ReportingPeriod,
    as_of: dt.datetime | None = None,
    dispute_rates: dict[int, Decimal] | None = None,
    by: User | None = None,
) -> TierProposalRun:
    """Evaluate the active tier rules on every admitted partner's KPIs for ``period`` and store the proposals.

    A proposal is stored where the proposed tier differs from the partner's
    tier (a partner meeting no rule is proposed the standard tier). Running it
    again replaces the period's open proposals and keeps the decided ones (a
    partner with a decided proposal for the period gets no new one). Without
    active rules nothing is proposed. ``dispute_rates`` (by partner id) is for
    when settlements exist; until then no dispute ceiling can fail.
    """
    if by is not None and not by.has_perm(BUILD_PERMISSION):
        raise NotPermitted(_("Only head office runs the tier evaluation."))
    if as_of is None:
        as_of = timezone.now()
    rules = [rule.as_criteria() for rule in TierRule.objects.filter(is_active=True)]
    existing = TierProposal.objects.select_for_update().filter(period_kind=period.kind, period_start=period.start)
    decided = set(existing.exclude(state=TierProposalState.PROPOSED).values_list("partner_id", flat=True))
    # Open proposals are recomputed; locking them first waits for a decision being taken right now.
    list(existing.filter(state=TierProposalState.PROPOSED).order_by("pk"))
    existing.filter(state=TierProposalState.PROPOSED).delete()
    if not rules:
        return TierProposalRun(period=period, as_of=as_of, rules=0, evaluated=0, proposed=0, kept_decided=len(decided))

    partners = {p.pk: p for p in Partner.objects.filter(state__in=ADMITTED_STATES).only("pk", "tier", "branch_id")}
    figures = partner_figures_for_period(
        period=period, as_of=as_of, partner_ids=list(partners), dispute_rates=dispute_rates
    )
    rule_names = dict(TierRule.objects.filter(is_active=True).values_list("pk", "name"))
    proposals = []
    for partner_id, kpis in sorted(figures.items()):
        partner = partners[partner_id]
        if partner_id in decided:
            continue
        proposal = tier_evaluate(
            rules=rules,
            figures=PartnerFigures(
                revenue=kpis.revenue,
                volume=kpis.volume,
                smes=kpis.smes,
                active_months=kpis.active_months,
                growth_rate=kpis.growth_rate,
                dispute_rate=kpis.dispute_rate,
            ),
            default_tier=PartnerTier.STANDARD,
        )
        if proposal.tier == partner.tier:
            continue
        rule_id = proposal.rule.rule_id if proposal.rule else None
        proposals.append(
            TierProposal(
                partner_id=partner_id,
                period_kind=period.kind,
                period_start=period.start,
                as_of=as_of,
                current_tier=partner.tier,
                proposed_tier=proposal.tier,
                rule_id=rule_id,
                rule_name=rule_names.get(rule_id, ""),
                revenue=kpis.revenue,
                volume=kpis.volume,
                smes=kpis.smes,
                active_months=kpis.active_months,
                previous_revenue=kpis.previous_revenue,
                growth_rate=kpis.growth_rate,
                dispute_rate=kpis.dispute_rate,
            )
        )
    TierProposal.objects.bulk_create(proposals)
    return TierProposalRun(
        period=period,
        as_of=as_of,
        rules=len(rules),
        evaluated=len(figures),
        proposed=len(proposals),
        kept_decided=len(decided),
    )


def _authorise_decision(proposal: TierProposal, by: User) -> None:
    if not by.has_perm(DECIDE_PERMISSION):
        raise NotPermitted(_("You may not decide tier proposals."))
    if not user_may_see_branch_details(user=by, branch_id=proposal.partner.branch_id):
        raise NotPermitted(_("This partner belongs to another branch."))


def _lock_open(proposal: TierProposal) -> TierProposal:
    # Compare-and-swap on the state: of two RMs deciding at once, the second finds it decided.
    locked = (
        TierProposal.objects.select_for_update()
        .select_related("partner")
        .filter(pk=proposal.pk, state=TierProposalState.PROPOSED)
        .first()
    )
    if locked is None:
        raise TierProposalClosed(_("This proposal was already decided or replaced. Reload the list."))
    return locked


def _default_reason(proposal: TierProposal) -> str:
    rule = proposal.rule_name or _("no tier rule met")
    return _(
        "Tier evaluation %(period)s (%(rule)s): bank revenue %(revenue)s, %(smes)s SMEs, %(months)s active months."
    ) % {
        "period": proposal.period,
        "rule": rule,
        "revenue": proposal.revenue,
        "smes": proposal.smes,
        "months": proposal.active_months,
    }


@transaction.atomic
def tier_proposal_confirm(*, proposal: TierProposal, by: User, note: str = "") -> TierProposal:
    """Apply the proposed tier through the admission service and mark the proposal confirmed.

    Refused when the partner's tier changed since the proposal was made (it
    proposed from a tier the partner no longer has).
    """
    _authorise_decision(proposal, by)
    locked = _lock_open(proposal)
    partner = Partner.objects.get(pk=locked.partner_id)
    if partner.tier != locked.current_tier:
        raise TierProposalClosed(
            _("The partner's tier changed to %(tier)s since this proposal was made; evaluate again.")
            % {"tier": partner.get_tier_display()}
        )
    reason = (note.strip() or _default_reason(locked))[:REASON_MAX_LENGTH]
    partner_tier_change(partner=partner, tier=locked.proposed_tier, by=by, reason=reason)
    locked.state = TierProposalState.CONFIRMED
    locked.decided_by = by
    locked.decided_at = timezone.now()
    locked.decision_note = reason
    locked.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
    proposal.refresh_from_db()
    return proposal


@transaction.atomic
def tier_proposal_dismiss(*, proposal: TierProposal, by: User, note: str) -> TierProposal:
    """Leave the partner's tier as it is and close the proposal, saying why."""
    _authorise_decision(proposal, by)
    if not note.strip():
        raise ValidationError({"note": _("Say why the proposal is dismissed.")})
    locked = _lock_open(proposal)
    locked.state = TierProposalState.DISMISSED
    locked.decided_by = by
    locked.decided_at = timezone.now()
    locked.decision_note = note.strip()[:REASON_MAX_LENGTH]
    locked.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
    proposal.refresh_from_db()
    return proposal
