"""Two people acting on the same case at once: one wins, the other is told to reload, nothing happens twice.

On PostgreSQL the race is real: two threads, two database connections, both
holding the case as they read it; the row lock makes the second wait for the
first and then find the state changed. On SQLite (no row locks, one writer)
the same test runs the two actors one after the other with the stale copy,
which is the path the loser takes on PostgreSQL too.
"""

from __future__ import annotations

import threading
import time
from unittest import mock

import pytest
from django.db import connection, transaction
from django.utils import translation
from django_fsm import ConcurrentTransition

from onboarding import services
from onboarding.errors import ConcurrentChange
from onboarding.models import AdmissionState, Partner, PartnerActivePeriod
from onboarding.policies import authorise as real_authorise
from onboarding.selectors import partner_state_log
from organisation.models import User
from tests.onboarding.conftest import accept_all_evidence

ON_POSTGRES = connection.vendor == "postgresql"


def _race(first, second) -> list[object]:
    """Run two callables at once (PostgreSQL) or one after the other (SQLite); return their results/exceptions."""
    results: list[object] = [None, None]
    # The active language is per thread: the racing threads speak the test's language.
    language = translation.get_language()

    def run(i, fn, barrier):
        try:
            if barrier:
                barrier.wait(timeout=10)
            with translation.override(language):
                results[i] = fn()
        except Exception as exc:
            results[i] = exc
        finally:
            if barrier:
                connection.close()

    if not ON_POSTGRES:
        run(0, first, None)
        run(1, second, None)
        return results

    barrier = threading.Barrier(2)

    def slow_authorise(**kwargs):
        # Hold the row lock a moment so the other thread is certainly waiting on it.
        real_authorise(**kwargs)
        time.sleep(0.3)

    with mock.patch("onboarding.services.admission.authorise", side_effect=slow_authorise):
        threads = [threading.Thread(target=run, args=(i, fn, barrier)) for i, fn in enumerate((first, second))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    return results


def _fresh(partner: Partner) -> Partner:
    return Partner.objects.get(pk=partner.pk)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_approve_and_reject_at_once_one_wins(case_in, reviewer_a, head_office):
    partner = case_in(AdmissionState.UNDER_REVIEW)
    accept_all_evidence(partner, reviewer_a)
    reviewer_copy, head_office_copy = _fresh(partner), _fresh(partner)
    reviewer = User.objects.get(pk=reviewer_a.pk)
    hq = User.objects.get(pk=head_office.pk)

    results = _race(
        lambda: services.partner_approve(partner=reviewer_copy, by=reviewer),
        lambda: services.partner_reject(partner=head_office_copy, by=hq, comment="重复客户"),
    )

    winners = [r for r in results if isinstance(r, Partner)]
    losers = [r for r in results if isinstance(r, ConcurrentChange)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert "someone else" in str(losers[0].message)
    partner.refresh_from_db()
    assert partner.state == winners[0].state
    decisions = partner_state_log(partner=partner).filter(transition__in=["approve", "reject"])
    assert decisions.count() == 1
    assert decisions.get().state == partner.state


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_double_activation_opens_one_active_period(case_in, rm_a, branch_a):
    partner = case_in(AdmissionState.CONTRACTED)
    copies = _fresh(partner), _fresh(partner)
    rm = User.objects.get(pk=rm_a.pk)

    results = _race(
        lambda: services.partner_activate(partner=copies[0], by=rm),
        lambda: services.partner_activate(partner=copies[1], by=rm),
    )

    assert sum(isinstance(r, Partner) for r in results) == 1, results
    assert sum(isinstance(r, ConcurrentChange) for r in results) == 1, results
    assert PartnerActivePeriod.objects.filter(partner=partner).count() == 1
    assert partner_state_log(partner=partner).filter(transition="activate").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_hand_overs_at_once_one_wins(case_in, reviewer_a, branch_a):
    from organisation.roles import Role
    from tests.factories import UserFactory

    partner = case_in(AdmissionState.UNDER_REVIEW)
    assert partner.assigned_reviewer_id == reviewer_a.pk
    colleagues = [
        UserFactory(username=f"reviewer_{n}", branch=branch_a, roles=[Role.RISK_REVIEWER]) for n in ("b", "c")
    ]
    copies = _fresh(partner), _fresh(partner)
    by = User.objects.get(pk=reviewer_a.pk)

    results = _race(
        lambda: services.partner_assign_reviewer(partner=copies[0], reviewer=colleagues[0], by=by),
        lambda: services.partner_assign_reviewer(partner=copies[1], reviewer=colleagues[1], by=by),
    )

    winners = [r for r in results if isinstance(r, Partner)]
    losers = [r for r in results if isinstance(r, ConcurrentChange)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert "handed to another reviewer" in str(losers[0].message)
    partner.refresh_from_db()
    assert partner.assigned_reviewer_id == winners[0].assigned_reviewer_id
    assert partner_state_log(partner=partner).filter(transition="assign_reviewer").count() == 2  # take + one hand-over


def test_stale_copy_is_refused_with_a_reload_message(case_in, reviewer_a, rm_a):
    partner = case_in(AdmissionState.UNDER_REVIEW)
    stale = _fresh(partner)
    services.partner_request_info(partner=partner, by=reviewer_a, comment="请补充")

    with pytest.raises(ConcurrentChange, match="Reload"):
        services.partner_reject(partner=stale, by=reviewer_a, comment="拒绝")
    partner.refresh_from_db()
    assert partner.state == AdmissionState.NEEDS_INFO
    assert not partner_state_log(partner=partner).filter(transition="reject").exists()


def test_concurrent_transition_mixin_refuses_a_stale_save(case_in, rm_a):
    """Second line of defence: even bypassing the services, a stale transition cannot be saved."""
    partner = case_in(AdmissionState.ACTIVE)
    stale = _fresh(partner)
    services.partner_suspend(partner=partner, by=rm_a, comment="暂停")

    with pytest.raises(ConcurrentTransition), transaction.atomic():
        stale.terminate(by=rm_a, description="绕过服务")
        stale.save()
    partner.refresh_from_db()
    assert partner.state == AdmissionState.SUSPENDED
