"""``python manage.py run_settlement --period 2026-10 [--close] [--dry-run [--agreement-version ID] [--partner CODE]]``.

The same services as the schedule and the admin:

* without ``--close``: the accrual of the month to date (draft settlements);
* ``--close``: the month-end close (a failed close of the period is resumed);
* ``--resume RUN_ID``: carry on a failed or stalled run;
* ``--dry-run``: what the close would produce, written nowhere; with
  ``--agreement-version`` under a proposed version (e.g. one not yet in force).

With real workers (``CELERY_BROKER_URL``) the command waits for the run and
prints its progress; without, the run executes in this process.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from core.errors import ApplicationError
from core.periods import Period
from onboarding.models import Partner
from organisation.models import User
from revenue.ledger.models import AgreementVersion
from revenue.settlement.choices import RunKind, RunState, RunTrigger
from revenue.settlement.models import SettlementRun
from revenue.settlement.services import (
    settlement_dry_run,
    settlement_run_resume,
    settlement_run_start,
    settlement_run_wait,
)


class Command(BaseCommand):
    help = "Accrue or close a settlement period, resume a run, or preview a close (dry run)."

    def add_arguments(self, parser):
        parser.add_argument("--period", help="The month, YYYY-MM (default: the previous month for a close).")
        parser.add_argument("--close", action="store_true", help="The month-end close (default: the accrual).")
        parser.add_argument("--resume", type=int, metavar="RUN_ID", help="Carry on a failed or stalled run.")
        parser.add_argument("--dry-run", action="store_true", help="Show what a close would produce; write nothing.")
        parser.add_argument(
            "--agreement-version", type=int, metavar="ID", help="Dry run under this (proposed) agreement version."
        )
        parser.add_argument("--partner", help="Dry run of one partner (credit code or id), with its lines.")
        parser.add_argument("--user", help="Act as this user (default: the system).")
        parser.add_argument("--no-wait", action="store_true", help="With real workers: do not wait for the run.")

    def handle(self, *args, **options):
        self.started = time.monotonic()
        by = self._user(options["user"])
        try:
            if options["agreement_version"] and not options["dry_run"]:
                raise CommandError("--agreement-version only goes with --dry-run.")
            if options["resume"]:
                run = SettlementRun.objects.get(pk=options["resume"])
                run = settlement_run_resume(run=run, by=by)
                return self._follow(run, wait=not options["no_wait"])
            period = self._period(options["period"], close=options["close"] or options["dry_run"])
            if options["dry_run"]:
                return self._dry_run(period, by=by, version_id=options["agreement_version"], partner=options["partner"])
            kind = RunKind.CLOSE if options["close"] else RunKind.ACCRUAL
            run = settlement_run_start(period=period, kind=kind, by=by, trigger=RunTrigger.COMMAND)
            return self._follow(run, wait=not options["no_wait"])
        except ApplicationError as exc:
            raise CommandError(str(exc.message)) from exc
        except SettlementRun.DoesNotExist as exc:
            raise CommandError(f"No settlement run {options['resume']}.") from exc

    # ---- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _user(username: str | None) -> User | None:
        if not username:
            return None
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist as exc:
            raise CommandError(f"No user {username}.") from exc

    @staticmethod
    def _period(text: str | None, *, close: bool) -> Period:
        from django.utils import timezone

        if not text:
            current = Period.containing(timezone.now())
            return current.previous() if close else current
        try:
            return Period.parse(text)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

    def _follow(self, run: SettlementRun, *, wait: bool) -> None:
        self.stdout.write(f"Run #{run.pk}: {run.get_kind_display()} of {run.period}")
        if not wait:
            return
        last = [-1]

        def progress(current: SettlementRun) -> None:
            if current.chunks_done != last[0] and current.chunks_total:
                last[0] = current.chunks_done
                self.stdout.write(f"  {current.chunks_done}/{current.chunks_total} chunks")

        run = settlement_run_wait(run, on_progress=progress)
        self._summary(run, elapsed=time.monotonic() - self.started)
        if run.state != RunState.COMPLETED:
            raise CommandError(f"Run #{run.pk} {run.get_state_display()}: {run.error}")

    def _summary(self, run: SettlementRun, *, elapsed: float) -> None:
        style = self.style.SUCCESS if run.state == RunState.COMPLETED else self.style.ERROR
        self.stdout.write(style(f"Run #{run.pk} {run.get_state_display()} in {elapsed:.1f} s"))
        self.stdout.write(
            f"  window: attributions {run.lower_watermark or 0} < id ≤ {run.watermark}\n"
            f"  partners {run.partners_count}, settlements {run.settlements_count}, lines {run.lines_count}, "
            f"chunks {run.chunks_done}/{run.chunks_total}\n"
            f"  attributions {run.attributions_count} (inactive partners {run.inactive_count})\n"
            f"  bank revenue {run.bank_revenue_total} = shares {run.share_total} + retained {run.retained_total}\n"
            f"  timings {run.timings}"
        )

    def _dry_run(self, period: Period, *, by, version_id: int | None, partner: str | None) -> None:
        proposed = None
        if version_id:
            proposed = AgreementVersion.objects.select_related("agreement").filter(pk=version_id).first()
            if proposed is None:
                raise CommandError(f"No agreement version {version_id}.")
        chosen = None
        if partner:
            lookup = Q(credit_code=partner.upper())
            if partner.isdigit():
                lookup |= Q(pk=int(partner))
            chosen = Partner.objects.filter(lookup).first()
            if chosen is None:
                raise CommandError(f"No partner {partner}.")
        result = settlement_dry_run(period=period, by=by, proposed_version=proposed, partner=chosen)
        totals = result.totals
        self.stdout.write(self.style.WARNING(f"Dry run of the close of {period} — nothing was written."))
        if proposed:
            self.stdout.write(f"  under proposed version {proposed} (id {proposed.pk})")
        for note in result.notes:
            self.stdout.write(self.style.WARNING(f"  note: {note}"))
        self.stdout.write(
            f"  window: attributions {result.window.lower} < id ≤ {result.window.upper}\n"
            f"  settlements {totals['settlements']}, lines {totals['lines']}, transactions {totals['transactions']}\n"
            f"  shares {totals['share_total']}, adjustments {totals['adjustment_total']}, "
            f"carried in {totals['carried_in']}\n"
            f"  net {totals['net']}, VAT {totals['vat']}, payable {totals['payable']}, "
            f"carried forward {totals['carried_forward']}\n"
            f"  bank revenue {result.ledger.fen / 100:.2f} = shares {result.shares} + retained {result.retained} "
            f"({'conserved' if result.conserved else 'NOT CONSERVED'})"
        )
        if chosen is not None:
            for draft in result.settlements:
                actual = result.actual.get(draft.partner_id)
                self.stdout.write(
                    f"  {result.partner_names.get(draft.partner_id)}: net {draft.net}, payable {draft.payable}"
                )
                if actual is not None:
                    self.stdout.write(f"    actual settlement ({actual.get_state_display()}): net {actual.net}")
                for line in draft.lines:
                    product = result.product_names.get(line.product_id, "")
                    self.stdout.write(
                        f"    {line.kind:<18} {product:<24} {line.corrects_period or '':<10} "
                        f"rev {line.figures.bank_revenue:>12} share {line.share:>10}  {line.rule_description}"
                    )
