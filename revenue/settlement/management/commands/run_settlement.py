"""``python manage.py run_settlement --period 2026-10 [--close] [--dry-run [--agreement-version ID] [--partner CODE]]``.

The same services as the schedule and the admin:

* without ``--close``: the accrual of the month to date (draft settlements);
* ``--close``: the month-end close (a failed close of the period is resumed);
* ``--resume RUN_ID``: carry on a failed or stalled run;
* ``--dry-run``: what the close would produce, written nowhere; with
  ``--agreement-version`` under a proposed version (e.g. one not yet in force).

With real workers (``CELERY_BROKER_URL``) the command waits for the run and
shows its progress; without, the run executes in this process and shows it too.

Figures keep one name each: *period shares* (the period's own product lines),
*adjustments* (lines correcting closed periods), *retained by the bank*; the
bank revenue settled is their sum.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from decimal import Decimal

from django.core.management.base import CommandError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.console import ConsoleCommand, Progress, money, table
from core.errors import ApplicationError
from core.money import ZERO, MoneySum
from core.periods import Period
from onboarding.models import Partner
from organisation.models import User
from revenue.ledger.models import AgreementVersion
from revenue.ledger.selectors import share_rule_from_version
from revenue.settlement.choices import LEDGER_LINE_KINDS, LineKind, PeriodState, RunKind, RunState, RunTrigger
from revenue.settlement.compute import rule_describe
from revenue.settlement.models import SettlementLine, SettlementRun
from revenue.settlement.services import (
    settlement_dry_run,
    settlement_run_resume,
    settlement_run_start,
    settlement_run_wait,
)
from revenue.settlement.services.preview import DryRun
from revenue.settlement.services.runs import run_progressed


def shares_by_kind(lines) -> dict[str, Decimal]:
    """Σ share per line kind of ``lines`` (drafts of a dry run)."""
    sums: dict[str, Decimal] = {}
    for line in lines:
        sums[line.kind] = sums.get(line.kind, ZERO) + line.share
    return sums


def run_shares_by_kind(run: SettlementRun) -> dict[str, Decimal]:
    """Σ share per line kind of the settlements a run wrote (one query)."""
    rows = (
        SettlementLine.objects.filter(settlement__run=run)
        .values_list("kind")
        .order_by("kind")
        .annotate(total=MoneySum("share"))
    )
    return {kind: total or ZERO for kind, total in rows}


class Command(ConsoleCommand):
    help = gettext_lazy("Accrue or close a settlement period, resume a run, or preview a close (dry run).")

    def add_arguments(self, parser):
        parser.add_argument(
            "--period", help=gettext_lazy("The month, YYYY-MM (default: the previous month for a close).")
        )
        parser.add_argument(
            "--close", action="store_true", help=gettext_lazy("The month-end close (default: the accrual).")
        )
        parser.add_argument(
            "--resume", type=int, metavar="RUN_ID", help=gettext_lazy("Carry on a failed or stalled run.")
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=gettext_lazy("Show what a close would produce; write nothing.")
        )
        parser.add_argument(
            "--agreement-version",
            type=int,
            metavar="ID",
            help=gettext_lazy("Dry run under this (proposed) agreement version."),
        )
        parser.add_argument(
            "--partner", help=gettext_lazy("Dry run of one partner (credit code or id), with its lines.")
        )
        parser.add_argument("--user", help=gettext_lazy("Act as this user (default: the system)."))
        parser.add_argument(
            "--no-wait", action="store_true", help=gettext_lazy("With real workers: do not wait for the run.")
        )

    def handle(self, *args, **options):
        self.started = time.monotonic()
        by = self._user(options["user"])
        try:
            if options["agreement_version"] and not options["dry_run"]:
                raise CommandError(_("--agreement-version only goes with --dry-run."))
            if options["resume"]:
                try:
                    run = SettlementRun.objects.get(pk=options["resume"])
                except SettlementRun.DoesNotExist as exc:
                    raise CommandError(_("No settlement run %(id)s.") % {"id": options["resume"]}) from exc
                self.say(_("Resuming run #%(id)s …") % {"id": run.pk})
                with self._progress() as bar:
                    run = settlement_run_resume(run=run, by=by)
                    return self._follow(run, bar, wait=not options["no_wait"])
            period = self._period(options["period"], close=options["close"] or options["dry_run"])
            if options["dry_run"]:
                return self._dry_run(period, by=by, version_id=options["agreement_version"], partner=options["partner"])
            kind = RunKind.CLOSE if options["close"] else RunKind.ACCRUAL
            self.say(_("%(kind)s of %(period)s …") % {"kind": RunKind(kind).label, "period": period})
            with self._progress() as bar:
                run = settlement_run_start(period=period, kind=kind, by=by, trigger=RunTrigger.COMMAND)
                return self._follow(run, bar, wait=not options["no_wait"])
        except ApplicationError as exc:
            raise CommandError(str(exc.message)) from exc

    # ---- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _user(username: str | None) -> User | None:
        if not username:
            return None
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist as exc:
            raise CommandError(_("No user %(name)s.") % {"name": username}) from exc

    @staticmethod
    def _period(text: str | None, *, close: bool) -> Period:
        if not text:
            current = Period.containing(timezone.now())
            return current.previous() if close else current
        try:
            return Period.parse(text)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

    @contextmanager
    def _progress(self):
        """The run's chunks as a progress bar, whether they run in this process (signal) or on workers (polling)."""
        bar = self.progress(total=None, label=_("Preparing"))

        def step(sender, run_id: int, phase: str, **kwargs) -> None:
            kind, done, total = (
                SettlementRun.objects.filter(pk=run_id).values_list("kind", "chunks_done", "chunks_total").get()
            )
            if phase != "checked":
                label = _("Settling chunks")
            else:  # a close freezes its settlements and issues their statements; an accrual only finishes
                label = _("Freezing and issuing") if kind == RunKind.CLOSE else _("Finishing")
            bar.update(done, total=total, label=label)

        run_progressed.connect(step, weak=False)
        try:
            with bar:
                yield bar
        finally:
            run_progressed.disconnect(step)

    def _follow(self, run: SettlementRun, bar: Progress, *, wait: bool) -> None:
        if not wait:
            bar.finish(completed=False)
            self.say(
                _("Run #%(id)s: %(kind)s of %(period)s, queued.")
                % {"id": run.pk, "kind": run.get_kind_display(), "period": run.period}
            )
            return

        def progress(current: SettlementRun) -> None:
            if current.chunks_total:
                bar.update(current.chunks_done, total=current.chunks_total)

        run = settlement_run_wait(run, on_progress=progress)
        bar.finish(completed=run.state == RunState.COMPLETED)
        if run.state != RunState.COMPLETED:
            raise CommandError(
                _("Run #%(id)s %(state)s: %(error)s")
                % {"id": run.pk, "state": run.get_state_display(), "error": run.error or _("no error recorded")}
            )
        self._summary(run, elapsed=time.monotonic() - self.started)

    def _summary(self, run: SettlementRun, *, elapsed: float) -> None:
        self.say(
            _("Run #%(id)s (%(kind)s of %(period)s) %(state)s in %(seconds).1f s.")
            % {
                "id": run.pk,
                "kind": run.get_kind_display(),
                "period": run.period,
                "state": run.get_state_display(),
                "seconds": elapsed,
            },
            self.style.SUCCESS,
        )
        shares = run_shares_by_kind(run)
        period_shares = shares.get(LineKind.PRODUCT, ZERO)
        adjustments = shares.get(LineKind.ADJUSTMENT, ZERO)
        rows = [
            (_("Attribution window"), f"{run.lower_watermark or 0} < id ≤ {run.watermark}"),
            (_("Partners"), run.partners_count),
            (_("Settlements"), run.settlements_count),
            (_("Lines"), run.lines_count),
            (_("Chunks"), f"{run.chunks_done}/{run.chunks_total}"),
            (_("Attributions settled"), run.attributions_count),
            (_("of which of inactive partners"), run.inactive_count),
            (_("Bank revenue settled"), money(run.bank_revenue_total)),
            (_("Period shares"), money(period_shares)),
            (_("Adjustments of closed periods"), money(adjustments)),
            (_("Retained by the bank"), money(run.retained_total)),
        ]
        self.lines(table(rows, align="<>"))
        if period_shares + adjustments != run.share_total:  # pragma: no cover - the run's own check forbids it
            raise CommandError(_("The run's lines do not add up to its recorded shares."))
        self.say(
            "  " + _("Bank revenue settled = period shares + adjustments of closed periods + retained by the bank.")
        )
        if self.verbosity >= 2 and run.timings:
            self.say(_("Timings (seconds):"))
            self.lines(table(sorted(run.timings.items()), align="<>", indent=4))

    def _dry_run(self, period: Period, *, by, version_id: int | None, partner: str | None) -> None:
        proposed = None
        if version_id:
            proposed = AgreementVersion.objects.select_related("agreement").filter(pk=version_id).first()
            if proposed is None:
                raise CommandError(_("No agreement version %(id)s.") % {"id": version_id})
        chosen = None
        if partner:
            lookup = Q(credit_code=partner.upper())
            if partner.isdigit():
                lookup |= Q(pk=int(partner))
            chosen = Partner.objects.filter(lookup).first()
            if chosen is None:
                raise CommandError(_("No partner %(code)s.") % {"code": partner})
        result = settlement_dry_run(period=period, by=by, proposed_version=proposed, partner=chosen)
        self.say(
            _("Dry run of the close of %(period)s — nothing was written.") % {"period": period}, self.style.SUCCESS
        )
        if result.period_state == PeriodState.CLOSED:
            self.note(
                _("%(period)s is already closed: this is its close recomputed on the same window.") % {"period": period}
            )
        elif result.period_state == PeriodState.CLOSING:
            self.note(_("%(period)s is being closed right now.") % {"period": period})
        if proposed:
            self.say(
                "  " + _("Under proposed version %(version)s (id %(id)s).") % {"version": proposed, "id": proposed.pk}
            )
        for text in result.notes:
            self.note(text)
        self._dry_run_totals(result)
        if chosen is not None:
            self._dry_run_partner(result)
        if not result.conserved:
            raise CommandError(_("The dry run's lines do not add back to the ledger (conservation failed)."))

    def _dry_run_totals(self, result: DryRun) -> None:
        totals = result.totals
        lines = [line for draft in result.settlements for line in draft.lines]
        shares = shares_by_kind(lines)
        rows = [
            (_("Attribution window"), f"{result.window.lower} < id ≤ {result.window.upper}"),
            (_("Settlements"), totals["settlements"]),
            (_("Lines"), totals["lines"]),
            (_("Transactions"), totals["transactions"]),
            (_("Period shares"), money(shares.get(LineKind.PRODUCT, ZERO))),
            (_("Adjustments of closed periods"), money(shares.get(LineKind.ADJUSTMENT, ZERO))),
        ]
        if shares.get(LineKind.DISPUTE_RESOLUTION):
            rows.append((_("Dispute resolutions"), money(shares[LineKind.DISPUTE_RESOLUTION])))
        rows += [
            (_("Carried in from the previous period"), money(totals["carried_in"])),
            (_("Net (before VAT)"), money(totals["net"])),
            (_("VAT"), money(totals["vat"])),
            (_("Payable"), money(totals["payable"])),
            (_("Settlements carried forward"), totals["carried_forward"]),
            (_("Bank revenue settled"), money(Decimal(result.ledger.fen) / 100)),
            (_("Retained by the bank"), money(result.retained)),
            (_("Conservation"), _("holds") if result.conserved else _("FAILS")),
        ]
        self.lines(table(rows, align="<>"))
        self.say(
            "  " + _("Bank revenue settled = period shares + adjustments of closed periods + retained by the bank.")
        )

    def _rule_text(self, version_id: int | None) -> str:
        """The line's rule in the output's language (the line itself keeps the product language's words)."""
        texts = self.__dict__.setdefault("_rule_texts", {})
        if version_id not in texts:
            version = AgreementVersion.objects.filter(pk=version_id).first() if version_id else None
            texts[version_id] = rule_describe(share_rule_from_version(version) if version else None)
        return texts[version_id]

    def _dry_run_partner(self, result: DryRun) -> None:
        for draft in result.settlements:
            self.say("")
            self.say(
                _("%(partner)s: net %(net)s, payable %(payable)s")
                % {
                    "partner": result.partner_names.get(draft.partner_id, draft.partner_id),
                    "net": money(draft.net),
                    "payable": money(draft.payable),
                }
            )
            actual = result.actual.get(draft.partner_id)
            if actual is not None:
                self.say(
                    "  "
                    + _("Actual settlement (%(state)s): net %(net)s")
                    % {"state": actual.get_state_display(), "net": money(actual.net)}
                )
            rows = []
            for line in draft.lines:
                # The month a line's figures belong to: an adjustment's is the closed month it corrects.
                if line.corrects_period is not None:
                    line_period = str(Period(line.corrects_period.year, line.corrects_period.month))
                else:
                    line_period = str(result.period) if line.kind == LineKind.PRODUCT else ""
                rows.append(
                    (
                        LineKind(line.kind).label,
                        result.product_names.get(line.product_id, "") if line.product_id else "",
                        line_period,
                        money(line.figures.bank_revenue),
                        money(line.share),
                        self._rule_text(line.version_id) if line.kind in LEDGER_LINE_KINDS else line.description,
                    )
                )
            headers = (_("Line"), _("Product"), _("Period"), _("Bank revenue"), _("Share"), _("Rule"))
            self.lines(table(rows, headers=headers, align="<<<>><"))
