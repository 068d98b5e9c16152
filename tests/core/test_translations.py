"""The product is Chinese first: every message has a zh-hans translation, and the installed catalogue is current.

The catalogues are updated with
    DJANGO_DEBUG=true manage.py makemessages -l zh_Hans -l en --ignore=.venv --ignore=tests --ignore=bench
and compiled with ``django-admin compilemessages --ignore=.venv`` (bin/setup does the latter).
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from onboarding.models import AdmissionState, Partner, PartnerType
from onboarding.validators import validate_uscc
from organisation.roles import Role

ROOT = Path(settings.BASE_DIR)
LOCALE = ROOT / "locale"
ZH_PO = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"
ZH_MO = ZH_PO.with_suffix(".mo")
EN_PO = LOCALE / "en" / "LC_MESSAGES" / "django.po"
# What makemessages leaves out: the virtualenv, the tests and the benchmarks speak to developers only.
EXTRACTION_IGNORES = (".venv", "tests", "bench")
# Left out of the copy the extraction test works on: no messages there, only time to copy.
NOT_SOURCE = (
    ".git",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    "*.sqlite3*",
    "media",
    "private",
    "staticfiles",
    "output",
)
# Placeholders as Python formats them: %(name)s / %(name)d / %(name)r, bare %s / %d, and str.format's {name}.
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]|%[sd]|\{\w*\}")


# ---- a tiny PO reader (no dependency beyond the standard library) ----------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False
    line: int = 0

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        return (self.msgctxt, self.msgid, self.msgid_plural)


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')


def read_po(path: Path) -> list[Entry]:
    """Entries of a PO file in file order, the header (msgid "") included."""
    entries: list[Entry] = []
    entry = Entry()
    target: tuple[str, int] | None = None  # the field that continuation lines extend

    def flush() -> None:
        nonlocal entry, target
        if entry.msgstr or entry.msgid or entry.obsolete:
            entries.append(entry)
        entry, target = Entry(), None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("#~"):  # obsolete: kept by msgmerge, never compiled
            entry.obsolete = True
            continue
        if line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            if target is None:
                raise ValueError(f"{path}:{number}: a continuation line outside any field")
            name, index = target
            text = ast.literal_eval(line)
            if name == "msgstr":
                entry.msgstr[index] += text
            else:
                setattr(entry, name, (getattr(entry, name) or "") + text)
            continue
        match = _KEYWORD.match(line)
        if match is None:
            raise ValueError(f"{path}:{number}: cannot read {raw!r}")
        keyword, index, literal = match.groups()
        if keyword in ("msgctxt", "msgid") and (entry.msgstr or (keyword == "msgid" and entry.msgid)):
            flush()  # a new entry without a blank line in between
        if not entry.line:
            entry.line = number
        text = ast.literal_eval(literal)
        if keyword.startswith("msgstr"):
            slot = int(index) if index is not None else 0
            entry.msgstr[slot] = text
            target = ("msgstr", slot)
        else:
            setattr(entry, keyword, text)
            target = (keyword, 0)
    flush()
    return entries


def messages(path: Path) -> list[Entry]:
    """The live entries: neither the header nor obsolete ones."""
    return [e for e in read_po(path) if e.msgid and not e.obsolete]


def describe(entries: list[Entry]) -> str:
    return "\n".join(f"  line {e.line}: {e.msgid!r}" for e in entries)


# ---- the catalogue itself -----------------------------------------------------------------------------


def test_po_reader_reads_plurals_contexts_continuations_and_flags(tmp_path):
    po = tmp_path / "x.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Plural-Forms: nplurals=1; plural=0;\\n"\n\n'
        '#: a.py:1\n#, fuzzy, python-format\nmsgctxt "menu"\nmsgid ""\n"Open %(n)s "\n"now"\nmsgstr "打开"\n\n'
        'msgid "one row"\nmsgid_plural "rows"\nmsgstr[0] "%(n)d 行"\n\n'
        '#~ msgid "gone"\n#~ msgstr "已删"\n',
        encoding="utf-8",
    )
    header, first, second, gone = read_po(po)
    assert header.msgid == "" and "nplurals=1" in header.msgstr[0]
    assert (first.msgctxt, first.msgid, first.msgstr, first.flags) == (
        "menu",
        "Open %(n)s now",
        {0: "打开"},
        {"fuzzy", "python-format"},
    )
    assert (second.msgid_plural, second.msgstr) == ("rows", {0: "%(n)d 行"})
    assert gone.obsolete
    assert [e.msgid for e in messages(po)] == ["Open %(n)s now", "one row"]


def test_zh_catalogue_has_one_plural_form_and_no_fuzzy_header():
    header = read_po(ZH_PO)[0]
    assert header.msgid == ""
    assert "Plural-Forms: nplurals=1; plural=0;" in header.msgstr[0]
    assert "fuzzy" not in header.flags, "msgfmt ignores a fuzzy header, and with it the plural rule"


def test_every_zh_message_is_translated_and_none_is_fuzzy():
    entries = messages(ZH_PO)
    assert len(entries) > 100  # the real catalogue, not an empty one that passes trivially
    untranslated = [e for e in entries if not e.msgstr or not all(e.msgstr.values())]
    fuzzy = [e for e in entries if "fuzzy" in e.flags]
    assert not untranslated, f"untranslated in {ZH_PO.relative_to(ROOT)}:\n{describe(untranslated)}"
    assert not fuzzy, f"fuzzy (unchecked) in {ZH_PO.relative_to(ROOT)}:\n{describe(fuzzy)}"


def test_zh_translations_keep_every_placeholder():
    wrong = [
        e
        for e in messages(ZH_PO)
        for text in e.msgstr.values()
        if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(e.msgid))
    ]
    assert not wrong, f"placeholders differ from the msgid:\n{describe(wrong)}"


def test_english_catalogue_leaves_the_english_msgids_alone():
    overridden = [e for e in messages(EN_PO) if any(e.msgstr.values())]
    assert not overridden, f"the msgid is the English text; these replace it:\n{describe(overridden)}"


def test_installed_zh_catalogue_is_compiled_from_the_current_po():
    assert ZH_MO.exists(), "run: manage.py compilemessages --ignore=.venv"
    with ZH_MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for e in messages(ZH_PO):
        if e.msgid_plural is not None:
            got = compiled.ngettext(e.msgid, e.msgid_plural, 1)
        elif e.msgctxt is not None:
            got = compiled.pgettext(e.msgctxt, e.msgid)
        else:
            got = compiled.gettext(e.msgid)
        if got != e.msgstr[0]:
            stale.append(e)
    assert not stale, f"django.mo is older than django.po; run manage.py compilemessages\n{describe(stale)}"


def test_every_message_in_the_code_is_in_the_catalogue(tmp_path):
    """A fresh extraction (the makemessages run above, on a copy of the tree) finds nothing the catalogue lacks."""
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(*EXTRACTION_IGNORES, *NOT_SOURCE, "locale"),
    )
    (copy / "locale").mkdir()  # empty: the .pot holds exactly what the code asks for
    ignores = [f"--ignore={pattern}" for pattern in EXTRACTION_IGNORES]
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--keep-pot", *ignores],
        cwd=copy,
        check=True,
        capture_output=True,
        text=True,
    )
    extracted = messages(copy / "locale" / "django.pot")
    assert len(extracted) > 100
    committed = {e.key for e in messages(ZH_PO)}
    missing = [e for e in extracted if e.key not in committed]
    assert not missing, (
        "messages in the code but not in the catalogue; run makemessages and translate them:\n"
        + "\n".join(f"  {e.msgid!r}" for e in missing)
    )


# ---- what users see ------------------------------------------------------------------------------------


def test_labels_are_chinese_under_zh_hans():
    with translation.override("zh-hans"):
        assert [str(s.label) for s in AdmissionState] == [
            "草稿",
            "已提交",
            "审核中",
            "补件",
            "已重新提交",
            "待总行审批",
            "审批通过",
            "已签约",
            "生效",
            "暂停",
            "拒绝",
            "终止",
        ]
        assert str(PartnerType.SOFTWARE_DATA.label) == "软件和数据服务商"
        assert str(Partner._meta.verbose_name) == "服务商"
        assert str(Partner._meta.get_field("credit_code").verbose_name) == "统一社会信用代码"
        assert str(Partner._meta.get_field("relationship_manager").verbose_name) == "客户经理"
        assert str(Role.BRANCH_RM.label) == "分行客户经理"


def test_labels_are_english_under_en():
    with translation.override("en"):
        assert str(AdmissionState.NEEDS_INFO.label) == "Needs more information"
        assert str(AdmissionState.ACTIVE.label) == "Active"
        assert str(Partner._meta.verbose_name) == "partner"
        assert str(Partner._meta.get_field("credit_code").verbose_name) == "unified social credit code"
        assert str(Role.BRANCH_RM.label) == "Branch relationship manager"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("zh-hans", "91440300192185379 为 17 位"),
        ("en", "91440300192185379 has 17."),
    ],
)
def test_messages_fill_their_placeholders_in_either_language(language, expected):
    with translation.override(language):
        with pytest.raises(ValidationError) as refused:
            validate_uscc("91440300192185379")
        # The message is lazy: it is rendered in the language active when it is read.
        assert expected in refused.value.messages[0]


@pytest.mark.django_db
def test_the_admin_speaks_chinese_unless_asked_for_english(client):
    login = reverse("admin:login")
    chinese = client.get(login).content.decode()
    assert '<html lang="zh-hans"' in chinese
    assert "服务商管理中台" in chinese
    english = client.get(login, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en"' in english
    assert "Partner management middle office" in english
