"""The language switch of the admin and the portal."""

from __future__ import annotations

from django.conf import settings
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from organisation.services import user_language_set


@require_POST
def language_switch(request):
    """Django's ``set_language`` (the cookie, back to ``next``), and for a signed-in user the choice kept as theirs."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        user_language_set(user=request.user, language=language)
    return response
