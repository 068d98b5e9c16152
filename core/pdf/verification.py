"""Verification codes: a keyed digest of a document's data, printed on the document.

The code is an HMAC-SHA256 (keyed with ``settings.SECRET_KEY``) over the
canonical JSON of the plain data object the document was rendered from, cut to
80 bits and written as 16 Crockford base-32 characters, ``XXXX-XXXX-XXXX-XXXX``.
Without the key nobody can produce a valid code for altered data, and 80 bits
cannot be guessed on a public verification page. Keys listed in
``settings.SECRET_KEY_FALLBACKS`` still verify, so the key can be rotated.

``purpose`` separates kinds of document: a statement's code never verifies a
scorecard with coincidentally equal data.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal

from django.conf import settings
from django.utils.crypto import salted_hmac

CODE_BYTES = 10  # 80 bits → 16 base-32 characters
# Crockford's base 32: no I, L, O or U, so a code read aloud or retyped survives.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _canonical(value: object) -> object:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        # A float in a document's data means money or a rate lost exactness somewhere.
        raise TypeError("floats are not allowed in document data; use Decimal")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not allowed in document data")
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous in document data; use aware ones")
        # The same instant must digest the same whichever zone it was loaded in.
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"document data keys must be str, got {type(key).__name__}")
            out[key] = _canonical(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    raise TypeError(f"{type(value).__name__} is not allowed in document data")


def canonical_json(data: Mapping[str, object]) -> bytes:
    """The canonical UTF-8 JSON of a document's data: sorted keys, no spaces.

    Decimals are written as their exact string (``Decimal("1.50")`` → ``"1.50"``),
    so the data builder must produce amounts at a fixed precision, as the
    database does.
    """
    return json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _encode(digest: bytes) -> str:
    number = int.from_bytes(digest[:CODE_BYTES], "big")
    chars = []
    for _ in range(CODE_BYTES * 8 // 5):
        number, index = divmod(number, 32)
        chars.append(_ALPHABET[index])
    raw = "".join(reversed(chars))
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _code_with(secret: str, data: Mapping[str, object], purpose: str) -> str:
    digest = salted_hmac(f"core.pdf.verification:{purpose}", canonical_json(data), secret=secret, algorithm="sha256")
    return _encode(digest.digest())


def verification_code(data: Mapping[str, object], *, purpose: str) -> str:
    """The code to print on the document rendered from ``data``: ``"7K3Q-P0ZM-…"``."""
    if not purpose:
        raise ValueError("purpose is required")
    return _code_with(settings.SECRET_KEY, data, purpose)


def normalize_code(code: str) -> str | None:
    """A code as typed by a person (any case, spaces or dashes, O for 0, I/L for 1) in its printed form.

    Returns ``None`` when it cannot be a code, so a verification page can
    answer "not found" without a lookup.
    """
    if not isinstance(code, str):
        return None
    raw = "".join(ch for ch in code.upper() if ch not in " -\t").translate(_READ_AS)
    if len(raw) != CODE_BYTES * 8 // 5 or any(ch not in _ALPHABET for ch in raw):
        return None
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def verify_code(data: Mapping[str, object], code: str, *, purpose: str) -> bool:
    """Whether ``code`` is the verification code of ``data`` (under the current or a fallback key)."""
    wanted = normalize_code(code)
    if wanted is None:
        return False
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    # Compare against every key without short-circuiting on the first match.
    matches = [hmac.compare_digest(_code_with(secret, data, purpose), wanted) for secret in secrets]
    return any(matches)
