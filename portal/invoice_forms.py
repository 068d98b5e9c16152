"""The portal's invoice form (validation of shape only; the service checks the invoice against the settlement)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


class InvoiceForm(forms.Form):
    number = forms.CharField(
        label=_("Invoice number"), max_length=20, help_text=_("8 digits, or 20 for a fully digital invoice.")
    )
    code = forms.CharField(
        label=_("Invoice code"),
        max_length=12,
        required=False,
        help_text=_("10 or 12 digits; empty for a fully digital invoice."),
    )
    issued_on = forms.DateField(
        label=_("Invoice date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    amount = forms.DecimalField(
        label=_("Amount excluding tax (CNY)"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        min_value=Decimal("0.01"),
    )
    tax_rate_percent = forms.DecimalField(
        label=_("Tax rate (%)"), max_digits=5, decimal_places=2, min_value=Decimal("0"), max_value=Decimal("99.99")
    )
    tax = forms.DecimalField(
        label=_("Tax amount (CNY)"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        min_value=Decimal("0"),
    )
    buyer_name = forms.CharField(label=_("Buyer name"), max_length=100)
    buyer_taxpayer_number = forms.CharField(label=_("Buyer taxpayer number"), max_length=20)
    file = forms.FileField(label=_("Invoice file (PDF or OFD)"))

    @property
    def tax_rate(self) -> Decimal:
        return self.cleaned_data["tax_rate_percent"] / 100
