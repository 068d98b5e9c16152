"""PDF scorecards: rendered from a stored scorecard, and written to files for a whole period."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction

from performance.documents import scorecard_pdf_render
from performance.models import BranchScorecard
from performance.periods import ReportingPeriod
from performance.selectors import scorecard_document
from performance.services.scorecards import scorecards_lock

SCORECARD_DIR = "scorecards"
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9_-]")


def scorecard_pdf_filename(branch_code: str) -> str:
    """``<branch code>.pdf``, with anything but letters, digits, ``_`` and ``-`` replaced (codes are free text)."""
    return f"{_UNSAFE_IN_FILENAME.sub('_', branch_code) or '_'}.pdf"


def _current_documents(period: ReportingPeriod, *, branch_id: int | None = None) -> list[tuple[str, object]]:
    """(branch code, document) of the period's stored scorecards, best rank first, read whole.

    Read under the builder's lock: a build running meanwhile (the month-end
    task, say) is waited for, so no scorecard is read after its lines were
    replaced. Rendering happens afterwards, without holding the lock.
    """
    with transaction.atomic():
        scorecards_lock(period)
        scorecards = (
            BranchScorecard.objects.filter(period_kind=period.kind, period_start=period.start)
            .select_related("branch")
            .prefetch_related("lines")
            .order_by("rank", "branch__code")
        )
        if branch_id is not None:
            scorecards = scorecards.filter(branch_id=branch_id)
        return [(card.branch.code, scorecard_document(scorecard=card)) for card in scorecards]


def scorecard_pdf(*, scorecard: BranchScorecard) -> bytes:
    """The branch's current scorecard for the period as PDF bytes (the same stored scorecard gives the same bytes).

    Raises ``BranchScorecard.DoesNotExist`` when the period no longer has a scorecard for the branch.
    """
    documents = _current_documents(scorecard.period, branch_id=scorecard.branch_id)
    if not documents:
        raise BranchScorecard.DoesNotExist(f"no scorecard of branch {scorecard.branch_id} for {scorecard.period}")
    return scorecard_pdf_render(documents[0][1])


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
    documents = _current_documents(period)
    for branch_code, document in documents:
        target = directory / scorecard_pdf_filename(branch_code)
        partial = target.with_suffix(".pdf.part")
        partial.write_bytes(scorecard_pdf_render(document))
        os.replace(partial, target)
        written.append(target)
        if on_progress is not None:
            on_progress(len(written), len(documents))
    return written
