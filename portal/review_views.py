"""The partner's re-review (年审) in the portal: its evidence refreshed by the partner's own users.

Open to a suspended partner's users too: a partner suspended for an overdue re-review is reinstated when the
re-review passes, so its users must still be able to send what it asks for.
"""

from __future__ import annotations

import functools

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from onboarding.selectors import partner_open_review
from onboarding.services import review_evidence_record
from portal.evidence import evidence_items_with_forms, evidence_upload
from portal.views import partner_statement_reader


def partner_under_review(view):
    """The portal's partner users, a suspended partner's included (see the module's note)."""
    return partner_statement_reader(view)


@partner_under_review
def review(request):
    partner = request.user.partner
    open_review = partner_open_review(partner_id=partner.pk)
    return render(
        request,
        "portal/review.html",
        {
            "partner": partner,
            "review": open_review,
            "items": evidence_items_with_forms(partner=partner),
            "editable": open_review is not None,
        },
    )


@require_POST
@partner_under_review
def review_evidence(request, requirement_id: int):
    partner = request.user.partner
    return evidence_upload(
        request,
        partner=partner,
        requirement_id=requirement_id,
        record=functools.partial(review_evidence_record, partner=partner),
        back=reverse("portal:review"),
    )
