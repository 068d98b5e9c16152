"""Recording admission evidence and the reviewer's per-item decisions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm_log.models import StateLog

from onboarding.errors import ConcurrentChange, InvalidState
from onboarding.models import EvidenceDecision, EvidenceItem, EvidenceRequirement, Partner
from onboarding.policies import Action, authorise
from organisation.models import User


@transaction.atomic
def evidence_item_record(
    *,
    partner: Partner,
    requirement: EvidenceRequirement,
    reference: str,
    by: User,
    document: File | None = None,
    clear_document: bool = False,
) -> EvidenceItem:
    """Record (or correct) the evidence for one requirement while the case is editable.

    A change of reference or document resets the reviewer's decision to
    pending, so what a reviewer accepted is exactly what is on file.
    """
    # Lock the case: evidence changes must not interleave with a submission of the same case.
    case = Partner.objects.select_for_update().get(pk=partner.pk)
    if case.state != partner.state:
        raise ConcurrentChange(_("This case was changed by someone else. Reload it and try again."))
    authorise(action=Action.EDIT, partner=case, user=by)
    if requirement.partner_type != case.partner_type:
        message = _("“%(requirement)s” is not evidence for this partner's type.") % {"requirement": requirement}
        raise ValidationError({"requirement": message})
    item, _created = EvidenceItem.objects.select_for_update().get_or_create(partner=case, requirement=requirement)
    reference = reference.strip()
    changed = reference != item.reference or document is not None or (clear_document and bool(item.document))
    if not changed:
        return item
    item.reference = reference
    if document is not None:
        item.document.save(document.name, document, save=False)
    elif clear_document:
        item.document = ""
    item.recorded_by = by
    item.recorded_at = timezone.now()
    item.decision = EvidenceDecision.PENDING
    item.decision_reason = ""
    item.decided_by = None
    item.decided_at = None
    item.full_clean()
    item.save()
    return item


@transaction.atomic
def evidence_item_decide(*, item: EvidenceItem, decision: str, by: User, reason: str = "") -> EvidenceItem:
    """The case's reviewer accepts an evidence item or asks for its revision (with a reason).

    Only while the case is under review, only by its assigned reviewer or
    head office, never by a maker of the case. The decision is also written
    to the case's audit log.
    """
    case = Partner.objects.select_for_update().get(pk=item.partner_id)
    authorise(action=Action.DECIDE_EVIDENCE, partner=case, user=by)
    item = EvidenceItem.objects.select_for_update().select_related("requirement").get(pk=item.pk)
    reason = reason.strip()
    if decision not in (EvidenceDecision.ACCEPTED, EvidenceDecision.NEEDS_REVISION):
        raise ValidationError({"decision": _("Accept the item or ask for its revision.")})
    if decision == EvidenceDecision.NEEDS_REVISION and not reason:
        raise ValidationError({"decision_reason": _("Say what needs revising.")})
    if decision == EvidenceDecision.ACCEPTED and not item.is_recorded:
        raise InvalidState(
            _("Nothing is recorded for “%(requirement)s”, so it cannot be accepted.")
            % {"requirement": item.requirement}
        )
    item.decision = decision
    item.decision_reason = reason
    item.decided_by = by
    item.decided_at = timezone.now()
    item.full_clean()
    item.save()
    StateLog.objects.create(
        content_object=case,
        by=by,
        transition="decide_evidence",
        source_state=case.state,
        state=case.state,
        description=f"{item.requirement}: {item.get_decision_display()}" + (f" — {reason}" if reason else ""),
    )
    return item
