"""Recording admission evidence, the reviewer's per-item decisions and reading an item's document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm_log.models import StateLog

from onboarding.documents import evidence_document_check, evidence_document_name
from onboarding.errors import ConcurrentChange, InvalidState
from onboarding.models import EvidenceDecision, EvidenceDownload, EvidenceItem, EvidenceRequirement, Partner
from onboarding.policies import Action, authorise, authorise_view
from organisation.models import User

# ``expires_on`` left as it is on file (callers that do not deal with validity dates).
KEEP = object()


def evidence_upload_complete(
    *, partner: Partner, requirement: EvidenceRequirement, reference: str, document: File | None
) -> None:
    """What the portal asks of an upload (an applicant's, or a partner's in its re-review): the number or
    registration on the document, and the document itself unless one is on file already."""
    if not reference.strip():
        raise ValidationError({"reference": _("Enter the number or registration shown on the document.")})
    item = partner.evidence_items.filter(requirement=requirement).first()
    if document is None and not (item and item.document):
        raise ValidationError({"document": _("Attach the document (PDF, JPEG or PNG).")})


@transaction.atomic
def evidence_item_record(
    *,
    partner: Partner,
    requirement: EvidenceRequirement,
    reference: str,
    by: User,
    document: File | None = None,
    clear_document: bool = False,
    expires_on: date | None | object = KEEP,
) -> EvidenceItem:
    """Record (or correct) the evidence for one requirement while the case is editable.

    A change of reference or document resets the reviewer's decision to
    pending, so what a reviewer accepted is exactly what is on file. A document
    must be a PDF, JPEG or PNG by content and at most EVIDENCE_MAX_UPLOAD_BYTES
    (``onboarding.documents``); anything else is refused before anything is
    stored or changed. It is stored privately under a name the server chooses.
    ``expires_on`` is the end of a licence's validity (a re-review opens before it); ``KEEP`` leaves it.
    """
    if document is not None:
        try:
            document_type = evidence_document_check(document)
        except ValidationError as exc:
            raise ValidationError({"document": exc.error_list}) from exc
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
    if expires_on is KEEP:
        expires_on = item.expires_on
    changed = (
        reference != item.reference
        or document is not None
        or (clear_document and bool(item.document))
        or expires_on != item.expires_on
    )
    if not changed:
        return item
    item.reference = reference
    item.expires_on = expires_on
    if document is not None:
        item.document_type = document_type
        item.document_name = evidence_document_name(document.name, document_type)
        item.document.save(item.document_name, document, save=False)  # upload_to picks the stored name
    elif clear_document:
        item.document, item.document_name, item.document_type = "", "", ""
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


@dataclass(frozen=True)
class EvidenceDocument:
    """An evidence document opened for one reader: the file (the caller streams and closes it), its type and name."""

    file: File
    content_type: str
    filename: str


def evidence_document_download(*, item: EvidenceItem, by: User, ip: str | None = None) -> EvidenceDocument:
    """Open an evidence item's document for ``by`` and record the download (who, when, which item and file).

    Whoever may see the partner may read its evidence, with the partner's own
    scope (``policies.authorise_view``); a refused reader gets ``NotPermitted``
    and nothing is recorded, nor is a download whose file cannot be opened.
    """
    authorise_view(partner=item.partner, user=by)
    if not item.document:
        raise InvalidState(_("No document is attached to “%(requirement)s”.") % {"requirement": item.requirement})
    try:
        handle = item.document.storage.open(item.document.name, "rb")
    except FileNotFoundError as exc:
        raise InvalidState(
            _("The document of “%(requirement)s” is missing from the file store.") % {"requirement": item.requirement}
        ) from exc
    try:
        EvidenceDownload.objects.create(
            item=item, document=item.document.name, document_name=item.document_name, user=by, ip=ip or None
        )
    except BaseException:
        handle.close()
        raise
    return EvidenceDocument(file=handle, content_type=item.document_type, filename=item.document_name)
