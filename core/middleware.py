"""Request plumbing every page and endpoint shares."""

from __future__ import annotations

from django.http import HttpResponseBadRequest
from django.utils.translation import gettext as _


class RefuseNulCharacters:
    """A NUL character in the path, a query parameter or a form field gets a plain 400, for every view.

    No identifier, code or text the product stores may hold one, and PostgreSQL refuses it in a
    string literal: without this, a filter such as ``?source=a%00b`` would reach the database and
    fail there as a server error.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _has_nul(request):
            return HttpResponseBadRequest(_("The request contains a NUL character, which no field accepts."))
        return self.get_response(request)


def _has_nul(request) -> bool:
    if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
        return True
    if any("\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()):
        return True
    content_type = request.META.get("CONTENT_TYPE", "")
    if request.method == "POST" and content_type.startswith(("application/x-www-form-urlencoded", "multipart/")):
        return any("\x00" in key or any("\x00" in v for v in values) for key, values in request.POST.lists())
    return False
