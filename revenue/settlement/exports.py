"""Settlements and their transactions as labelled CSV or XLSX for bank staff (``core.spreadsheets``).

* :func:`settlement_export_rows`: one row per settlement in the user's scope
  (a period, optionally a state) with its totals; the totals row adds the
  money columns up to the fen.
* :func:`attribution_export_rows`: the transactions a settlement (or one of
  its ledger lines) adds up, one row per attribution.

Headers are the models' verbose names, the labels the admin shows.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.periods import Period
from core.spreadsheets import Column, ColumnKind, ExportParameterError, field_label
from onboarding.models import Partner
from organisation.models import User
from revenue.ledger.choices import TransactionKind
from revenue.ledger.models import Transaction, TransactionAttribution
from revenue.settlement.choices import SettlementState
from revenue.settlement.models import Settlement
from revenue.settlement.selectors import settlement_list

MONEY, COUNT, DECIMAL = ColumnKind.MONEY, ColumnKind.COUNT, ColumnKind.DECIMAL
PERCENT, DATETIME = ColumnKind.PERCENT, ColumnKind.DATETIME


def _money(name: str, meaning, *, total: bool = True) -> Column:
    return Column(field_label(Settlement, name), MONEY, meaning=meaning, total=total)


SETTLEMENT_EXPORT_COLUMNS: tuple[Column, ...] = (
    Column(field_label(Partner, "legal_name"), meaning=_("The partner's registered name."), width=34),
    Column(field_label(Partner, "credit_code"), meaning=_("Unified social credit code."), width=22),
    Column(field_label(Settlement, "period"), meaning=_("The settled month (Beijing time).")),
    Column(field_label(Settlement, "state"), meaning=_("Draft, closed, approved or paid.")),
    Column(
        field_label(Settlement, "transaction_count"),
        COUNT,
        meaning=_("Transactions attributed to the partner in the settlement's lines."),
        total=True,
    ),
    _money("bank_revenue", _("The bank's revenue from those transactions (the partner's part).")),
    _money("share_total", _("The partner's shares of the month's product lines.")),
    _money("adjustment_total", _("Late events and reversals of closed months, and dispute resolutions.")),
    _money("carried_in", _("A negative or too small balance carried in from the previous month.")),
    _money("net", _("Shares + adjustments + carried in: the service fee the partner invoices.")),
    Column(field_label(Settlement, "vat_rate"), PERCENT, meaning=_("The partner's VAT rate.")),
    _money("vat", _("VAT on the service fee.")),
    _money("payable", _("Service fee + VAT: what the bank pays (0 when carried forward).")),
    Column(field_label(Settlement, "carried_forward"), meaning=_("Yes: not paid this month, netted in the next.")),
    Column(field_label(Settlement, "closed_at"), DATETIME, meaning=_("When the month-end close froze it.")),
    Column(field_label(Settlement, "approved_at"), DATETIME, meaning=_("When finance approved it.")),
    Column(field_label(Settlement, "paid_at"), DATETIME, meaning=_("When it was marked paid.")),
    Column(field_label(Settlement, "payment_reference"), meaning=_("The bank's reference of the payment.")),
)


def settlement_export_queryset(*, user: User, period: str, state: str = "") -> QuerySet[Settlement]:
    """The settlements of ``period`` (``2026-10``) in the user's scope, optionally of one state.

    A bad period or state is refused with :class:`ExportParameterError` (a 400).
    """
    try:
        month = Period.parse(period or "")
    except ValueError as exc:
        raise ExportParameterError(_("Give the period as YYYY-MM, e.g. period=2026-10.")) from exc
    qs = settlement_list(user=user).filter(period__start=month.first_day)
    if state:
        if state not in SettlementState.values:
            raise ExportParameterError(
                _("Unknown state %(state)r; use one of: %(choices)s.")
                % {"state": state[:20], "choices": ", ".join(SettlementState.values)}
            )
        qs = qs.filter(state=state)
    return qs.order_by("partner__legal_name", "pk")


def settlement_export_rows(qs: QuerySet[Settlement]) -> Iterator[tuple]:
    yes, no = _("Yes"), _("No")
    for s in qs.select_related("partner", "period").iterator(chunk_size=2000):
        yield (
            s.partner.legal_name,
            s.partner.credit_code,
            str(s.period),
            SettlementState(s.state).label,
            s.transaction_count,
            s.bank_revenue,
            s.share_total,
            s.adjustment_total,
            s.carried_in,
            s.net,
            s.vat_rate,
            s.vat,
            s.payable,
            yes if s.carried_forward else no,
            s.closed_at,
            s.approved_at,
            s.paid_at,
            s.payment_reference,
        )


ATTRIBUTION_EXPORT_COLUMNS: tuple[Column, ...] = (
    Column(_("Attribution id"), meaning=_("The attribution's id in the ledger.")),
    Column(field_label(TransactionAttribution, "occurred_at"), DATETIME, meaning=_("Beijing time.")),
    Column(field_label(Transaction, "source"), meaning=_("The bank system that reported the transaction.")),
    Column(field_label(Transaction, "external_id"), meaning=_("The source system's own id."), width=20),
    Column(_("Transaction kind"), meaning=_("Normal, or a reversal of an earlier transaction.")),
    Column(field_label(Transaction, "reverses"), meaning=_("For a reversal: the external id reversed.")),
    Column(_("Product code"), meaning=_("The code of the bank product.")),
    Column(field_label(Transaction, "sme_id"), meaning=_("The end customer's id at the bank.")),
    Column(field_label(Transaction, "sme_name"), meaning=_("The end customer (SME)."), width=30),
    Column(
        field_label(TransactionAttribution, "weight"),
        DECIMAL,
        meaning=_("The partner's part of a co-served transaction; summed, the weighted count."),
        places=6,
        total=True,
    ),
    Column(
        field_label(TransactionAttribution, "amount"),
        MONEY,
        meaning=_("The partner's part of the amount."),
        total=True,
    ),
    Column(
        field_label(TransactionAttribution, "bank_revenue"),
        MONEY,
        meaning=_("The partner's part of the bank revenue: what the lines add up and share."),
        total=True,
    ),
)


def attribution_export_rows(attributions: QuerySet[TransactionAttribution]) -> Iterator[tuple]:
    for a in attributions.iterator(chunk_size=2000):
        yield (
            a.pk,
            a.occurred_at,
            a.transaction.source_id,
            a.transaction.external_id,
            TransactionKind(a.transaction.kind).label,
            a.transaction.reverses.external_id if a.transaction.reverses_id else "",
            a.product.code,
            a.transaction.sme_id,
            a.transaction.sme_name,
            a.weight,
            a.amount,
            a.bank_revenue,
        )
