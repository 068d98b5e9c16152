"""The partner's re-review (年审) in the portal: its evidence refreshed by the partner's own users.

Open to a suspended partner's users too: a partner suspended for an overdue re-review is reinstated when the
re-review passes, so its users must still be able to send what it asks for.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core.admin import error_text
from core.errors import ApplicationError
from onboarding.models import EvidenceDecision
from onboarding.selectors import evidence_items, partner_open_review
from onboarding.services import review_evidence_record
from portal.apply_forms import EvidenceForm
from portal.views import partner_statement_reader


def partner_under_review(view):
    """The portal's partner users, a suspended partner's included (see the module's note)."""
    return partner_statement_reader(view)


@partner_under_review
def review(request):
    partner = request.user.partner
    open_review = partner_open_review(partner_id=partner.pk)
    items = list(evidence_items(partner=partner))
    for item in items:
        item.form = EvidenceForm(
            prefix=f"item{item.requirement_id}", initial={"reference": item.reference, "expires_on": item.expires_on}
        )
        item.needs_revision = item.decision == EvidenceDecision.NEEDS_REVISION
    return render(
        request,
        "portal/review.html",
        {"partner": partner, "review": open_review, "items": items, "editable": open_review is not None},
    )


@require_POST
@partner_under_review
def review_evidence(request, requirement_id: int):
    partner = request.user.partner
    item = evidence_items(partner=partner).filter(requirement_id=requirement_id).first()
    if item is None:
        raise Http404
    form = EvidenceForm(request.POST, request.FILES, prefix=f"item{requirement_id}")
    if form.is_valid():
        try:
            review_evidence_record(
                partner=partner,
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
    return redirect(f"{reverse('portal:review')}#item-{requirement_id}")
