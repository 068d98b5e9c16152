"""PDF scorecards: rendered from a stored scorecard, and written to files for a whole period."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from performance.documents import scorecard_pdf_render
from performance.models import BranchScorecard
from performance.periods import ReportingPeriod
from performance.selectors import scorecard_document

SCORECARD_DIR = "scorecards"
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9_-]")


def scorecard_pdf_filename(branch_code: str) -> str:
    """``<branch code>.pdf``, with anything but letters, digits, ``_`` and ``-`` replaced (codes are free text)."""
    return f"{_UNSAFE_IN_FILENAME.sub('_', branch_code) or '_'}.pdf"


def scorecard_pdf(*, scorecard: BranchScorecard) -> bytes:
    """The branch's scorecard as PDF bytes (the same stored scorecard always gives the same bytes)."""
    return scorecard_pdf_render(scorecard_document(scorecard=scorecard))


def scorecard_pdf_directory(*, period: ReportingPeriod, root: Path | str | None = None) -> Path:
    """Where a period's PDFs go: ``<root>/<period>/``, root defaulting to ``MEDIA_ROOT/scorecards``."""
    base = Path(root) if root is not None else Path(settings.MEDIA_ROOT) / SCORECARD_DIR
    return base / str(period)


def scorecard_pdfs_write(
    *,
    period: ReportingPeriod,
    root: Path | str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write every stored scorecard of the period to ``<root>/<period>/<branch code>.pdf``.

    Each file is written to a temporary name and renamed, so a reader never
    sees half a PDF and an interrupted run leaves the previous file intact.
    ``on_progress`` is called with (written, total) after each file.
    """
    directory = scorecard_pdf_directory(period=period, root=root)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    scorecards = list(
        BranchScorecard.objects.filter(period_kind=period.kind, period_start=period.start)
        .select_related("branch")
        .order_by("rank", "branch__code")
    )
    for scorecard in scorecards:
        target = directory / scorecard_pdf_filename(scorecard.branch.code)
        partial = target.with_suffix(".pdf.part")
        partial.write_bytes(scorecard_pdf(scorecard=scorecard))
        os.replace(partial, target)
        written.append(target)
        if on_progress is not None:
            on_progress(len(written), len(scorecards))
    return written
