"""Crawl the admin as one user in zh-hans and list what a Chinese reader should never see.

Used by the crawl test (on factory data) and runnable by hand against the demo database::

    DJANGO_DEBUG=true python -m tests.workspace.crawl hq_admin rm_sz
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib import admin
from django.db import models
from django.urls import NoReverseMatch, reverse
from lxml import html as lxml_html

CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
# Text with no CJK that is still right in a Chinese page: codes, formats and proper nouns.
ALLOWED_LATIN = {
    "CSV",
    "XLSX",
    "PDF",
    "ID",
    "IP",
    "KPI",
    "SME",
    "URL",
    "API",
    "VAT",
    "PE/VC",
    "USCC",
    "CNY",
    "#",
    "Django",
    "English",
}
UTC_PATTERNS = [
    (re.compile(r"[+-]\d{2}:\d{2}\b(?!\d)"), "UTC offset"),
    (re.compile(r"\bUTC\b"), "UTC caption"),
    (re.compile(r"\d{2}:\d{2}:\d{2}\.\d{1,6}"), "microseconds"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"), "ISO timestamp"),
]
# Where a label, header, title or button is: the visible names of things on an admin page.
LABEL_XPATHS = [
    # Header cells, not the first cell of each row of a change list (the object's name).
    "//th[not(ancestor::tbody/parent::table[@id='result_list'])]",
    "//label",
    "//fieldset/h2",
    "//div[contains(@class,'module')]/h2",
    "//div[contains(@class,'inline-group')]//h2",
    "//button",
    "//ul[contains(@class,'object-tools')]//a",
    "//div[contains(@class,'submit-row')]//a",
    "//*[@id='changelist-filter']//h3",
    "//*[@id='changelist-filter']//h2",
    "//div[contains(@class,'actions')]//option",
]


@dataclass
class Finding:
    url: str
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.text!r} at {self.url}"


@dataclass
class CrawlResult:
    visited: list[tuple[str, int]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def state_codes() -> set[str]:
    """Every code of a ``state`` choice of the product's models (``pending_head_office`` …)."""
    from django.apps import apps

    codes: set[str] = set()
    for model in apps.get_models():
        if model.__module__.split(".")[0] not in {"onboarding", "revenue", "performance", "portal"}:
            continue
        for f in model._meta.get_fields():
            if isinstance(f, models.Field) and f.choices and (f.name == "state" or f.name.endswith("_state")):
                codes.update(str(value) for value, _label in f.flatchoices if value)
    # Single words like ``open`` or ``paid`` could be English prose too: that is just as wrong in a Chinese page.
    return codes


def _text(element) -> str:
    return " ".join(element.text_content().split())


def _visible_text(tree) -> str:
    invisible = "//script|//style|//noscript|//template|//select[not(ancestor::div[contains(@class,'actions')])]"
    for bad in tree.xpath(invisible):
        bad.drop_tree()
    for hidden in tree.xpath("//*[contains(@class,'hidden') or @hidden or contains(@style,'display: none')]"):
        hidden.drop_tree()
    # Each piece of text apart: cells side by side must not run together into one word.
    return " ".join(" ".join(tree.itertext()).split())


def is_english_only(text: str) -> bool:
    text = text.strip(" :：*?·-—–…|/")
    if not text or CJK.search(text):
        return False
    if not re.search(r"[A-Za-z]", text):
        return False  # numbers, dates, punctuation
    if text in ALLOWED_LATIN:
        return False
    words = re.findall(r"[A-Za-z][A-Za-z/]*", text)
    return not all(word in ALLOWED_LATIN for word in words)


def page_findings(url: str, content: bytes, codes: set[str]) -> list[Finding]:
    tree = lxml_html.fromstring(content.decode("utf-8"))
    found: list[Finding] = []
    seen: set[tuple[str, str]] = set()

    def add(kind: str, text: str) -> None:
        if (kind, text) not in seen:
            seen.add((kind, text))
            found.append(Finding(url, kind, text))

    for xpath in LABEL_XPATHS:
        for element in tree.xpath(xpath):
            if element.xpath("ancestor-or-self::*[contains(@class,'hidden') or contains(@class,'empty-form')]"):
                continue
            text = _text(element)
            if is_english_only(text):
                add("English-only label", text)
    for element in tree.xpath("//input[@type='submit']"):
        value = element.get("value", "")
        if is_english_only(value):
            add("English-only button", value)
    visible = _visible_text(tree)
    for code in codes:
        if re.search(rf"(?<![\w/.-]){re.escape(code)}(?![\w/.-])", visible):
            add("raw state code", code)
    for pattern, kind in UTC_PATTERNS:
        for match in pattern.finditer(visible):
            add(kind, visible[max(0, match.start() - 30) : match.end() + 10])
    return found


def admin_urls_for(request) -> list[str]:
    """Every changelist, one change page per model, the add pages and the custom views without arguments the
    user may open."""
    urls: list[str] = []
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        if not model_admin.has_view_or_change_permission(request):
            continue
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        obj = model_admin.get_queryset(request).order_by("-pk").first()
        if obj is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
            urls.append(reverse("admin:{}_{}_history".format(*info), args=[obj.pk]))
        if model_admin.has_add_permission(request):
            urls.append(reverse("admin:{}_{}_add".format(*info)))
        for name, allowed in (("import", "has_import_permission"), ("export", "has_export_permission")):
            checker = getattr(model_admin, allowed, None)
            if checker is None:
                continue
            try:
                url = reverse("admin:{}_{}_{}".format(*info, name))
            except NoReverseMatch:
                continue
            if checker(request):
                urls.append(url)
    return urls


def custom_admin_urls(request) -> list[str]:
    """The admin's own views that take no argument (start a run, dry run, import transactions, unlock an
    address …); those the user may not open answer 403 and are skipped by the checks."""
    urls = []
    for model_admin in admin.site._registry.values():
        standard = {"changelist", "add", "history", "delete", "change", "autocomplete", "import", "export"}
        for pattern in model_admin.get_urls():
            name = getattr(pattern, "name", None) or ""
            suffix = name.split("_")[-1]
            if not name or suffix in standard or "<" in str(pattern.pattern) or not str(pattern.pattern):
                continue
            try:
                urls.append(reverse(f"admin:{name}"))
            except NoReverseMatch:
                continue
    return urls
