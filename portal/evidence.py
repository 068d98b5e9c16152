"""Evidence uploads in the portal, shared by the application (an applicant's case) and the re-review (a partner's)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _

from core.admin import error_text
from core.errors import ApplicationError
from onboarding.models import EvidenceDecision, EvidenceItem, Partner
from onboarding.selectors import evidence_items
from portal.apply_forms import EvidenceForm


def _prefix(requirement_id: int) -> str:
    return f"item{requirement_id}"


def evidence_items_with_forms(*, partner: Partner) -> list[EvidenceItem]:
    """The partner's evidence items, each with its upload ``form`` (what is on file filled in) and
    ``needs_revision``."""
    items = list(evidence_items(partner=partner))
    for item in items:
        item.form = EvidenceForm(
            prefix=_prefix(item.requirement_id), initial={"reference": item.reference, "expires_on": item.expires_on}
        )
        item.needs_revision = item.decision == EvidenceDecision.NEEDS_REVISION
    return items


def evidence_upload(
    request, *, partner: Partner, requirement_id: int, record: Callable[..., EvidenceItem], back: str
) -> HttpResponseRedirect:
    """Check the posted upload for one of the partner's items and pass it to ``record`` (a service taking
    ``requirement``, ``reference``, ``document``, ``expires_on`` and ``by``); the outcome as a message, then
    back to the item on ``back``. A refused upload changes nothing."""
    item = evidence_items(partner=partner).filter(requirement_id=requirement_id).first()
    if item is None:
        raise Http404
    form = EvidenceForm(request.POST, request.FILES, prefix=_prefix(requirement_id))
    if form.is_valid():
        try:
            record(
                requirement=item.requirement,
                reference=form.cleaned_data["reference"],
                document=form.cleaned_data["document"] or None,
                expires_on=form.cleaned_data["expires_on"],
                by=request.user,
            )
        except (ApplicationError, ValidationError) as exc:
            messages.error(request, f"{item.requirement}: {error_text(exc)}")
        else:
            messages.success(request, _("“%(item)s” recorded.") % {"item": item.requirement})
    else:
        errors = " ".join(str(e) for errors in form.errors.values() for e in errors)
        messages.error(request, f"{item.requirement}: {errors}")
    return redirect(f"{back}#item-{requirement_id}")
