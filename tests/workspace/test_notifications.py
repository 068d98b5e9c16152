"""Notifications: who is told of each step (within the branch), the e-mail in the recipient's language, the inbox."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from onboarding import services
from onboarding.errors import EvidenceIncomplete
from onboarding.models import AdmissionState, EvidenceDecision, PartnerType
from onboarding.selectors import evidence_items
from organisation.roles import Role
from revenue.settlement.services import settlement_dispute_raise
from tests.factories import UserFactory
from workspace.models import Notification, NotificationKind
from workspace.services import notification_mark_read, notify

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """The e-mail task runs in this process whatever broker is configured (no worker serves these tests)."""
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def told(kind) -> set[str]:
    return set(Notification.objects.filter(kind=kind).values_list("recipient__username", flat=True))


@pytest.fixture
def reviewer_b(branch_b):
    return UserFactory(username="reviewer_b", branch=branch_b, roles=[Role.RISK_REVIEWER])


def test_a_submitted_case_is_announced_to_its_branchs_reviewers_only(
    new_case, rm_a, reviewer_a, reviewer_b, head_office, django_capture_on_commit_callbacks
):
    case = new_case()
    with django_capture_on_commit_callbacks(execute=True):
        services.partner_submit(partner=case, by=rm_a)
    assert told(NotificationKind.CASE_SUBMITTED) == {"reviewer_a"}
    notification = Notification.objects.get(kind=NotificationKind.CASE_SUBMITTED)
    assert notification.url == reverse("admin:onboarding_partner_change", args=[case.pk])
    assert case.legal_name in notification.title
    assert [m.to for m in mail.outbox] == [[reviewer_a.email]]
    assert case.legal_name in mail.outbox[0].subject


def test_each_step_tells_whoever_acts_next(new_case, rm_a, reviewer_a, head_office):
    case = new_case(partner_type=PartnerType.PE_VC)
    services.partner_submit(partner=case, by=rm_a)
    services.partner_assign_reviewer(partner=case, reviewer=reviewer_a, by=head_office)
    assert told(NotificationKind.CASE_ASSIGNED) == {"reviewer_a"}

    item = evidence_items(partner=case).first()
    services.evidence_item_decide(item=item, decision=EvidenceDecision.NEEDS_REVISION, reason="过期", by=reviewer_a)
    services.partner_request_info(partner=case, by=reviewer_a, comment="请补充")
    assert told(NotificationKind.CASE_RETURNED) == {"rm_a"}
    assert "请补充" in Notification.objects.get(kind=NotificationKind.CASE_RETURNED).comment

    services.evidence_item_record(partner=case, requirement=item.requirement, reference="NEW", by=rm_a)
    services.partner_resubmit(partner=case, by=rm_a)
    assert told(NotificationKind.CASE_RESUBMITTED) == {"reviewer_a"}  # the reviewer who returned it

    services.partner_start_review(partner=case, by=reviewer_a)
    for evidence in evidence_items(partner=case):
        services.evidence_item_decide(item=evidence, decision=EvidenceDecision.ACCEPTED, by=reviewer_a)
    services.partner_approve(partner=case, by=reviewer_a)
    assert case.state == AdmissionState.PENDING_HEAD_OFFICE
    assert told(NotificationKind.CASE_AWAITS_HEAD_OFFICE) == {"rm_a", "hq_admin"}

    services.partner_approve_head_office(partner=case, by=head_office)
    assert told(NotificationKind.CASE_APPROVED) == {"rm_a"}


def test_a_reviewer_taking_a_case_is_not_told_of_it_and_a_rejection_tells_the_rm(case_in, reviewer_a):
    case = case_in(AdmissionState.UNDER_REVIEW)  # reviewer_a took it
    assert told(NotificationKind.CASE_ASSIGNED) == set()
    services.partner_reject(partner=case, by=reviewer_a, comment="不符合准入条件")
    assert told(NotificationKind.CASE_REJECTED) == {"rm_a"}


def test_a_refused_step_tells_nobody(new_case, rm_a):
    case = new_case(evidence=False)
    with pytest.raises(EvidenceIncomplete):
        services.partner_submit(partner=case, by=rm_a)
    assert not Notification.objects.exists()


def test_a_dispute_is_announced_to_its_deciders_and_the_partners_rm(
    closed_settlement, partner_user_x, finance, head_office, rm_a, rm_b
):
    dispute = settlement_dispute_raise(line=closed_settlement.lines.first(), by=partner_user_x, comment="金额不对")
    assert told(NotificationKind.DISPUTE_RAISED) == {"finance", "hq_admin", "rm_a"}
    assert {n.url for n in Notification.objects.all()} == {
        reverse("admin:settlement_settlementdispute_change", args=[dispute.pk])
    }


def test_a_close_tells_finance_that_its_settlements_await_approval(finance, head_office, closed_settlement):
    notify(kind=NotificationKind.SETTLEMENTS_AWAIT_APPROVAL, obj=closed_settlement.period, by=None)
    assert told(NotificationKind.SETTLEMENTS_AWAIT_APPROVAL) == {"finance"}
    url = Notification.objects.get().url
    assert url.startswith(reverse("admin:settlement_settlement_changelist"))
    assert f"period__id__exact={closed_settlement.period_id}" in url


def test_the_email_is_in_the_recipients_language(
    new_case, rm_a, reviewer_a, django_capture_on_commit_callbacks, monkeypatch
):
    from django.utils import translation

    import workspace.services

    languages = {}
    render = workspace.services.render_to_string

    def recording_render(template, context):
        languages[context["recipient"].username] = translation.get_language()
        return render(template, context)

    monkeypatch.setattr(workspace.services, "render_to_string", recording_render)
    reviewer_a.language = "en"
    reviewer_a.save()
    chinese = UserFactory(username="reviewer_zh", branch=reviewer_a.branch, roles=[Role.RISK_REVIEWER])
    case = new_case()
    with django_capture_on_commit_callbacks(execute=True):
        services.partner_submit(partner=case, by=rm_a)
    by_address = {m.to[0]: m for m in mail.outbox}
    assert "was submitted and awaits review" in by_address[reviewer_a.email].subject
    assert languages == {"reviewer_a": "en", "reviewer_zh": "zh-hans"}  # no preference: the product's language
    assert reverse("admin:onboarding_partner_change", args=[case.pk]) in by_address[chinese.email].body


def test_an_email_is_sent_once_even_if_its_task_runs_twice(new_case, rm_a, reviewer_a):
    from workspace.services import notification_email

    case = new_case()
    services.partner_submit(partner=case, by=rm_a)
    notification = Notification.objects.get()
    assert notification_email(notification_id=notification.pk) is True
    assert notification_email(notification_id=notification.pk) is False
    assert len(mail.outbox) == 1


def test_the_sweep_sends_emails_lost_on_the_way_once_and_leaves_fresh_ones_to_their_task(new_case, rm_a, reviewer_a):
    import datetime as dt

    from django.utils import timezone

    from workspace.tasks import notification_emails_sweep_task

    services.partner_submit(partner=new_case(), by=rm_a)  # its e-mail task is queued on commit: never, here
    lost = Notification.objects.get()
    Notification.objects.filter(pk=lost.pk).update(created_at=timezone.now() - dt.timedelta(minutes=20))
    services.partner_submit(partner=new_case(), by=rm_a)
    assert Notification.objects.count() == 2 and not mail.outbox

    assert notification_emails_sweep_task.delay().get() == 1  # only the one left unsent for 20 minutes
    assert len(mail.outbox) == 1 and reviewer_a.email in mail.outbox[0].to
    lost.refresh_from_db()
    assert lost.emailed_at is not None
    assert notification_emails_sweep_task.delay().get() == 0  # sent: never again
    assert len(mail.outbox) == 1


# ---- the inbox ---------------------------------------------------------------------------------


@pytest.fixture
def inbox(new_case, rm_a, reviewer_a):
    services.partner_submit(partner=new_case(), by=rm_a)
    return Notification.objects.get(recipient=reviewer_a)


def test_only_the_recipient_marks_a_notification_read(inbox, rm_a, reviewer_a):
    from core.errors import NotPermitted

    with pytest.raises(NotPermitted):
        notification_mark_read(notification=inbox, by=rm_a)
    assert Notification.objects.get(pk=inbox.pk).read_at is None
    assert notification_mark_read(notification=inbox, by=reviewer_a).read_at is not None


def test_the_inbox_lists_only_ones_own_and_opening_marks_read(client, inbox, rm_a, reviewer_a):
    client.force_login(rm_a)
    assert inbox.title not in client.get(reverse("admin:workspace_notification_changelist")).content.decode()
    assert client.get(reverse("admin:workspace_notification_open", args=[inbox.pk])).status_code == 404
    assert client.post(reverse("admin:workspace_notification_mark_all_read")).status_code == 302
    assert Notification.objects.get(pk=inbox.pk).read_at is None

    client.force_login(reviewer_a)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'class="inbox-unread"' in page
    listing = client.get(reverse("admin:workspace_notification_changelist")).content.decode()
    assert inbox.object_name in listing
    response = client.get(reverse("admin:workspace_notification_open", args=[inbox.pk]))
    assert response.status_code == 302 and response.url == inbox.url
    assert Notification.objects.get(pk=inbox.pk).read_at is not None


def test_mark_all_read_marks_only_ones_own(client, inbox, reviewer_a, rm_a, head_office):
    theirs = Notification.objects.create(recipient=rm_a, kind=NotificationKind.CASE_RETURNED, object_name="x", url="/")
    client.force_login(reviewer_a)
    client.post(reverse("admin:workspace_notification_mark_all_read"))
    assert Notification.objects.get(pk=inbox.pk).read_at is not None
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert client.get(reverse("admin:workspace_notification_mark_all_read")).status_code == 405
