"""Helpers for tests of applications to join: a valid application, its confirmation link, a PDF."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count

from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from onboarding import services
from onboarding.models import PartnerApplication, PartnerType
from tests.factories import make_uscc

_seed = count(880_000)
PASSWORD = "Kx7!mq2-applicant"


def pdf(name: str = "licence.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.7\n%test\n", content_type="application/pdf")


def application_data(branch, **overrides) -> dict:
    n = next(_seed)
    data = {
        "legal_name": f"广州申请测试{n}有限公司",
        "credit_code": make_uscc(n),
        "legal_representative": "赵六",
        "partner_type": PartnerType.SOFTWARE_DATA,
        "branch": branch,
        "contact_name": "钱七",
        "email": f"applicant{n}@company.example",
        "mobile": "13912345678",
        "password": PASSWORD,
        "client_address": f"198.51.100.{n % 250}",
    }
    data.update(overrides)
    return data


@contextmanager
def tasks_in_process() -> Iterator[None]:
    """Notices are tasks: run them in this process whatever broker is configured."""
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@contextmanager
def notices_sent() -> Iterator[None]:
    """Run what is queued on commit (the notices) when the block ends, as a real commit would."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        yield


def confirmation_link(email: str) -> str:
    """The confirmation path of the last e-mail sent to ``email``."""
    for message in reversed(mail.outbox):
        if email in message.to:
            return re.search(r"/portal/apply/confirm/[^/\s]+/", message.body).group(0)
    raise AssertionError(f"no e-mail to {email}")


def confirmed_application(branch, **overrides) -> PartnerApplication:
    with notices_sent():
        application = services.application_create(**application_data(branch, **overrides))
    token = confirmation_link(application.email).rstrip("/").rsplit("/", 1)[1]
    return services.application_confirm_email(token=token)


def record_all(application: PartnerApplication) -> None:
    for item in application.partner.evidence_items.select_related("requirement"):
        services.application_evidence_record(
            application=application,
            requirement=item.requirement,
            reference=f"APP-{item.requirement.code}",
            document=pdf(),
            by=application.applicant,
        )
