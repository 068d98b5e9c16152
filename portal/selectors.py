"""Reads of the portal: what a partner's users may still do given the partner's admission state, and tokens."""

from __future__ import annotations

import enum

from django.conf import settings

from onboarding.models import AdmissionState, Partner
from organisation.models import User
from portal.models import ApiToken


class PartnerAccess(enum.Enum):
    """What a partner's users may do in the portal and the API."""

    FULL = "full"
    # Suspended: past statements may be read in the portal (PORTAL_SUSPENDED_PARTNER_CAN_READ_STATEMENTS).
    READ_STATEMENTS = "read_statements"
    NONE = "none"


# A partner whose cooperation ended (or never began) has no access at all.
_CLOSED_STATES = (AdmissionState.TERMINATED, AdmissionState.REJECTED)


def partner_access(*, partner: Partner) -> PartnerAccess:
    if partner.state in _CLOSED_STATES:
        return PartnerAccess.NONE
    if partner.state == AdmissionState.SUSPENDED:
        if settings.PORTAL_SUSPENDED_PARTNER_CAN_READ_STATEMENTS:
            return PartnerAccess.READ_STATEMENTS
        return PartnerAccess.NONE
    return PartnerAccess.FULL


def user_partner_access(*, user: User) -> PartnerAccess:
    """The access of the user's partner; bank staff and source accounts are not limited here."""
    if not user.partner_id:
        return PartnerAccess.FULL
    return partner_access(partner=user.partner)


def user_api_token(*, user: User) -> ApiToken | None:
    """The user's usable token (a user holds one at a time), if any."""
    return ApiToken.objects.usable().filter(user=user).first()
