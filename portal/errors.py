"""Errors of the portal and the partner API, under the application's hierarchy."""

from __future__ import annotations

from core.errors import NotPermitted

__all__ = ["PartnerAccessRefused"]


class PartnerAccessRefused(NotPermitted):
    """The partner is suspended or its cooperation ended: its users may not do this any more."""
