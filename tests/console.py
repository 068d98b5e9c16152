"""Helpers of the command tests: run a command as from a shell, and check the language of what it printed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from unittest import mock

from django.core.management import ManagementUtility

# CJK ideographs and punctuation, full-width forms: what only a Chinese message (or Chinese data) prints.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")


def assert_one_language(out: str, language: str, *, data: Iterable[str] = ()) -> None:
    """English output has no CJK character outside the data it names (Chinese company, product, branch names);
    Chinese output has CJK on every line that has words, outside those names."""
    text = out
    for name in sorted((str(d) for d in data if d), key=len, reverse=True):
        text = text.replace(name, "")
    if language == "en":
        found = [line for line in text.splitlines() if CJK.search(line)]
        assert not found, "CJK in the English output:\n" + "\n".join(found)
        return
    assert CJK.search(text), out
    worded = [line for line in text.splitlines() if re.search(r"[A-Za-z]{4,}", line)]
    english = [line for line in worded if not CJK.search(line) and not _technical(line)]
    assert not english, "English-only lines in the Chinese output:\n" + "\n".join(english)


def _technical(line: str) -> bool:
    """Lines that are only paths, codes, URLs or table rows of data (no message words)."""
    stripped = line.strip()
    return bool(re.fullmatch(r"[\w./:\-@#<>≤=,()%\s]*", stripped)) and not re.search(
        r"\b[a-z]{4,} [a-z]{4,}\b", stripped
    )


def command_line(monkeypatch, capsys, *argv: str, env: Mapping[str, str] | None = None) -> tuple[str, str, int]:
    """``manage.py <argv>`` in this process with the locale ``env``: (stdout, stderr, exit code)."""
    for name in LOCALE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    code = 0
    # The command closes every connection when it ends, which the test's own transaction cannot survive.
    with mock.patch("django.core.management.base.connections.close_all"):
        try:
            ManagementUtility(["manage.py", *argv]).execute()
        except SystemExit as exc:
            code = exc.code or 0
    captured = capsys.readouterr()
    return captured.out, captured.err, code
