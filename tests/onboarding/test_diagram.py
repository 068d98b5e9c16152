"""The committed admission diagram is the one the code generates."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from onboarding.diagram import admission_transitions, render_admission_diagram
from onboarding.models import AdmissionState

DOC = Path(settings.BASE_DIR) / "docs" / "admission-workflow.md"


def test_committed_diagram_matches_the_code():
    assert DOC.read_text(encoding="utf-8") == render_admission_diagram(), (
        "docs/admission-workflow.md is stale: run `python manage.py admission_diagram`"
    )


def test_diagram_has_every_state_and_edge():
    text = render_admission_diagram()
    for state in AdmissionState:
        assert f"as {state.value}" in text
    for source, target, method, _perm, _cond in admission_transitions():
        assert f"    {source} --> {target} : {method}" in text
    assert "under_review --> pending_head_office : refer_to_head_office" in text


def test_check_mode_fails_on_a_stale_file(tmp_path):
    stale = tmp_path / "workflow.md"
    stale.write_text("old", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("admission_diagram", "--check", "--output", str(stale))
    call_command("admission_diagram", "--output", str(stale))
    call_command("admission_diagram", "--check", "--output", str(stale))
