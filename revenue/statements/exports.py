"""The statement's transaction detail as a labelled CSV or XLSX (``core.spreadsheets``).

One row per attribution a settlement's ledger lines add up (the rows of
:func:`revenue.statements.selectors.settlement_detail_rows`), under the
verbose names the admin and portal use; a totals row adds up the amounts and
the weights (the co-served weighted count), so it equals the lines' bank
revenue to the fen.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.utils.translation import gettext_lazy as _

from core.spreadsheets import Column, ColumnKind, field_label
from revenue.ledger.choices import TransactionKind
from revenue.ledger.models import Transaction, TransactionAttribution
from revenue.settlement.choices import LineKind
from revenue.settlement.models import Settlement, SettlementLine
from revenue.statements import selectors

MONEY, DECIMAL, DATETIME = ColumnKind.MONEY, ColumnKind.DECIMAL, ColumnKind.DATETIME

# Keyed by the names of selectors.DETAIL_COLUMNS, in the same order.
DETAIL_EXPORT_COLUMNS: dict[str, Column] = {
    "line_kind": Column(
        _("Statement line"),
        meaning=_("The statement line the transaction is settled in: a product of the month, or an adjustment."),
        width=24,
    ),
    "corrects_period": Column(
        field_label(SettlementLine, "corrects_period"),
        meaning=_("For an adjustment: the closed month the late or reversed transaction belongs to."),
    ),
    "occurred_at": Column(
        field_label(TransactionAttribution, "occurred_at"),
        DATETIME,
        meaning=_("When the transaction happened, Beijing time; it decides the month."),
    ),
    "external_id": Column(
        field_label(Transaction, "external_id"),
        meaning=_("The source system's own id of the transaction."),
        width=20,
    ),
    "source": Column(field_label(Transaction, "source"), meaning=_("The bank system that reported the transaction.")),
    "kind": Column(
        _("Transaction kind"), meaning=_("Normal, or a reversal (refund, cancellation) of an earlier transaction.")
    ),
    "reverses": Column(
        field_label(Transaction, "reverses"),
        meaning=_("For a reversal: the external id of the transaction reversed."),
        width=20,
    ),
    "product": Column(_("Product code"), meaning=_("The code of the bank product.")),
    "product_name": Column(field_label(Transaction, "product"), meaning=_("The bank product."), width=22),
    "sme_id": Column(field_label(Transaction, "sme_id"), meaning=_("The end customer's id at the bank.")),
    "sme_name": Column(field_label(Transaction, "sme_name"), meaning=_("The end customer (SME)."), width=30),
    "currency": Column(field_label(Transaction, "currency"), meaning=_("ISO 4217 code; CNY.")),
    "amount": Column(
        field_label(Transaction, "amount"), MONEY, meaning=_("The whole transaction's amount."), total=True
    ),
    "bank_revenue": Column(
        field_label(Transaction, "bank_revenue"),
        MONEY,
        meaning=_("The bank's revenue from the whole transaction (fee, interest margin)."),
        total=True,
    ),
    "weight": Column(
        field_label(TransactionAttribution, "weight"),
        DECIMAL,
        meaning=_(
            "The partner's part of a co-served transaction (1 when it served it alone); summed, the weighted count."
        ),
        places=6,
        total=True,
    ),
    "attributed_amount": Column(
        field_label(TransactionAttribution, "amount"),
        MONEY,
        meaning=_("The partner's part of the amount (amount × weight, split to the fen)."),
        total=True,
    ),
    "attributed_bank_revenue": Column(
        field_label(TransactionAttribution, "bank_revenue"),
        MONEY,
        meaning=_("The partner's part of the bank revenue: what the statement's lines add up and share."),
        total=True,
    ),
}
if tuple(DETAIL_EXPORT_COLUMNS) != selectors.DETAIL_COLUMNS:
    raise ImportError("the detail export must label every column of selectors.DETAIL_COLUMNS, in order")

_LABELLED = {"line_kind": LineKind, "kind": TransactionKind}


def detail_export_rows(*, settlement: Settlement) -> Iterator[tuple]:
    """The detail rows with line and transaction kinds as their labels (rendered in the export's language)."""
    names = selectors.DETAIL_COLUMNS
    choice_at = [(index, _LABELLED[name]) for index, name in enumerate(names) if name in _LABELLED]
    for row in selectors.settlement_detail_rows(settlement=settlement):
        values = list(row)
        for index, choices in choice_at:
            if values[index] in choices.values:
                values[index] = choices(values[index]).label
        yield tuple(values)


def detail_export_columns() -> list[Column]:
    return list(DETAIL_EXPORT_COLUMNS.values())


def sample_detail_rows(count: int = 40) -> list[tuple]:
    """Rows shaped like :func:`detail_export_rows` (fixed data, no database): for the documentation's screenshots."""
    import datetime as dt
    from decimal import Decimal

    from core.periods import CHINA_TZ

    smes = ["深圳市宏达贸易有限公司", "东莞精工模具厂", "广州绿源冷链物流有限公司", "佛山新材料科技有限公司"]
    rows = []
    for n in range(1, count + 1):
        adjustment = n % 13 == 0
        reversal = n % 17 == 0
        weight = Decimal("0.500000") if n % 7 == 0 else Decimal("1.000000")
        revenue = Decimal(1000 + n * 137 % 900) / 10 * (-1 if reversal else 1)
        amount = revenue * 125
        rows.append(
            (
                (LineKind.ADJUSTMENT if adjustment else LineKind.PRODUCT).label,
                "2026-09" if adjustment else "",
                dt.datetime(2026, 9 if adjustment else 10, 1 + n % 28, 9 + n % 12, n % 60, tzinfo=CHINA_TZ),
                f"PAY2026{n:08d}",
                "payments",
                (TransactionKind.REVERSAL if reversal else TransactionKind.NORMAL).label,
                f"PAY2026{n - 1:08d}" if reversal else "",
                "PAY_SETTLE",
                "支付结算",
                f"SME{n % 4 + 1:05d}",
                smes[n % 4],
                "CNY",
                amount,
                revenue,
                weight,
                (amount * weight).quantize(Decimal("0.01")),
                (revenue * weight).quantize(Decimal("0.01")),
            )
        )
    return rows
