"""Bank identifiers a payment file names a bank by: a BIC (ISO 9362) or a CNAPS bank code (大额支付系统行号).

A BIC is 8 or 11 characters: four of institution, two of country, two of
location, optionally three of branch. A CNAPS code is the 12 digits China's
payment system gives each bank branch. :func:`bank_code_kind` tells which one
a code is (the payment file puts them in different elements);
:func:`validate_bank_code` refuses anything else.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

BIC_RE = re.compile(r"^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$")
CNAPS_RE = re.compile(r"^[0-9]{12}$")

BIC = "bic"
CNAPS = "cnaps"


def bank_code_kind(code: str) -> str | None:
    """``"bic"``, ``"cnaps"`` or None (neither)."""
    if BIC_RE.match(code or ""):
        return BIC
    if CNAPS_RE.match(code or ""):
        return CNAPS
    return None


def validate_bank_code(code: str) -> None:
    if code and bank_code_kind(code) is None:
        raise ValidationError(
            _("Enter a BIC (8 or 11 letters and digits, e.g. ICBKCNBJ) or a 12-digit CNAPS bank code."),
            code="bank_code",
        )
