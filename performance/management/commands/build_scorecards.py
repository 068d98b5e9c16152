"""``manage.py build_scorecards --period 2026-10``: build (and optionally print to PDF) a period's scorecards.

The steps (the build, the tier proposals, each PDF) are the command's progress.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.console import ConsoleCommand, table
from core.errors import ApplicationError
from core.periods import CHINA_TZ
from performance.periods import PeriodKind, ReportingPeriod
from performance.services import partner_tier_proposals, scorecard_pdfs_write, scorecards_build


def parse_period(text: str, kind: str | None) -> ReportingPeriod:
    """``2026-10``, ``2026-Q4`` or ``2026``; with ``--kind`` also a first day such as ``2026-10-01``."""
    try:
        if kind is not None and len(text) == 10:
            return ReportingPeriod(kind, dt.date.fromisoformat(text))
        period = ReportingPeriod.parse(text)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if kind is not None and period.kind != kind:
        raise CommandError(
            _("%(period)s is a %(found)s, not a %(kind)s.")
            % {"period": text, "found": PeriodKind(period.kind).label, "kind": PeriodKind(kind).label}
        )
    return period


def parse_as_of(text: str | None) -> dt.datetime | None:
    """A date means the end of that day in Beijing time; a date and time without an offset is Beijing time."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=CHINA_TZ) - dt.timedelta(
                microseconds=1
            )
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(_("--as-of is a date (2026-11-05) or a date and time (2026-11-05T18:00+08:00).")) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)


class Command(ConsoleCommand):
    help = gettext_lazy(
        "Build the branch scorecards of a period (replacing earlier ones) and optionally write their PDFs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--period", required=True, help=gettext_lazy("2026-10 (month), 2026-Q4 (quarter) or 2026 (year).")
        )
        parser.add_argument(
            "--kind", choices=PeriodKind.values, help=gettext_lazy("The period kind, if --period is a first day.")
        )
        parser.add_argument(
            "--as-of",
            help=gettext_lazy(
                "Knowledge cut-off: only data booked by then counts. A date means the end of that day "
                "(Beijing time). Default: now."
            ),
        )
        parser.add_argument(
            "--pdf", action="store_true", help=gettext_lazy("Write the PDFs to MEDIA_ROOT/scorecards/<period>/.")
        )
        parser.add_argument(
            "--pdf-dir", help=gettext_lazy("Write the PDFs to <DIR>/<period>/<branch code>.pdf instead.")
        )
        parser.add_argument(
            "--tier-proposals",
            action="store_true",
            help=gettext_lazy("Also evaluate the tier rules and store tier proposals."),
        )

    def handle(self, *args, **options):
        period = parse_period(options["period"], options["kind"])
        as_of = parse_as_of(options["as_of"])
        pdfs = bool(options["pdf"] or options["pdf_dir"])
        # Steps: the build, the tier proposals if asked; the PDFs add one each once their number is known.
        steps = 1 + bool(options["tier_proposals"])
        with self.progress(total=steps, label=_("Building scorecards")) as bar:
            try:
                build = scorecards_build(period_kind=period.kind, period_start=period.start, as_of=as_of)
                bar.advance()
                run = None
                if options["tier_proposals"]:
                    bar.update(bar.done, label=_("Tier proposals"))
                    run = partner_tier_proposals(period=period, as_of=build.as_of)
                    bar.advance()
            except ApplicationError as exc:
                raise CommandError(str(exc.message)) from exc
            paths = []
            if pdfs:
                done = bar.done
                bar.update(done, total=done + len(build.scorecards), label=_("Writing PDFs"))
                paths = scorecard_pdfs_write(
                    period=period,
                    root=options["pdf_dir"],
                    on_progress=lambda written, _total: bar.update(done + written),
                )
        as_of_text = build.as_of.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")
        self.say(
            _("%(period)s: %(count)s scorecards, figures as of %(as_of)s (Beijing time)")
            % {"period": period, "count": len(build.scorecards), "as_of": as_of_text},
            self.style.SUCCESS,
        )
        rows = [(card.rank, card.branch.code, card.branch.name, card.total_score) for card in build.scorecards]
        self.lines(table(rows, headers=(_("Rank"), _("Code"), _("Branch"), _("Score")), align="><<>"))
        if run is not None:
            self.say(
                _("Tier proposals: %(proposed)s of %(evaluated)s partners (%(kept)s decided ones kept)")
                % {"proposed": run.proposed, "evaluated": run.evaluated, "kept": run.kept_decided}
            )
        if pdfs:
            directory = paths[0].parent if paths else "-"
            self.say(
                _("%(count)s PDF scorecards written to %(directory)s") % {"count": len(paths), "directory": directory}
            )
