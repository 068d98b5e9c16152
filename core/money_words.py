"""An amount in Chinese capitals (人民币大写), as printed on statements and payment documents.

The rules are those for bills and settlement vouchers (《正确填写票据和结算凭证的基本规定》),
always in the same one of their permitted forms:

- Capitals 零壹贰叁肆伍陆柒捌玖, units 拾佰仟万亿, then 元角分.
- A ten at the head of a number is written 壹拾 (10.00 → 壹拾元整, 100,000.00 → 壹拾万元整): the bank
  convention, so that nothing can be written in front of it.
- Every run of zeros between two non-zero digits of the yuan is read as one 零, also where the rules
  would let it be left out (a zero 万 digit): 1,000,001.00 → 壹佰万零壹元整. A zero 元 digit before a
  non-zero 角 is not written (the rules allow either form): 1,010.10 → 壹仟零壹拾元壹角,
  100.10 → 壹佰元壹角. A zero 角 before a non-zero 分 is always 零 (16,409.02 → 壹万陆仟肆佰零玖元零贰分).
- 整 follows an amount that ends at 元, never 角 or 分; no amount of yuan prints no 元
  (0.05 → 伍分); nothing at all is 零元整.
- A negative amount is prefixed 负 (-12.00 → 负壹拾贰元整).
"""

from __future__ import annotations

from decimal import Decimal

from core.money import LARGEST_AMOUNT, to_fen

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("仟", "佰", "拾", "")


def _below_ten_thousand(n: int) -> str:
    """1..9999, with one 零 for each run of zeros between non-zero digits (none leading or trailing)."""
    out = []
    zero_pending = False
    for digit, unit in zip(f"{n:04d}", _SMALL_UNITS, strict=True):
        if digit == "0":
            zero_pending = bool(out)
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        out.append(DIGITS[int(digit)] + unit)
    return "".join(out)


def _whole_yuan(n: int) -> str:
    """1 and up: groups of 亿 and 万 (so a trillion is 壹万亿), a 零 for zeros on either side of the group unit."""
    for size, unit in ((10**8, "亿"), (10**4, "万")):
        if n >= size:
            high, low = divmod(n, size)
            words = _whole_yuan(high) + unit
            if low:
                words += ("零" if high % 10 == 0 or low < size // 10 else "") + _whole_yuan(low)
            return words
    return _below_ten_thousand(n)


def amount_in_capitals(amount: Decimal) -> str:
    """``amount`` (yuan, at most two places, at most :data:`core.money.LARGEST_AMOUNT`) in Chinese capitals.

    1,234,567.89 → 壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分; 1,000,001.00 → 壹佰万零壹元整; 0.00 → 零元整.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, got {type(amount).__name__}")
    if abs(amount) > LARGEST_AMOUNT:
        raise ValueError(f"{amount} is larger than the largest amount ({LARGEST_AMOUNT})")
    fen = to_fen(amount)
    sign = "负" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    jiao, fen_digit = divmod(cents, 10)
    if yuan == 0 and cents == 0:
        return "零元整"
    words = ""
    if yuan:
        words = _whole_yuan(yuan) + "元"
        if not cents:
            return sign + words + "整"
        # A zero 角 before the 分 is one 零; a zero 元 digit before a non-zero 角 is left unsaid.
        if jiao == 0:
            words += "零"
    if jiao:
        words += DIGITS[jiao] + "角"
    if fen_digit:
        words += DIGITS[fen_digit] + "分"
    return sign + words
