"""Notices to applicants, partners and RMs about their admission case or re-review: e-mails, for now.

One function sends every notice (:func:`notice_send`), so notices can later be
routed to the staff inbox as well without touching their callers. A notice is a
template pair under ``templates/onboarding/email/`` rendered in Chinese, then in
English, in one message; it is queued on the ``messages`` queue when the
transaction that caused it commits, so a rolled-back change tells nobody.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

logger = logging.getLogger(__name__)

# The notice's languages, in the order they appear in the message.
NOTICE_LANGUAGES = ("zh-hans", "en")


def portal_url(path: str) -> str:
    """An absolute link into the partner portal for a notice (``PARTNER_PORTAL_BASE_URL`` before ``path``)."""
    return f"{settings.PARTNER_PORTAL_BASE_URL.rstrip('/')}{path}"


def _unique_addresses(to: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    addresses = []
    for address in to:
        if address and address.lower() not in seen:
            seen.add(address.lower())
            addresses.append(address)
    return addresses


def notice_render(*, template: str, context: dict) -> tuple[str, str]:
    """Subject and body of a notice: each language's subject joined with " / ", bodies one after the other."""
    subjects, bodies = [], []
    for language in NOTICE_LANGUAGES:
        with translation.override(language):
            subject = render_to_string(f"onboarding/email/{template}_subject.txt", context)
            subjects.append(" ".join(subject.split()))
            bodies.append(render_to_string(f"onboarding/email/{template}.txt", context).strip())
    return " / ".join(subjects), "\n\n----------------------------------------\n\n".join(bodies) + "\n"


def notice_email(*, to: list[str], template: str, context: dict) -> int:
    """Send one notice now; the number of recipients."""
    subject, body = notice_render(template=template, context=context)
    send_mail(subject, body, None, to)
    return len(to)


def notice_send(*, to: Iterable[str], template: str, context: dict) -> None:
    """Queue a notice to ``to`` (empty and repeated addresses dropped) once the current transaction commits.

    ``context`` must be JSON (strings, numbers): it travels to the worker as the task's argument.
    """
    recipients = _unique_addresses(to)
    if not recipients:
        return

    def queue() -> None:
        from onboarding.tasks import notice_email_task

        notice_email_task.delay(recipients, template, context)

    # robust: a notice that cannot be queued is logged; it never undoes what it reports.
    transaction.on_commit(queue, robust=True)
