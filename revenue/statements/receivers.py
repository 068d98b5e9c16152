"""The one signal statements listen to: a dispute decided by the bank (resolved or rejected).

The dispute lifecycle belongs to ``revenue.settlement``; django-fsm's
``post_transition`` is the seam it offers. It fires inside the deciding
service's transaction, before the dispute is saved, so the event recorded here
commits or rolls back with the decision itself (and its e-mail and webhooks
are queued only on commit).
"""

from __future__ import annotations

from django_fsm.signals import post_transition

from revenue.settlement.choices import DisputeState
from revenue.settlement.models import SettlementDispute

DECIDED = (DisputeState.RESOLVED, DisputeState.REJECTED)


def dispute_decided(sender, instance: SettlementDispute, name: str, source: str, target: str, **kwargs) -> None:
    if target in DECIDED:
        from revenue.statements.services.events import dispute_decided_record

        dispute_decided_record(dispute=instance)


post_transition.connect(dispute_decided, sender=SettlementDispute, dispatch_uid="revenue.statements.dispute_decided")
