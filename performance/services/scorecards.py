"""Building the branch scorecards of a period: targets, actuals as of a moment, scores, ranks, top partners.

``scorecards_build`` is the one way scorecards are made: by the month-end task,
the ``build_scorecards`` command and the dashboard button alike.

Invariants:

* A period's scorecards are built as a whole, in one database transaction:
  every branch with targets gets one, ranked among all of them, and the
  period's previous scorecards are replaced. Building the same period twice
  with the same ``as_of`` stores the same figures (idempotent).
* Nothing is written when any branch's targets cannot be scored: weights not
  summing to 1, or a KPI whose figures the product cannot compute yet
  (revenue share paid, until settlements exist).
* The branch rows are locked (in primary-key order, like the target services)
  for the duration, so targets cannot change under a build and two builds of
  one period run one after the other.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import NotPermitted
from organisation.models import Branch, User
from performance.errors import KPIUnavailable, ScorecardBuildRefused
from performance.models import KPI, BranchScorecard, BranchTarget, ScorecardKPILine, ScorecardTopPartner
from performance.periods import ReportingPeriod
from performance.scoring import DEFAULT_ACHIEVEMENT_CAP, KPIInput, competition_ranks, score_branch
from performance.selectors import KPI_SELECTORS, kpi_actuals_for_period, ledger_figures
from performance.selectors import top_partners as top_partners_of_branches

BUILD_PERMISSION = "performance.build_branchscorecard"
TOP_PARTNERS = 5


@dataclass(frozen=True)
class ScorecardBuild:
    """What a build stored: the period, its knowledge cut-off and the scorecards by rank."""

    period: ReportingPeriod
    as_of: dt.datetime
    scorecards: list[BranchScorecard]
    replaced: int


def _check_targets(period: ReportingPeriod, targets: list[BranchTarget]) -> None:
    if not targets:
        raise ScorecardBuildRefused(
            _("No branch has targets for %(period)s; import the targets first.") % {"period": period}
        )
    by_branch: dict[Branch, list[BranchTarget]] = defaultdict(list)
    for target in targets:
        by_branch[target.branch].append(target)

    unavailable: dict[str, list[str]] = defaultdict(list)
    for target in targets:
        if target.kpi not in KPI_SELECTORS:
            unavailable[target.kpi].append(target.branch.code)
    if unavailable:
        raise KPIUnavailable(
            _(
                "The targets for %(period)s use KPIs whose figures cannot be computed yet: %(kpis)s. "
                "Remove those targets (and re-weight the others) to build the scorecards."
            )
            % {
                "period": period,
                "kpis": "; ".join(
                    f"{KPI(kpi).label} ({', '.join(sorted(codes))})" for kpi, codes in sorted(unavailable.items())
                ),
            },
            extra={"kpis": sorted(unavailable)},
        )

    broken = []
    for branch, branch_targets in sorted(by_branch.items(), key=lambda item: item[0].code):
        total = sum((t.weight for t in branch_targets), Decimal(0))
        if total != 1:
            broken.append(f"{branch.name} ({branch.code}) {total}")
    if broken:
        raise ScorecardBuildRefused(
            _("The target weights of these branches for %(period)s do not sum to 1: %(branches)s.")
            % {"period": period, "branches": "; ".join(broken)},
            extra={"branches": broken},
        )


def _as_of(as_of: dt.datetime | None) -> dt.datetime:
    if as_of is None:
        return timezone.now()
    if not isinstance(as_of, dt.datetime) or timezone.is_naive(as_of):
        raise ValueError("as_of must be an aware datetime")
    return as_of


def scorecards_lock(period: ReportingPeriod) -> None:
    """Lock the branches with targets for the period (pk order, as the target services do), until the transaction ends.

    A build holds it while it replaces the period's scorecards; a reader that
    takes it first waits for a running build and then reads whole scorecards,
    never one whose lines were deleted under it.
    """
    branch_ids = sorted(
        set(
            BranchTarget.objects.filter(period_kind=period.kind, period_start=period.start).values_list(
                "branch_id", flat=True
            )
        )
    )
    list(Branch.objects.filter(pk__in=branch_ids).order_by("pk").select_for_update())


@transaction.atomic
def scorecards_build(
    *,
    period_kind: str,
    period_start: dt.date,
    as_of: dt.datetime | None = None,
    by: User | None = None,
    cap: Decimal = DEFAULT_ACHIEVEMENT_CAP,
    top_partners: int = TOP_PARTNERS,
) -> ScorecardBuild:
    """Compute and store the scorecard of every branch with targets for the period, replacing earlier ones.

    ``as_of`` (default: now) is the knowledge cut-off: only ledger rows booked
    and admissions recorded by then count. ``by`` is the head-office user
    asking, or ``None`` for the system (the month-end task, the command).
    Scores follow :mod:`performance.scoring`; ranks are competition ranks over
    the branches with targets.
    """
    if by is not None and not by.has_perm(BUILD_PERMISSION):
        raise NotPermitted(_("Only head office builds scorecards."))
    period = ReportingPeriod(period_kind, period_start)
    as_of = _as_of(as_of)
    scorecards_lock(period)
    targets = list(
        BranchTarget.objects.filter(period_kind=period.kind, period_start=period.start)
        .select_related("branch")
        .order_by("branch_id", "kpi")
    )
    _check_targets(period, targets)

    kpis = sorted({t.kpi for t in targets})
    # The ledger is read once for both the branch KPIs and the top partners.
    ledger = ledger_figures(period, as_of, partners=top_partners > 0)
    actuals = kpi_actuals_for_period(
        period_kind=period.kind, period_start=period.start, as_of=as_of, kpis=kpis, precomputed=ledger.by_branch
    )
    by_branch: dict[int, list[BranchTarget]] = defaultdict(list)
    for target in targets:
        by_branch[target.branch_id].append(target)
    scores = {
        branch_id: score_branch(
            (
                KPIInput(
                    kpi=t.kpi,
                    target=t.target_value,
                    weight=t.weight,
                    actual=actuals.get((branch_id, t.kpi), Decimal(0)),
                )
                for t in branch_targets
            ),
            cap=cap,
        )
        for branch_id, branch_targets in by_branch.items()
    }
    ranks = competition_ranks({branch_id: score.total for branch_id, score in scores.items()})
    leaders = top_partners_of_branches(ledger.by_partner, limit=top_partners) if top_partners else {}

    _count, deleted = BranchScorecard.objects.filter(period_kind=period.kind, period_start=period.start).delete()
    replaced = deleted.get(BranchScorecard._meta.label, 0)
    computed_at = timezone.now()
    scorecards = BranchScorecard.objects.bulk_create(
        BranchScorecard(
            branch_id=branch_id,
            period_kind=period.kind,
            period_start=period.start,
            as_of=as_of,
            computed_at=computed_at,
            achievement_cap=cap,
            total_score=scores[branch_id].total,
            rank=ranks[branch_id],
            ranked_branches=len(scores),
        )
        for branch_id in sorted(scores, key=lambda b: (ranks[b], b))
    )
    ScorecardKPILine.objects.bulk_create(
        ScorecardKPILine(
            scorecard=card,
            kpi=line.kpi,
            target_value=line.target,
            actual_value=line.actual,
            weight=line.weight,
            achievement_rate=line.achievement_rate,
            weighted_score=line.weighted_score,
        )
        for card in scorecards
        for line in scores[card.branch_id].lines
    )
    ScorecardTopPartner.objects.bulk_create(
        ScorecardTopPartner(
            scorecard=card,
            position=position,
            partner_id=leader.partner_id,
            volume=leader.volume,
            revenue=leader.revenue,
            smes=leader.smes,
        )
        for card in scorecards
        for position, leader in enumerate(leaders.get(card.branch_id, []), start=1)
    )
    branches = Branch.objects.in_bulk([card.branch_id for card in scorecards])
    for card in scorecards:
        card.branch = branches[card.branch_id]
    return ScorecardBuild(period=period, as_of=as_of, scorecards=scorecards, replaced=replaced)
