"""Deploy checks of statements (``manage.py check --deploy``)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def portal_base_url_check(app_configs, **kwargs) -> list[Error]:
    # A statement prints its verification link and QR code with this host, for as long as it is filed:
    # the development fallback would send partners' finance teams to their own machine.
    if settings.PARTNER_PORTAL_BASE_URL.startswith(("https://", "http://")):
        return []
    return [
        Error(
            "PARTNER_PORTAL_BASE_URL is not an absolute URL.",
            hint="Set it to the partner portal's address, e.g. https://partners.bank.example: statements print it.",
            id="statements.E001",
        )
    ]
