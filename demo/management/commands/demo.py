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

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.console import ConsoleCommand, money, table
from core.money import ZERO, MoneySum
from core.periods import Period
from demo.lifecycle import DEMO_APPLICANT_EMAIL, demo_application_create, demo_reviews_schedule
from demo.payments import demo_payments_create
from demo.performance import demo_targets_create
from demo.revenue import revenue_demo_setup
from onboarding.models import Partner
from organisation.models import User
from organisation.roles import Role
from performance.models import BranchScorecard, BranchTarget
from performance.periods import ReportingPeriod
from revenue.ledger.models import TransactionAttribution
from revenue.settlement.aggregation import events_between
from revenue.settlement.choices import LineKind, PeriodState
from revenue.settlement.models import Settlement, SettlementLine, SettlementPeriod
from revenue.settlement.selectors import latest_closed_period

DEMO_PASSWORD = "demo12345"  # noqa: S105 - the documented password of the demo fixture's users
# (month, transactions to book, generator seed): September first, so October's late events are adjustments.
DEMO_MONTHS = [("2026-09", 4000, 9), ("2026-10", 12000, 10)]
SCORECARD_MONTH = "2026-10"
# Load the alliance; per month book it and close it (October's targets first); the scorecards' PDFs;
# invoices and a payment batch; an application to join and a re-review.
STEPS = 2 + 2 * len(DEMO_MONTHS) + 3


class Command(ConsoleCommand):
    help = gettext_lazy(
        "Load the demo alliance (idempotent) and run the main job on it: ledger, settlement, statements, scorecards."
    )

    def handle(self, *args, **options):
        self.step_number = 0
        # Partners' e-mails (statement ready, …) go to files in the demo rather than flooding the console.
        outbox = Path(str(settings.MEDIA_ROOT)) / "outbox"
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=outbox
        ):
            self._main_job()
        self.say(_("Partner e-mails of the demo: %(path)s/") % {"path": outbox})

    def _step(self, text: str) -> None:
        """The demo's own progress: one numbered line per step (the commands it calls show theirs)."""
        self.step_number += 1
        if self.verbosity >= 1:
            self.say(f"[{self.step_number}/{STEPS}] {text}", self.style.MIGRATE_HEADING)

    def _main_job(self) -> None:
        self._load_alliance()
        for month, count, seed in DEMO_MONTHS:
            self._book(Period.parse(month), count, seed)
            if month == SCORECARD_MONTH:
                # Targets before the close, so the close's follow-up builds the month's scorecards.
                self._targets(ReportingPeriod.parse(month))
            self._close_in_order(Period.parse(month))
        self._scorecard_pdfs(ReportingPeriod.parse(SCORECARD_MONTH))
        self._payments()
        self._lifecycle()
        self._summary()

    def _load_alliance(self) -> None:
        self._step(_("The demo alliance and the product catalogue"))
        if not Partner.objects.exists():
            call_command("loaddata", "demo", verbosity=0)
            self.say("  " + _("Loaded the demo alliance."))
        else:
            self.say("  " + _("Already loaded."))
        revenue_demo_setup()

    def _book(self, period: Period, count: int, seed: int) -> None:
        self._step(_("Book %(count)s generated transactions of %(period)s") % {"count": count, "period": period})
        booked = TransactionAttribution.objects.filter(occurred_at__gte=period.start, occurred_at__lt=period.end)
        if booked.exists():
            self.say("  " + _("Already booked."))
            return
        call_command("generate_transactions", month=str(period), count=count, seed=seed, **self.sub_options())

    def _close_in_order(self, period: Period) -> None:
        self._step(_("Close %(period)s (and any earlier month its late events fell into)") % {"period": period})
        # Periods close in order: first any earlier month the generator's late events fell into.
        while (earlier := self._earliest_open_month_before(period)) is not None:
            self._close(earlier)
        self._close(period)

    def _earliest_open_month_before(self, period: Period) -> Period | None:
        latest = latest_closed_period()
        first = events_between(latest.period.end if latest else None, period.start)
        return Period.containing(first) if first is not None else None

    def _close(self, period: Period) -> None:
        if SettlementPeriod.objects.filter(start=period.first_day, state=PeriodState.CLOSED).exists():
            self.say("  " + _("%(period)s is already closed.") % {"period": period})
            return
        call_command("run_settlement", period=str(period), close=True, **self.sub_options())
        month = ReportingPeriod.parse(str(period))
        if not BranchTarget.objects.filter(period_kind=month.kind, period_start=month.start).exists():
            self.note(_("%(period)s has no branch targets, so it has no scorecards.") % {"period": period})

    def _targets(self, period: ReportingPeriod) -> None:
        self._step(_("Branch targets of %(period)s") % {"period": period})
        if BranchTarget.objects.filter(period_kind=period.kind, period_start=period.start).exists():
            self.say("  " + _("Already set."))
            return
        count = demo_targets_create(period=period)
        self.say("  " + _("%(count)s targets set.") % {"count": count})

    def _payments(self) -> None:
        self._step(_("Invoices in each state and a paid payment batch"))
        if demo_payments_create():
            self.say("  " + _("Invoices submitted, checked and paid through a payment batch."))
        else:
            self.say("  " + _("Already there."))

    def _lifecycle(self) -> None:
        self._step(_("An application to join and a re-review"))
        if demo_application_create(password=DEMO_PASSWORD):
            self.say("  " + _("An application to join, returned for information."))
        review = demo_reviews_schedule()
        if review:
            self.say(
                "  " + _("A re-review due %(date)s: %(partner)s.") % {"date": review.due_on, "partner": review.partner}
            )

    def _scorecard_pdfs(self, period: ReportingPeriod) -> None:
        self._step(_("Scorecards of %(period)s (PDF)") % {"period": period})
        call_command("build_scorecards", period=str(period), pdf=True, **self.sub_options())

    def _summary(self) -> None:
        self.say("")
        self.say(_("Settlements of the demo (CNY)"), self.style.MIGRATE_HEADING)
        rows = []
        for month, _count, _seed in DEMO_MONTHS:
            period = Period.parse(month)
            settlements = Settlement.objects.filter(period__start=period.first_day)
            totals = settlements.aggregate(payable=MoneySum("payable"))
            shares = dict(
                SettlementLine.objects.filter(settlement__in=settlements)
                .values_list("kind")
                .order_by("kind")
                .annotate(total=MoneySum("share"))
            )
            rows.append(
                (
                    period,
                    settlements.count(),
                    money(shares.get(LineKind.PRODUCT, ZERO)),
                    money(shares.get(LineKind.ADJUSTMENT, ZERO)),
                    money(totals["payable"]),
                )
            )
        headers = (_("Period"), _("Settlements"), _("Period shares"), _("Adjustments of closed periods"), _("Payable"))
        self.lines(table(rows, headers=headers, align="<>>>>"))
        media = settings.MEDIA_ROOT
        statements, scorecards = apps.get_app_config("statements"), apps.get_app_config("performance")
        places = [
            (
                _("Statements (PDF)"),
                _("admin → %(section)s, the partner portal, and %(path)s")
                % {"section": statements.verbose_name, "path": f"{media}/statements/"},
            ),
            (
                _("Scorecards (PDF)"),
                _("%(path)s and admin → %(section)s → %(model)s")
                % {
                    "path": f"{media}/scorecards/{SCORECARD_MONTH}/",
                    "section": scorecards.verbose_name,
                    "model": BranchScorecard._meta.verbose_name_plural,
                },
            ),
            (
                _("Invoices and payment batches"),
                _("admin → %(section)s; invoice states on the portal's settlement pages")
                % {"section": apps.get_app_config("payments").verbose_name},
            ),
        ]
        self.say("")
        self.lines(table(places, indent=0))
        self.say("")
        self.say(_("Demo logins (password %(password)s):") % {"password": DEMO_PASSWORD}, self.style.MIGRATE_HEADING)
        users = User.objects.filter(is_active=True).select_related("branch", "partner").prefetch_related("groups")
        rows = []
        for user in users.order_by("branch__code", "username"):
            roles = ", ".join(str(Role(g.name).label) if g.name in Role.values else g.name for g in user.groups.all())
            rows.append((user.username, roles, user.branch or user.partner or ""))
        self.lines(table(rows, headers=(_("User"), _("Role"), _("Branch or partner")), align="<<<"))
        self.say("")
        self.lines(
            table(
                [
                    (_("Admin (bank staff)"), "http://127.0.0.1:8000/admin/"),
                    (_("Partner portal"), "http://127.0.0.1:8000/portal/"),
                    (_("Apply to join"), "http://127.0.0.1:8000/portal/apply/"),
                    (
                        _("Application in progress"),
                        f"http://127.0.0.1:8000/portal/apply/sign-in/ ({DEMO_APPLICANT_EMAIL})",
                    ),
                    (_("Re-reviews due"), "http://127.0.0.1:8000/admin/onboarding/partnerreview/?due=due"),
                    (_("API documentation"), "http://127.0.0.1:8000/api/docs/"),
                ],
                indent=0,
            )
        )
