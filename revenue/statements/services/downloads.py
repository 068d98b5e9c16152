"""Partner access to statements: who is a partner's user, and the record of every download."""

from __future__ import annotations

from organisation.models import User
from revenue.settlement.models import Settlement
from revenue.statements.models import DownloadEvent


def is_partner_user(user) -> bool:
    """A signed-in, active user of a partner allowed to read its settlements (not bank staff)."""
    return bool(
        user
        and user.is_authenticated
        and user.is_active
        and user.partner_id
        and user.has_perm("settlement.view_partner_settlements")
    )


def download_event_record(
    *, user: User, settlement: Settlement, kind: str, channel: str, ip: str | None = None
) -> DownloadEvent:
    """Who downloaded what, when and how (portal, API or admin)."""
    return DownloadEvent.objects.create(
        user=user, partner_id=settlement.partner_id, settlement=settlement, kind=kind, channel=channel, ip=ip or None
    )
