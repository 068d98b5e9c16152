"""After the close: maker-checker approval, payment, disputes resolved into the next period, frozen settlements."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django_fsm_log.models import StateLog

from revenue.settlement.choices import DisputeState, LineKind, RunKind, SettlementState
from revenue.settlement.errors import ConcurrentChange, InvalidState, MakerCheckerViolation, NotPermitted
from revenue.settlement.models import Settlement
from revenue.settlement.services import (
    settlement_approve,
    settlement_dispute_raise,
    settlement_dispute_reject,
    settlement_dispute_resolve,
    settlement_mark_paid,
)
from tests.revenue.settlement.conftest import D, book, lines_of, pct, row, settlement_of

SEP = "2026-09-10T10:00:00+08:00"


@pytest.fixture
def closed_september(pay, active_x, closer, run_settlement):
    """X's September settlement (300.00 of share), closed by ``closer``."""
    pct(pay, "0.300000")
    book(row(active_x, "S1", revenue="1000.00", at=SEP))
    run_settlement("2026-09", by=closer)
    return settlement_of(active_x, "2026-09")


# ---- approval ------------------------------------------------------------------------------


def test_whoever_closed_it_cannot_approve_it(closed_september, closer, finance):
    with pytest.raises(MakerCheckerViolation, match="someone else must approve"):
        settlement_approve(settlement=closed_september, by=closer)
    assert Settlement.objects.get(pk=closed_september.pk).state == SettlementState.CLOSED

    approved = settlement_approve(settlement=closed_september, by=finance, comment="checked")
    assert (approved.state, approved.approved_by, approved.closed_by) == (SettlementState.APPROVED, finance, closer)
    log = StateLog.objects.for_(approved).get()
    assert (log.source_state, log.state, log.by, log.description) == ("closed", "approved", finance, "checked")


def test_a_close_by_the_schedule_can_be_approved_by_any_finance_user(pay, active_x, finance, run_settlement):
    pct(pay, "0.300000")
    book(row(active_x, "S1", revenue="1000.00", at=SEP))
    run_settlement("2026-09")  # by=None: the beat schedule
    settlement = settlement_of(active_x, "2026-09")
    assert settlement_approve(settlement=settlement, by=finance).state == SettlementState.APPROVED


def test_only_finance_approves_and_only_closed_settlements(closed_september, rm_a, head_office, finance, pay, active_x):
    for user in (rm_a, head_office):
        with pytest.raises(NotPermitted):
            settlement_approve(settlement=closed_september, by=user)
    settlement_approve(settlement=closed_september, by=finance)
    with pytest.raises(InvalidState, match="Only a closed settlement can be approved"):
        settlement_approve(settlement=Settlement.objects.get(pk=closed_september.pk), by=finance)


def test_a_stale_copy_is_refused(closed_september, finance, head_office_branch):
    from organisation.roles import Role
    from tests.factories import UserFactory

    stale = Settlement.objects.get(pk=closed_september.pk)
    settlement_approve(settlement=closed_september, by=finance)
    other = UserFactory(username="finance2", branch=head_office_branch, roles=[Role.FINANCE])
    with pytest.raises(ConcurrentChange, match="changed by someone else"):
        settlement_approve(settlement=stale, by=other)


def test_the_database_refuses_an_approver_who_closed_it(closed_september, closer):
    with pytest.raises(IntegrityError), transaction.atomic():
        Settlement.objects.filter(pk=closed_september.pk).update(approved_by=closer)


# ---- payment ------------------------------------------------------------------------------


def test_an_approved_settlement_is_paid_with_its_reference(closed_september, finance):
    with pytest.raises(InvalidState, match="Only an approved settlement"):
        settlement_mark_paid(settlement=closed_september, by=finance, payment_reference="P-1")
    settlement_approve(settlement=closed_september, by=finance)
    with pytest.raises(ValidationError):
        settlement_mark_paid(settlement=closed_september, by=finance, payment_reference="  ")
    paid = settlement_mark_paid(settlement=closed_september, by=finance, payment_reference=" CNAPS-20261005-001 ")
    assert (paid.state, paid.payment_reference, paid.paid_by, paid.payable) == (
        SettlementState.PAID,
        "CNAPS-20261005-001",
        finance,
        D("318.00"),
    )
    assert paid.paid_at is not None


def test_a_carried_forward_settlement_is_never_paid(pay, active_x, closer, finance, run_settlement):
    pct(pay, "0.300000")
    book(row(active_x, "S1", revenue="100.00", at=SEP))  # 30.00: below the minimum payout
    run_settlement("2026-09", by=closer)
    settlement = settlement_approve(settlement=settlement_of(active_x, "2026-09"), by=finance)
    with pytest.raises(InvalidState, match="Nothing is payable"):
        settlement_mark_paid(settlement=settlement, by=finance, payment_reference="P-2")


def test_rms_do_not_record_payments(closed_september, finance, rm_a):
    settlement_approve(settlement=closed_september, by=finance)
    with pytest.raises(NotPermitted):
        settlement_mark_paid(settlement=closed_september, by=rm_a, payment_reference="P-3")


# ---- disputes -----------------------------------------------------------------------------


def test_a_partner_disputes_its_line_and_the_resolution_settles_next_period(
    closed_september, partner_user_x, finance, active_x, run_settlement
):
    (line,) = lines_of(closed_september)
    dispute = settlement_dispute_raise(line=line, by=partner_user_x, comment="Event S9 is missing.")
    assert (dispute.state, dispute.settlement, dispute.raised_by) == (
        DisputeState.OPEN,
        closed_september,
        partner_user_x,
    )

    resolved = settlement_dispute_resolve(dispute=dispute, by=finance, amount=D("25.50"), comment="Accepted.")
    assert (resolved.state, resolved.resolution_amount) == (DisputeState.RESOLVED, D("25.50"))
    assert resolved.adjust_period.start == dt.date(2026, 10, 1)

    book(row(active_x, "O1", revenue="1000.00"))
    run_settlement("2026-10")
    october = settlement_of(active_x, "2026-10")
    _product, resolution = lines_of(october)
    assert (resolution.kind, resolution.dispute, resolution.share) == (LineKind.DISPUTE_RESOLUTION, dispute, D("25.50"))
    assert (october.share_total, october.adjustment_total, october.net) == (D("300.00"), D("25.50"), D("325.50"))
    # The disputed settlement itself never changed.
    assert Settlement.objects.get(pk=closed_september.pk).net == D("300.00")


def test_a_resolution_goes_to_the_next_period_still_open(closed_september, partner_user_x, finance, active_x, pay):
    from core.periods import Period
    from revenue.settlement.services import settlement_run_start

    (line,) = lines_of(closed_september)
    dispute = settlement_dispute_raise(line=line, by=partner_user_x, comment="Wrong rate.")
    book(row(active_x, "O1", revenue="10.00"))
    # October's close has started (its run waits for a worker): the resolution settles in November.
    settlement_run_start(period=Period(2026, 10), kind=RunKind.CLOSE, by=None)
    resolved = settlement_dispute_resolve(dispute=dispute, by=finance, amount=D("-5.00"), comment="Recovered.")
    assert resolved.adjust_period.start == dt.date(2026, 11, 1)


def test_dispute_rules(closed_september, partner_user_x, partner_user_y, finance, rm_a):
    (line,) = lines_of(closed_september)
    with pytest.raises(NotPermitted, match="your own partner"):
        settlement_dispute_raise(line=line, by=partner_user_y, comment="Not mine.")
    with pytest.raises(NotPermitted):
        settlement_dispute_raise(line=line, by=rm_a, comment="Staff do not dispute.")
    with pytest.raises(ValidationError):
        settlement_dispute_raise(line=line, by=partner_user_x, comment="   ")
    dispute = settlement_dispute_raise(line=line, by=partner_user_x, comment="First.")
    with pytest.raises(InvalidState, match="already has an open dispute"):
        settlement_dispute_raise(line=line, by=partner_user_x, comment="Second.")
    with pytest.raises(NotPermitted):
        settlement_dispute_resolve(dispute=dispute, by=rm_a, amount=D("1.00"), comment="No.")
    with pytest.raises(ValidationError):
        settlement_dispute_resolve(dispute=dispute, by=finance, amount=D("1.005"), comment="Half a fen.")
    rejected = settlement_dispute_reject(dispute=dispute, by=finance, comment="The event belongs to October.")
    assert (rejected.state, rejected.resolution_amount, rejected.adjust_period) == (DisputeState.REJECTED, None, None)
    with pytest.raises(InvalidState, match="already decided"):
        settlement_dispute_resolve(dispute=dispute, by=finance, amount=D("1.00"), comment="Changed my mind.")
    # Once decided, the line may be disputed again.
    assert settlement_dispute_raise(line=line, by=partner_user_x, comment="Third.").state == DisputeState.OPEN


def test_drafts_cannot_be_disputed(pay, active_x, partner_user_x, run_settlement):
    pct(pay, "0.300000")
    book(row(active_x, "O1", revenue="100.00"))
    run_settlement("2026-10", kind=RunKind.ACCRUAL)
    (line,) = lines_of(settlement_of(active_x, "2026-10"))
    with pytest.raises(InvalidState, match="still a draft"):
        settlement_dispute_raise(line=line, by=partner_user_x, comment="Too early.")


# ---- frozen in the database (PostgreSQL) ------------------------------------------------------


@pytest.mark.postgres
def test_plain_sql_cannot_change_a_closed_settlement(closed_september):
    from django.db.utils import DatabaseError

    (line,) = lines_of(closed_september)
    statements = [
        (
            "UPDATE settlement_settlement SET net = net + 1, share_total = share_total + 1 WHERE id = %s",
            closed_september.pk,
        ),
        ("UPDATE settlement_settlement SET state = 'draft' WHERE id = %s", closed_september.pk),
        ("DELETE FROM settlement_settlement WHERE id = %s", closed_september.pk),
        ("UPDATE settlement_settlementline SET share = share + 1 WHERE id = %s", line.pk),
        ("DELETE FROM settlement_settlementline WHERE id = %s", line.pk),
    ]
    for sql, pk in statements:
        with pytest.raises(DatabaseError, match="closed"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [pk])
    assert Settlement.objects.get(pk=closed_september.pk).net == D("300.00")


@pytest.mark.postgres
def test_plain_sql_cannot_make_a_line_name_a_missing_row_or_orphan_lines(pay, active_x, run_settlement):
    """Lines' references are foreign keys: the database refuses a line naming nothing, and orphaned lines."""
    from revenue.settlement.choices import RunKind as Kind
    from tests.revenue.ledger.test_schema_guards import refused

    pct(pay, "0.300000")
    book(row(active_x, "D1", revenue="1000.00", at="2026-10-10T10:00:00+08:00"))
    run_settlement("2026-10", kind=Kind.ACCRUAL)
    draft = settlement_of(active_x, "2026-10")
    (line,) = lines_of(draft)
    statements = [
        ("UPDATE settlement_settlementline SET product_id = -1 WHERE id = %s", line.pk),
        ("UPDATE settlement_settlementline SET agreement_version_id = -1 WHERE id = %s", line.pk),
        ("UPDATE settlement_settlementline SET settlement_id = -1 WHERE id = %s", line.pk),
        (
            "INSERT INTO settlement_settlementline (settlement_id, position, kind, product_id, transaction_count, "
            "net_count, volume, bank_revenue, rule_description, share, description) "
            "SELECT settlement_id, 9, kind, -1, 0, 0, 0, 0, '', 0, '' FROM settlement_settlementline WHERE id = %s",
            line.pk,
        ),
        ("DELETE FROM settlement_settlement WHERE id = %s", draft.pk),
    ]
    for sql, pk in statements:
        assert refused(sql, [pk]), sql
    assert lines_of(settlement_of(active_x, "2026-10")) == [line]


@pytest.mark.postgres
def test_plain_sql_cannot_make_a_settlement_name_a_missing_row_or_delete_what_one_names(
    pay, active_x, active_y, run_settlement
):
    """A settlement's partner, period and run are foreign keys: naming nothing, or deleting what one names, fails."""
    from revenue.settlement.choices import RunKind as Kind
    from tests.revenue.ledger.test_schema_guards import refused

    pct(pay, "0.300000")
    book(row(active_x, "D1", revenue="1000.00", at="2026-10-10T10:00:00+08:00"))
    run_settlement("2026-10", kind=Kind.ACCRUAL)
    draft = settlement_of(active_x, "2026-10")
    copy = (
        "INSERT INTO settlement_settlement (partner_id, period_id, run_id, state, watermark_from, watermark_to, "
        "transaction_count, bank_revenue, share_total, adjustment_total, carried_in, net, vat_rate, vat, payable, "
        "carried_forward, computed_at, payment_reference) "
        "SELECT {}, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, false, computed_at, '' FROM settlement_settlement WHERE id = %s"
    )
    statements = [
        (copy.format("-1, period_id, run_id, 'draft'"), draft.pk),
        (copy.format("partner_id, -1, run_id, 'draft'"), draft.pk),
        (copy.format(f"{active_y.pk}, period_id, -1, 'draft'"), draft.pk),
        ("UPDATE settlement_settlement SET partner_id = -1 WHERE id = %s", draft.pk),
        ("UPDATE settlement_settlement SET run_id = -1 WHERE id = %s", draft.pk),
        ("DELETE FROM onboarding_partner WHERE id = %s", active_x.pk),
        ("DELETE FROM settlement_settlementperiod WHERE id = %s", draft.period_id),
        ("DELETE FROM settlement_settlementrun WHERE id = %s", draft.run_id),
    ]
    for sql, pk in statements:
        assert refused(sql, [pk]), sql
    assert settlement_of(active_x, "2026-10") == draft
