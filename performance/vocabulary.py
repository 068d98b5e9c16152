"""The words of performance control, defined once: KPI names and the terms of a scorecard.

The dashboard, the branch page, the PDF scorecard, the scorecard exports and
the admin all take their labels from here (``KPI`` is re-exported by
``performance.models``). They are ordinary translations: a page shows them in
its language, an export in the language asked for, and the PDF, which is
bilingual whatever the reader's language, prints each as its Chinese and
English pair (:func:`bilingual`).
"""

from __future__ import annotations

from django.db import models
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _


class KPI(models.TextChoices):
    """The key performance indicators head office sets branch targets for."""

    PARTNERS_ONBOARDED = "partners_onboarded", _("Partners onboarded")
    ACTIVE_PARTNERS = "active_partners", _("Active partners")
    SMES_REACHED = "smes_reached", _("SMEs reached through partners")
    TRANSACTION_VOLUME = "transaction_volume", _("Transaction volume")
    BANK_REVENUE = "bank_revenue", _("Bank revenue through partner channels")
    REVENUE_SHARE_PAID = "revenue_share_paid", _("Revenue share paid")


# KPIs counted in yuan (two decimals); the others are whole counts.
MONEY_KPIS = frozenset({KPI.TRANSACTION_VOLUME, KPI.BANK_REVENUE, KPI.REVENUE_SHARE_PAID})

# The terms of a scorecard, as the branch page prints them.
SCORECARD_TITLE = _("%(branch)s scorecard %(period)s")
SCORECARDS = _("Scorecards")
KPI_TERM = _("KPI")
TARGET = _("Target")
ACTUAL = _("Actual")
ACHIEVEMENT = _("Achievement")
WEIGHT = _("Weight")
WEIGHTED_SCORE = _("Weighted score")
TOTAL_SCORE = _("Total score")
RANK = _("Rank")
RANKED_BRANCHES = capfirst(_("branches ranked"))
FIGURES_AS_OF = _("Figures as of")
COMPUTED_AT = capfirst(_("computed at"))
KPIS_AGAINST_TARGET = _("KPIs against target")
ACHIEVEMENT_PER_KPI = _("Achievement per KPI")
TOTAL_SCORE_TREND = _("Total score over the previous periods")
TOP_PARTNERS = _("Top partners by bank revenue")
PERIOD = _("Period")
BRANCH = _("Branch")
BRANCH_CODE = capfirst(_("branch code"))


def kpi_name(kpi: str) -> str:
    """The KPI's name in the active language."""
    return str(KPI(kpi).label)


def in_language(text, language: str) -> str:
    with translation.override(language):
        return str(text)


def bilingual(text) -> tuple[str, str]:
    """(Chinese, English) of a label, for the printed documents."""
    return in_language(text, "zh-hans"), in_language(text, "en")
