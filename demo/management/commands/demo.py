"""The product's main job on the demo alliance, as run by ``./bin/demo``.

Every step is idempotent, so running the command again only does what is
missing:

1. load the demo alliance (head office, five branches, staff, 34 partners in
   every admission state) and the product catalogue with default agreements;
2. book September 2026's transactions and close September;
3. book October 2026's — with duplicates, reversals, co-served events and late
   September events — and close October: late events and reversals of the
   closed September settle as adjustments in October;
4. statements (PDF) are issued for every settlement when a period closes;
5. the branches' October targets are set and their scorecards built (PDFs);
6. invoices in each state and a paid payment batch (``demo.payments``).
7. one application to join in progress (returned for information) and one re-review due.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.test import override_settings

from core.money import MoneySum
from core.periods import Period
from demo.lifecycle import DEMO_APPLICANT_EMAIL, demo_application_create, demo_reviews_schedule
from demo.payments import demo_payments_create
from demo.performance import demo_targets_create
from demo.revenue import revenue_demo_setup
from onboarding.models import Partner
from organisation.models import User
from performance.models import BranchTarget
from performance.periods import ReportingPeriod
from revenue.ledger.models import TransactionAttribution
from revenue.settlement.aggregation import events_between
from revenue.settlement.choices import PeriodState
from revenue.settlement.models import Settlement, SettlementPeriod
from revenue.settlement.selectors import latest_closed_period

DEMO_PASSWORD = "demo12345"  # noqa: S105 - the documented password of the demo fixture's users
# (month, transactions to book, generator seed): September first, so October's late events are adjustments.
DEMO_MONTHS = [("2026-09", 4000, 9), ("2026-10", 12000, 10)]
SCORECARD_MONTH = "2026-10"


class Command(BaseCommand):
    help = "Load the demo alliance (idempotent) and run the main job on it: ledger, settlement, statements, scorecards."

    def handle(self, *args, **options):
        # Partners' e-mails (statement ready, …) go to files in the demo rather than flooding the console.
        outbox = Path(str(settings.MEDIA_ROOT)) / "outbox"
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=outbox
        ):
            self._main_job()
        self.stdout.write(f"Partner e-mails of the demo: {outbox}/")

    def _main_job(self) -> None:
        self._load_alliance()
        for month, count, seed in DEMO_MONTHS:
            self._book(Period.parse(month), count, seed)
            if month == SCORECARD_MONTH:
                # Targets before the close, so the close's follow-up builds the month's scorecards.
                self._targets(ReportingPeriod.parse(month))
            self._close_in_order(Period.parse(month))
        self._scorecard_pdfs(ReportingPeriod.parse(SCORECARD_MONTH))
        demo_payments_create()
        self._lifecycle()
        self._summary()

    def _load_alliance(self) -> None:
        if not Partner.objects.exists():
            call_command("loaddata", "demo", verbosity=0)
            self.stdout.write(self.style.SUCCESS("Loaded the demo alliance."))
        revenue_demo_setup()

    def _book(self, period: Period, count: int, seed: int) -> None:
        booked = TransactionAttribution.objects.filter(occurred_at__gte=period.start, occurred_at__lt=period.end)
        if not booked.exists():
            self.stdout.write(f"Booking {count} generated transactions for {period} …")
            call_command("generate_transactions", month=str(period), count=count, seed=seed, stdout=self.stdout)

    def _close_in_order(self, period: Period) -> None:
        # Periods close in order: first any earlier month the generator's late events fell into.
        while (earlier := self._earliest_open_month_before(period)) is not None:
            self._close(earlier)
        self._close(period)

    def _earliest_open_month_before(self, period: Period) -> Period | None:
        latest = latest_closed_period()
        first = events_between(latest.period.end if latest else None, period.start)
        return Period.containing(first) if first is not None else None

    def _close(self, period: Period) -> None:
        if not SettlementPeriod.objects.filter(start=period.first_day, state=PeriodState.CLOSED).exists():
            self.stdout.write(f"Closing {period} …")
            call_command("run_settlement", period=str(period), close=True, stdout=self.stdout)

    def _targets(self, period: ReportingPeriod) -> None:
        if not BranchTarget.objects.filter(period_kind=period.kind, period_start=period.start).exists():
            demo_targets_create(period=period)

    def _lifecycle(self) -> None:
        if demo_application_create(password=DEMO_PASSWORD):
            self.stdout.write("An application to join, returned for information.")
        review = demo_reviews_schedule()
        if review:
            self.stdout.write(f"A re-review due {review.due_on}: {review.partner}.")

    def _scorecard_pdfs(self, period: ReportingPeriod) -> None:
        call_command("build_scorecards", period=str(period), pdf=True, stdout=self.stdout)

    def _summary(self) -> None:
        out = self.stdout
        out.write("\n" + "=" * 72)
        for month, _count, _seed in DEMO_MONTHS:
            period = Period.parse(month)
            settlements = Settlement.objects.filter(period__start=period.first_day)
            totals = settlements.aggregate(share=MoneySum("share_total"), payable=MoneySum("payable"))
            out.write(
                f"{period}: {settlements.count()} settlements, shares {totals['share'] or 0} CNY, "
                f"payable {totals['payable'] or 0} CNY"
            )
        media = settings.MEDIA_ROOT
        out.write(f"Statements (PDF): admin → 结算单, the partner portal, and {media}/statements/")
        out.write("Invoices and payment batches: admin → 发票与付款; invoice states on the portal's settlement pages")
        out.write(f"Scorecards (PDF): {media}/scorecards/{SCORECARD_MONTH}/ and admin → 业绩管控 → 分行计分卡")
        out.write("\nDemo logins (password %s):" % DEMO_PASSWORD)  # noqa: UP031
        users = User.objects.filter(is_active=True).select_related("branch", "partner").prefetch_related("groups")
        for user in users.order_by("branch__code", "username"):
            roles = ", ".join(g.name for g in user.groups.all())
            where = user.branch or user.partner or ""
            out.write(f"  {user.username:<16} {roles:<22} {where}")
        out.write("\nAdmin (bank staff):     http://127.0.0.1:8000/admin/")
        out.write("Partner portal:         http://127.0.0.1:8000/portal/")
        out.write("Apply to join:          http://127.0.0.1:8000/portal/apply/")
        out.write(f"Application in progress: http://127.0.0.1:8000/portal/apply/sign-in/ ({DEMO_APPLICANT_EMAIL})")
        out.write("Re-reviews due/overdue: http://127.0.0.1:8000/admin/onboarding/partnerreview/?due=due")
        out.write("API documentation:      http://127.0.0.1:8000/api/docs/")
