"""Template filters of the staff admin: amounts and counts as its lists show them (core.admin)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from core.pdf.formatting import format_money

register = template.Library()


@register.filter
def money(value) -> str:
    """``84717876.28`` → ``84,717,876.28``; "—" for nothing."""
    if value is None or value == "":
        return "—"
    return format_money(value if isinstance(value, Decimal) else Decimal(str(value)))


@register.filter
def count(value) -> str:
    """A whole count with separators (``12,173``)."""
    if value is None or value == "":
        return "—"
    return f"{int(value):,}"
