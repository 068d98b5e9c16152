"""What the management commands print: one language, tables aligned in CJK terminals, progress on long work.

Every command of the product derives from :class:`ConsoleCommand`:

* ``--lang zh-hans|en`` (default on the command line: the locale, ``LC_ALL`` / ``LC_MESSAGES`` / ``LANG``,
  when it names English or Chinese, else ``settings.LANGUAGE_CODE``, zh-hans; from ``call_command``: the
  caller's active language) — the whole run, messages of the services and errors included, speaks it;
* a failure is one line on stderr in that language and exit code 1;
* at verbosity 1 the console shows the command's own output, not the application's INFO log lines (each
  statement issued, each batch's timings), which would tear a progress bar apart; ``-v 2`` shows them;
* :meth:`ConsoleCommand.progress` is a bar on a terminal, a plain line every 10 % (or every few seconds)
  elsewhere, nothing at ``-v 0``;
* :func:`table` pads cells by display width: a CJK character (East Asian Width W or F) takes two columns.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

LANGUAGES = ("zh-hans", "en")


# ---- language --------------------------------------------------------------------------------


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language the locale asks for: the first of LC_ALL, LC_MESSAGES, LANG that is set decides (POSIX).

    ``en_US.UTF-8`` → English, ``zh_CN.UTF-8`` → Chinese; ``C.UTF-8`` and the like say nothing about a
    language, so the product's default (``settings.LANGUAGE_CODE``) applies.
    """
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "").strip().lower()
        if value:
            if value.startswith("en"):
                return "en"
            if value.startswith("zh"):
                return "zh-hans"
            break
    return _supported(settings.LANGUAGE_CODE)


def _supported(language: str | None) -> str:
    return "en" if (language or settings.LANGUAGE_CODE).lower().startswith("en") else "zh-hans"


def _language_in_argv(argv: Sequence[str]) -> str | None:
    """``--lang`` as typed, before argparse runs (so that ``--help`` is in that language too)."""
    for position, word in enumerate(argv):
        if word.startswith("--lang="):
            value = word.split("=", 1)[1]
        elif word == "--lang" and position + 1 < len(argv):
            value = argv[position + 1]
        else:
            continue
        return value if value in LANGUAGES else None
    return None


# ---- width-aware text ------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: East Asian Wide and Fullwidth characters two, combining
    and format characters (accents, zero-width joiners) none, everything else one."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) == "Cf":
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def pad(text: str, width: int, align: str = "<") -> str:
    """``text`` padded with spaces to ``width`` display columns (``<`` left, ``>`` right)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if align == ">" else text + fill


def table(
    rows: Sequence[Sequence[object]],
    *,
    headers: Sequence[object] | None = None,
    align: str = "",
    indent: int = 2,
    gap: int = 2,
) -> list[str]:
    """Lines of an aligned table: ``align`` has one ``<`` or ``>`` per column (default ``<``).

    Cells are shown with ``str``; every column is as wide as its widest cell in display columns,
    so columns line up in a terminal whatever mix of Chinese and Latin text they hold.
    """
    cells = [[str(cell) for cell in row] for row in ([headers] if headers is not None else []) + list(rows)]
    if not cells:
        return []
    columns = max(len(row) for row in cells)
    widths = [max((display_width(row[c]) for row in cells if c < len(row)), default=0) for c in range(columns)]
    lines = []
    for row in cells:
        parts = [pad(cell, widths[c], align[c] if c < len(align) else "<") for c, cell in enumerate(row)]
        lines.append((" " * indent + (" " * gap).join(parts)).rstrip())
    return lines


def money(amount: Decimal | int | None) -> str:
    """An amount in yuan as the commands print it: thousands separators and two places."""
    return f"{Decimal(amount or 0):,.2f}"


def megabytes(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB"


# ---- progress --------------------------------------------------------------------------------


class Progress:
    """Progress of ``total`` units of work written to ``out`` (a command's stdout).

    On a terminal: one line redrawn in place (``label [=====>    ]  45%  4500/10000``), at most ten times a
    second. Elsewhere (a log file, a pipe, cron): a plain line each time another ``every_percent`` is
    reached, or after ``every_seconds`` without one, and the final figure. Nothing when disabled (``-v 0``).
    """

    BAR = 24

    def __init__(
        self,
        out,
        *,
        total: int | None,
        label: str,
        enabled: bool = True,
        tty: bool | None = None,
        every_percent: int = 10,
        every_seconds: float = 5.0,
        show: Callable[[int], str] = str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out
        self.total = total or None
        self.label = label
        self.enabled = enabled
        self.tty = out.isatty() if tty is None else tty
        self.every_percent = every_percent
        self.every_seconds = every_seconds
        self.show = show
        self.clock = clock
        self.done = 0
        self._drawn_at = None
        # (percent step, time, done, label) of the last plain line
        self._last_line: tuple[int, float, int, str] | None = None
        self._finished = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.finish(completed=exc_type is None)

    def advance(self, count: int = 1) -> None:
        self.update(self.done + count)

    def update(self, done: int, *, total: int | None = None, label: str | None = None) -> None:
        if total is not None:
            self.total = total or None
        if label is not None:
            self.label = label
        self.done = done
        if not self.enabled:
            return
        now = self.clock()
        if self.tty:
            if self._drawn_at is None or now - self._drawn_at >= 0.1 or self._complete:
                self._drawn_at = now
                self.out.write("\r" + self._bar() + "\x1b[K", ending="")
                self.out.flush()
            return
        step = self._percent // self.every_percent if self.total else 0
        if self._last_line is None:
            # The start is not news: the first line comes at a step, a new phase or after a pause.
            self._last_line = (0, now, 0, self.label)
        last_step, last_time, last_done, last_label = self._last_line
        if (
            step > last_step
            or self.label != last_label
            or (now - last_time >= self.every_seconds and self.done != last_done)
        ):
            self._line(step, now)

    def finish(self, *, completed: bool = True) -> None:
        """End the display: the bar's line is closed; the plain lines end with the final figure."""
        if self._finished or not self.enabled:
            self._finished = True
            return
        self._finished = True
        if completed and self.total:
            self.done = max(self.done, self.total)
        if self.tty:
            if self._drawn_at is not None:
                self.out.write("\r" + self._bar() + "\x1b[K")
            return
        if not completed or not (self.total or self.done):
            return  # nothing was measured: no figure to end with
        if self._last_line is None or self._last_line[0] * self.every_percent < 100:
            self._line(100 // self.every_percent, self.clock())

    # ---- rendering --------------------------------------------------------------------------

    @property
    def _percent(self) -> int:
        return min(100, self.done * 100 // self.total) if self.total else 0

    @property
    def _complete(self) -> bool:
        return bool(self.total) and self.done >= self.total

    def _figures(self) -> str:
        if self.total:
            return f"{self._percent:3d}%  {self.show(self.done)}/{self.show(self.total)}"
        return self.show(self.done)

    def _bar(self) -> str:
        if not self.total:
            return f"{self.label}  {self._figures()}"
        filled = self.BAR * self.done // self.total if self.total else 0
        head = ">" if 0 < filled < self.BAR else ""
        return f"{self.label} [{('=' * filled + head)[: self.BAR].ljust(self.BAR)}] {self._figures()}"

    def _line(self, step: int, now: float) -> None:
        self._last_line = (step, now, self.done, self.label)
        self.out.write(_("%(label)s: %(figures)s") % {"label": self.label, "figures": self._figures()})
        self.out.flush()


# ---- the commands' base class ----------------------------------------------------------------


@contextmanager
def _console_logging(verbosity: int) -> Iterator[None]:
    """Below ``-v 2`` only warnings and errors of the application reach the console while the command runs.

    ``logging.disable`` rather than a logger's level: it holds whatever levels loggers were given.
    """
    if verbosity >= 2:
        yield
        return
    # Tasks run in this process have no broker: kombu's complaint about the in-memory transport is no news.
    kombu = logging.getLogger("kombu.connection")
    saved = logging.root.manager.disable, kombu.level
    logging.disable(max(saved[0], logging.INFO))
    if settings.CELERY_TASK_ALWAYS_EAGER:
        kombu.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logging.disable(saved[0])
        kombu.setLevel(saved[1])


class ConsoleCommand(BaseCommand):
    """A management command that speaks one language, fails in one line and shows its progress."""

    language = "zh-hans"
    verbosity = 1

    def create_parser(self, prog_name, subcommand, **kwargs):
        self.help = str(self.help)  # argparse formats text, not a lazy translation: this one in today's language
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument(
            "--lang",
            choices=LANGUAGES,
            help=gettext_lazy("Language of the output (default: from LC_ALL/LANG, else zh-hans)."),
        )
        return parser

    def run_from_argv(self, argv):
        with translation.override(_language_in_argv(argv) or language_from_environment()):
            super().run_from_argv(argv)

    def execute(self, *args, **options):
        self.language = options.get("lang") or (
            # The locale speaks for the person at the terminal; a caller in code has activated its language.
            language_from_environment() if self._called_from_command_line else _supported(translation.get_language())
        )
        self.verbosity = int(options.get("verbosity", 1))
        with translation.override(self.language), _console_logging(self.verbosity):
            try:
                return super().execute(*args, **options)
            except CommandError as exc:
                if not self._called_from_command_line or options.get("traceback"):
                    raise
                # One line in the run's language (Django would prefix the class name, in English).
                self.stderr.write(_("Error: %(message)s") % {"message": exc}, self.style.ERROR)
                sys.exit(exc.returncode)

    # ---- output helpers ----------------------------------------------------------------------

    def say(self, text: str = "", style=None) -> None:
        """A line of the command's result (printed at every verbosity)."""
        self.stdout.write(str(text), style)

    def note(self, text: str) -> None:
        """Something worth knowing that is not a problem (a month without targets); not at ``-v 0``."""
        if self.verbosity >= 1:
            self.say(_("Note: %(text)s") % {"text": text})

    def lines(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.say(line)

    def progress(self, *, total: int | None, label: str, show: Callable[[int], str] = str) -> Progress:
        return Progress(self.stdout, total=total, label=label, enabled=self.verbosity >= 1, show=show)

    def sub_options(self) -> dict[str, object]:
        """What a command calling another passes on: the same language, verbosity and output."""
        # The raw streams: a wrapper of a wrapper would end every progress redraw with a new line.
        stdout, stderr = (getattr(wrapper, "_out", wrapper) for wrapper in (self.stdout, self.stderr))
        return {"lang": self.language, "verbosity": self.verbosity, "stdout": stdout, "stderr": stderr}
