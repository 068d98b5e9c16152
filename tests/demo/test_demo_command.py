"""``manage.py demo`` prints its steps, its sub-commands' progress and its summary in one language."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps

from onboarding.models import Partner
from organisation.models import Branch
from revenue.ledger.models import Product
from tests.console import assert_one_language, command_line

# Committed: the runs the demo starts execute on commit.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _evidence_requirements():
    """What a migration seeds and the demo fixture refers to, again: another committed test's flush empties it."""
    importlib.import_module("onboarding.migrations.0003_seed_evidence_requirements").seed(django_apps, None)


def data_names() -> list[str]:
    return [
        *Partner.objects.values_list("legal_name", flat=True),
        *Branch.objects.values_list("name", flat=True),
        *Product.objects.values_list("name", flat=True),
    ]


def test_the_demo_speaks_chinese_by_default_and_english_when_asked(monkeypatch, capsys, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    # A small demo: the same steps on a few hundred transactions.
    monkeypatch.setattr("demo.management.commands.demo.DEMO_MONTHS", [("2026-09", 300, 9), ("2026-10", 600, 10)])
    out, err, code = command_line(monkeypatch, capsys, "demo", env={"LANG": "C.UTF-8"})
    assert code == 0, err
    assert_one_language(out, "zh-hans", data=data_names())
    steps = [line.split("]")[0] + "]" for line in out.splitlines() if line.startswith("[")]
    assert steps == [f"[{n}/9]" for n in range(1, 10)]
    assert "入账中：100%  600/600" in out
    if settings.CELERY_TASK_ALWAYS_EAGER:  # the close's chunks report their progress when they run in this process
        assert "分块结算：100%  1/1" in out
    # A month without targets is a note, not a warning; the summary names period shares and adjustments.
    assert "备注：2026-09 没有分行目标" in out and "WARNING" not in out + err
    assert "本期分润" in out and "往期调整" in out and "结算的银行收入 = 本期分润 + 往期调整 + 银行留存" in out

    out, err, code = command_line(monkeypatch, capsys, "demo", "--lang", "en", env={"LANG": "zh_CN.UTF-8"})
    assert code == 0 and not err
    assert_one_language(out, "en", data=data_names())
    assert "Already booked." in out and "2026-10 is already closed." in out and "Demo logins" in out
