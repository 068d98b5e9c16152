"""The admission workflow as a Mermaid state diagram, generated from the state machine on ``Partner.state``.

``python manage.py admission_diagram`` writes it to ``docs/admission-workflow.md``;
a test fails when the committed file no longer matches the code.
"""

from __future__ import annotations

from django.utils import translation

from onboarding.models import AdmissionState, Partner
from onboarding.policies import CHECKER_ACTIONS, DECIDER_ACTIONS, TRANSITION_METHODS, Action

FINAL_STATES = (AdmissionState.REJECTED, AdmissionState.TERMINATED)


def _order(state: str) -> int:
    return list(AdmissionState.values).index(str(state))


def _condition_text(conditions) -> str:
    return "; ".join((c.__doc__ or c.__name__).strip() for c in conditions) or "—"


def admission_transitions() -> list[tuple[str, str, str, str, str]]:
    """(source, target, method, permission, conditions) for every edge, in workflow order."""
    edges = [
        (str(t.source), str(t.target), t.name, str(t.permission or "—"), _condition_text(t.conditions))
        for t in Partner._meta.get_field("state").get_all_transitions(Partner)
    ]
    return sorted(edges, key=lambda e: (_order(e[0]), _order(e[1]), e[2]))


def render_admission_diagram() -> str:
    with translation.override("en"):
        edges = admission_transitions()
        lines = [
            "# Admission workflow (准入流程)",
            "",
            "Generated from the state machine on `onboarding.models.Partner.state` by",
            "`python manage.py admission_diagram` — do not edit by hand; a test checks it matches the code.",
            "",
            "```mermaid",
            "stateDiagram-v2",
        ]
        for state in AdmissionState:
            lines.append(f'    state "{state.label}" as {state.value}')
        lines.append("    [*] --> draft : partner_create")
        for source, target, method, _perm, _cond in edges:
            lines.append(f"    {source} --> {target} : {method}")
        for state in FINAL_STATES:
            lines.append(f"    {state.value} --> [*]")
        lines += ["```", "", "## Transitions", ""]
        lines += ["| from | to | transition | permission | conditions |", "|---|---|---|---|---|"]
        for source, target, method, perm, cond in edges:
            lines.append(f"| {source} | {target} | `{method}` | `{perm}` | {cond} |")

        method_to_action = {m: a for a, methods in TRANSITION_METHODS.items() for m in methods}
        decider = sorted(m for m, a in method_to_action.items() if a in DECIDER_ACTIONS)
        checker = sorted(m for m, a in method_to_action.items() if a in CHECKER_ACTIONS)
        lines += [
            "",
            "## People rules (onboarding.policies)",
            "",
            "- Branch scope: a branch's staff act only on their branch's partners; head office on all.",
            f"- While a case is under review only its assigned reviewer or head office may: "
            f"{', '.join(f'`{m}`' for m in decider)}, and decide evidence items "
            f"(`{Action.DECIDE_EVIDENCE.value}`).",
            f"- Maker-checker: whoever created the case, is its RM, submitted or resubmitted it, or recorded "
            f"its evidence may not: {', '.join(f'`{m}`' for m in checker)}, or decide its evidence; "
            f"the head-office approver must also differ from the branch approver.",
            "- A case that is high risk or PE/VC goes from the branch approval to `pending_head_office`.",
            "",
        ]
    return "\n".join(lines)
