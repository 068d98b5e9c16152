"""The settlement lifecycle after the close: approval (maker-checker), payment, and disputes.

Every service, in one transaction, locks the row (``select_for_update``),
refuses with ``ConcurrentChange`` when its state is no longer the one the
caller read, checks the named permission and the rules below, applies the
django-fsm transition, saves, and records who/when/why in django-fsm-log.

* ``settlement_approve`` — closed → approved, by finance; **maker-checker**:
  neither the user who closed the settlement nor the one who triggered its
  close may approve it (the database checks the first as well).
* ``settlement_mark_paid`` — approved → paid with the payment reference; a
  settlement with nothing payable (carried forward, or zero) is never paid.
* ``settlement_dispute_raise`` — a partner user objects to a line of their
  own partner's closed settlement (one open dispute per line).
* ``settlement_dispute_resolve`` / ``settlement_dispute_reject`` — bank staff
  decide. A resolution's amount becomes a ``dispute_resolution`` line of the
  partner's settlement in the next open period (the earliest period after the
  disputed one that is still open: its close picks it up). The disputed
  settlement is never edited.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from core import clock
from core.money import round_money
from core.periods import Period
from organisation.models import User
from revenue.settlement.choices import FROZEN_SETTLEMENT_STATES, DisputeState, PeriodState, SettlementState
from revenue.settlement.dates import settlement_dispute_deadline
from revenue.settlement.errors import (
    ConcurrentChange,
    InvalidState,
    MakerCheckerViolation,
    NotPermitted,
)
from revenue.settlement.models import Settlement, SettlementDispute, SettlementLine, SettlementPeriod
from workspace.models import NotificationKind
from workspace.services import notify


def _require(by: User, perm: str, message) -> None:
    if by is None or not by.is_active or not by.has_perm(perm):
        raise NotPermitted(message)


def _lock_settlement(settlement: Settlement) -> Settlement:
    current = (
        Settlement.objects.select_for_update(of=("self",))
        .select_related("run", "period", "partner")
        .get(pk=settlement.pk)
    )
    if current.state != settlement.state:
        raise ConcurrentChange(
            _("This settlement was changed by someone else (it is now %(state)s). Reload it and try again.")
            % {"state": current.get_state_display()}
        )
    return current


def _apply(obj, method: str, *, by: User, description: str) -> None:
    try:
        getattr(obj, method)(by=by, description=description or None)
        obj.save()
    except TransitionNotAllowed as exc:
        raise InvalidState(
            _("This is not possible in the state %(state)s.") % {"state": obj.get_state_display()}
        ) from exc
    except ConcurrentTransition as exc:
        raise ConcurrentChange(_("Changed by someone else meanwhile. Reload it and try again.")) from exc


def settlement_approve_check(*, settlement: Settlement, by: User) -> None:
    """Raise unless ``by`` may approve ``settlement`` now: finance, a closed settlement, and not its maker.

    The rule of ``settlement_approve``; the admin asks it too, to show the button disabled with the reason.
    """
    _require(by, "settlement.approve_settlement", _("Only finance approves settlements."))
    if settlement.state != SettlementState.CLOSED:
        raise InvalidState(
            _("Only a closed settlement can be approved; this one is %(state)s.")
            % {"state": settlement.get_state_display()}
        )
    makers = {settlement.closed_by_id, settlement.run.triggered_by_id if settlement.run_id else None} - {None}
    if by.pk in makers:
        raise MakerCheckerViolation(
            _("You closed this settlement (or started its close), so someone else must approve it.")
        )


def settlement_approve(*, settlement: Settlement, by: User, comment: str = "") -> Settlement:
    """closed → approved (finance). Maker-checker: whoever closed it, or triggered its close, cannot approve it."""
    _require(by, "settlement.approve_settlement", _("Only finance approves settlements."))
    with transaction.atomic():
        current = _lock_settlement(settlement)
        settlement_approve_check(settlement=current, by=by)
        current.approved_by, current.approved_at = by, timezone.now()
        _apply(current, "approve", by=by, description=comment.strip())
    settlement.refresh_from_db()
    return settlement


def settlement_mark_paid_check(*, settlement: Settlement, by: User) -> None:
    """Raise unless ``by`` may record the payment of ``settlement`` now: finance, approved, something payable.

    The rule of ``settlement_mark_paid``; the admin opens its reference form only when this passes.
    """
    _require(by, "settlement.pay_settlement", _("Only finance records payments."))
    if settlement.state != SettlementState.APPROVED:
        raise InvalidState(
            _("Only an approved settlement can be marked paid; this one is %(state)s.")
            % {"state": settlement.get_state_display()}
        )
    if settlement.carried_forward or settlement.payable <= 0:
        raise InvalidState(_("Nothing is payable on this settlement (carried forward to the next period, or zero)."))


def settlement_mark_paid(
    *, settlement: Settlement, by: User, payment_reference: str, paid_at: dt.datetime | None = None
) -> Settlement:
    """approved → paid, with the bank's payment reference. Nothing payable (carried forward, zero) is never paid."""
    _require(by, "settlement.pay_settlement", _("Only finance records payments."))
    reference = (payment_reference or "").strip()
    if not reference:
        raise ValidationError({"payment_reference": _("Enter the payment reference.")})
    with transaction.atomic():
        current = _lock_settlement(settlement)
        settlement_mark_paid_check(settlement=current, by=by)
        current.paid_by, current.paid_at, current.payment_reference = by, paid_at or timezone.now(), reference[:64]
        _apply(current, "pay", by=by, description=reference)
    settlement.refresh_from_db()
    return settlement


# ---- disputes --------------------------------------------------------------------------------


def settlement_dispute_open_until(settlement: Settlement) -> dt.date | None:
    """The last day (Beijing) the settlement's lines may be disputed; None while it is a draft."""
    if settlement.state not in FROZEN_SETTLEMENT_STATES:
        return None
    return settlement_dispute_deadline(settlement)


def settlement_dispute_raise(
    *, line: SettlementLine, by: User, comment: str, now: dt.datetime | None = None
) -> SettlementDispute:
    """A partner user disputes a line of their own partner's closed (approved, paid) settlement.

    Only until the statement's dispute deadline (:func:`revenue.settlement.dates.settlement_dispute_deadline`,
    inclusive, Beijing days): after it the dispute is refused. ``now``: the instant of the request
    (:func:`core.clock.now` when not given).
    """
    _require(by, "settlement.raise_settlement_dispute", _("Only a partner's own users dispute its settlements."))
    text = (comment or "").strip()
    if not text:
        raise ValidationError({"comment": _("Say what is wrong with this line.")})
    now = now or clock.now()
    with transaction.atomic():
        line = SettlementLine.objects.select_related("settlement__period").get(pk=line.pk)
        settlement = line.settlement
        if by.partner_id is None or by.partner_id != settlement.partner_id:
            raise NotPermitted(_("You can only dispute your own partner's settlements."))
        if settlement.state not in FROZEN_SETTLEMENT_STATES:
            raise InvalidState(_("Only a closed settlement can be disputed; this one is still a draft."))
        deadline = settlement_dispute_deadline(settlement)
        if clock.beijing_date(now) > deadline:
            raise InvalidState(
                _(
                    "The dispute deadline of the %(period)s statement was %(deadline)s: its lines can no longer be "
                    "disputed. Contact your relationship manager about anything still wrong."
                )
                % {"period": settlement.period.period, "deadline": deadline.isoformat()}
            )
        try:
            with transaction.atomic():
                dispute = SettlementDispute.objects.create(
                    line=line, settlement=settlement, raised_by=by, raised_at=now, comment=text
                )
        except IntegrityError as exc:
            raise InvalidState(_("This line already has an open dispute.")) from exc
        notify(kind=NotificationKind.DISPUTE_RAISED, obj=dispute, by=by, comment=text)
        return dispute


def _lock_dispute(dispute: SettlementDispute) -> SettlementDispute:
    current = SettlementDispute.objects.select_for_update().select_related("settlement__period").get(pk=dispute.pk)
    if current.state != DisputeState.OPEN:
        raise InvalidState(_("This dispute was already decided (%(state)s).") % {"state": current.get_state_display()})
    return current


def next_open_period(after: Period) -> SettlementPeriod:
    """The earliest period after ``after`` still open (created when needed), locked until commit.

    The lock makes a close that starts meanwhile wait for this transaction, so
    its run sees what was assigned to its period.
    """
    latest_closed = SettlementPeriod.objects.filter(state=PeriodState.CLOSED).order_by("-start").first()
    candidate = after.next()
    if latest_closed is not None and latest_closed.period >= candidate:
        candidate = latest_closed.period.next()
    while True:
        row, _created = SettlementPeriod.objects.get_or_create(start=candidate.first_day)
        row = SettlementPeriod.objects.select_for_update(no_key=True).get(pk=row.pk)
        if row.state == PeriodState.OPEN:
            return row
        candidate = candidate.next()


def _amount(value) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({"amount": _("Enter an amount in yuan, e.g. 12.50.")}) from exc
    if not amount.is_finite() or round_money(amount) != amount:
        raise ValidationError({"amount": _("Enter an amount in yuan with at most two decimals.")})
    return amount


def settlement_dispute_resolve(
    *, dispute: SettlementDispute, by: User, amount: Decimal, comment: str
) -> SettlementDispute:
    """Accept a dispute: ``amount`` (positive: owed to the partner; negative: recovered) settles next open period."""
    _require(by, "settlement.resolve_settlement_dispute", _("Only finance and head office decide disputes."))
    amount = _amount(amount)
    text = (comment or "").strip()
    if not text:
        raise ValidationError({"comment": _("Explain the decision to the partner.")})
    with transaction.atomic():
        current = _lock_dispute(dispute)
        current.adjust_period = next_open_period(current.settlement.period.period)
        current.resolution_amount = amount
        current.resolution_comment = text
        current.resolved_by, current.resolved_at = by, timezone.now()
        _apply(current, "resolve", by=by, description=text)
    dispute.refresh_from_db()
    return dispute


def settlement_dispute_reject(*, dispute: SettlementDispute, by: User, comment: str) -> SettlementDispute:
    """Reject a dispute, saying why (nothing is adjusted)."""
    _require(by, "settlement.resolve_settlement_dispute", _("Only finance and head office decide disputes."))
    text = (comment or "").strip()
    if not text:
        raise ValidationError({"comment": _("Explain the decision to the partner.")})
    with transaction.atomic():
        current = _lock_dispute(dispute)
        current.resolution_comment = text
        current.resolved_by, current.resolved_at = by, timezone.now()
        _apply(current, "reject", by=by, description=text)
    dispute.refresh_from_db()
    return dispute
