"""The demo's lifecycle part: one application in progress and one re-review due, made once however often it runs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.management import call_command

from demo.lifecycle import DEMO_REVIEW_IN_DAYS, demo_application_create, demo_reviews_schedule
from onboarding.models import AdmissionState, CaseOrigin, PartnerApplication, PartnerReview, ReviewState

pytestmark = pytest.mark.django_db


def test_one_application_in_progress_and_one_re_review_due():
    call_command("loaddata", "demo", verbosity=0)
    application = demo_application_create(password="Demo-applicant-2026")
    assert application.partner.state == AdmissionState.NEEDS_INFO
    assert application.partner.origin == CaseOrigin.SELF_APPLICATION
    assert application.partner.branch.code == "SZ"
    today = date(2026, 12, 3)
    review = demo_reviews_schedule(today=today)
    assert review.state == ReviewState.OPEN and review.due_on == today + timedelta(days=DEMO_REVIEW_IN_DAYS)
    assert review.partner.state == AdmissionState.ACTIVE
    # Again: nothing more.
    assert demo_application_create(password="Demo-applicant-2026") is None
    assert demo_reviews_schedule(today=today) is None
    assert PartnerApplication.objects.count() == 1 and PartnerReview.objects.count() == 1
