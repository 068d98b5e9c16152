"""Unified social credit code (统一社会信用代码) validation, GB 32100-2015."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# The 31 characters of the code; I, O, S, V and Z are never used.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(USCC_ALPHABET)}
# Weight of position i is 3**i mod 31.
USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]


def uscc_check_character(first17: str) -> str:
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    if len(code) != 18 or any(ch not in _VALUE for ch in code):
        return False
    return uscc_check_character(code[:17]) == code[17]


def validate_uscc(code: str) -> None:
    if len(code) != 18:
        raise ValidationError(
            _("A unified social credit code has 18 characters; %(code)s has %(n)d."),
            code="uscc_length",
            params={"code": code, "n": len(code)},
        )
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        raise ValidationError(
            _("%(code)s contains characters a unified social credit code cannot have: %(bad)s."),
            code="uscc_characters",
            params={"code": code, "bad": " ".join(bad)},
        )
    if not is_valid_uscc(code):
        raise ValidationError(
            _("%(code)s fails the GB 32100-2015 check character; please check the code."),
            code="uscc_check",
            params={"code": code},
        )
