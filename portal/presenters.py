"""Figures as the portal prints them: the statement's own formatting (``core.pdf``), whatever the UI language.

Django's Chinese number format has no thousands separator; amounts on a
settlement page must read exactly as on its PDF (``12,345.67``), so pages get
them formatted here rather than through localised template filters.
"""

from __future__ import annotations

from decimal import Decimal

from core.money_words import amount_in_capitals
from core.pdf import format_count, format_money, format_percent
from revenue.settlement.selectors import line_notes_shown, line_rule_text
from revenue.vocabulary import carried_out_note


def money(value: Decimal | None) -> str:
    return "" if value is None else format_money(value)


def rate(value: Decimal | None) -> str:
    return "" if value is None else format_percent(value)


def count(value: Decimal | int) -> str:
    """Whole counts as ``1,234``; co-served fractions as ``38.6`` (never ``38.600000``)."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return format_count(int(value))
    return f"{value.normalize():,f}"


SETTLEMENT_MONEY = ("bank_revenue", "share_total", "adjustment_total", "carried_in", "net", "vat", "payable")


def settlement_figures(settlement, lines=None) -> dict[str, str]:
    """The settlement's figures as printed; with its ``lines``, also how many of its transactions are reversals."""
    shown = {name: money(getattr(settlement, name)) for name in SETTLEMENT_MONEY}
    shown["vat_rate"] = rate(settlement.vat_rate)
    shown["transaction_count"] = format_count(settlement.transaction_count)
    if lines is not None:
        reversals = sum(line.reversal_count for line in lines if line.is_ledger_line)
        shown["event_count"] = format_count(settlement.transaction_count - reversals)
        shown["reversal_count"] = format_count(reversals)
    if settlement.carried_forward:
        # Named and worded as on the statement (revenue.vocabulary), in the reader's language.
        shown["carried_out"] = str(
            carried_out_note(net=settlement.net, next_period=str(settlement.period.period.next()))
        )
    # As the statement prints it: a finance team checks the invoice against the amount in capitals.
    shown["payable_in_words"] = f"人民币{amount_in_capitals(settlement.payable)}"
    return shown


def line_figures(line) -> dict:
    """A line's figures as printed: whole counts that add up to the settlement's, and what the line says."""
    return {
        "events": format_count(line.event_count),
        "reversals": format_count(line.reversal_count),
        "count": count(line.net_count),
        "bank_revenue": money(line.bank_revenue),
        "rate": rate(line.effective_rate),
        "share": money(line.share),
        "rule": line_rule_text(line),
        "notes": line_notes_shown(line),
    }


def invoice_status(status: dict) -> dict:
    """A settlement's invoice status (``revenue.payments.selectors.settlement_invoice_status``) with its amounts."""
    for invoice in status["invoices"]:
        invoice.shown = {"amount": money(invoice.amount), "tax": money(invoice.tax)}
    return status
