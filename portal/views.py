"""The partner portal (``/portal/``) and the public statement verification page (``/verify/``).

Thin views: the partner-scoped selectors read (always with the signed-in
user's own partner id, so another partner's objects are 404), the services
write. Bank staff who reach the portal are sent to the admin.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core import clock
from core.admin import error_text
from core.api import rate_text
from core.errors import ApplicationError
from core.spreadsheets import ExportParameterError, export_language
from portal import presenters
from portal.apis import detail_file_response, pdf_response
from portal.forms import DisputeForm, PartnerLoginForm, VerifyForm, WebhookForm
from portal.selectors import PartnerAccess, user_api_token, user_partner_access
from portal.services import partner_token_revoke, partner_token_rotate
from portal.throttling import portal_download_wait
from revenue.payments.selectors import settlement_invoice_status
from revenue.settlement.models import Settlement, SettlementLine
from revenue.settlement.services import settlement_dispute_open_until, settlement_dispute_raise
from revenue.statements import selectors
from revenue.statements.choices import DownloadChannel, DownloadKind
from revenue.statements.models import PartnerWebhook
from revenue.statements.services import (
    download_event_record,
    is_partner_user,
    statement_get_or_generate,
    statement_pdf,
    statement_verify,
    webhook_create,
    webhook_delete,
    webhook_set_active,
)

PAGE_SIZE = 12
ACCESS_ENDED_MESSAGE = _("Your organisation's access to the partner portal is suspended or has ended.")
READ_ONLY_MESSAGE = _(
    "Your organisation's cooperation with the bank is suspended: you can read and download past statements only."
)


def _partner_view(view, *, reads_statements: bool):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:login"))
        if not user.partner_id and user.is_staff:
            return redirect("admin:index")
        if not is_partner_user(user):
            raise PermissionDenied
        access = user_partner_access(user=user)
        if access is PartnerAccess.NONE:
            # Suspended (without read access) or terminated since signing in: the session ends here.
            logout(request)
            messages.error(request, ACCESS_ENDED_MESSAGE)
            return redirect("portal:login")
        if access is PartnerAccess.READ_STATEMENTS and not reads_statements:
            messages.error(request, READ_ONLY_MESSAGE)
            return redirect("portal:settlements")
        return view(request, *args, **kwargs)

    return wrapper


def partner_required(view):
    """Signed-in partner users of a partner in good standing: anonymous → the portal's sign-in, bank staff → the
    admin, others → 403. A suspended partner's users are sent back to their statements (read-only), a terminated
    partner's users are signed out."""
    return _partner_view(view, reads_statements=False)


def partner_statement_reader(view):
    """As ``partner_required``, but open to a suspended partner's users while
    ``PORTAL_SUSPENDED_PARTNER_CAN_READ_STATEMENTS`` is on: reading and downloading past statements."""
    return _partner_view(view, reads_statements=True)


def _own_settlement(request, pk: int) -> Settlement:
    try:
        return selectors.partner_settlement_get(partner_id=request.user.partner_id, pk=pk)
    except Settlement.DoesNotExist as exc:
        raise Http404 from exc


def _final(settlement: Settlement) -> Settlement:
    # A draft is being accrued: it has no statement or detail file yet (no link is shown for it).
    if not selectors.settlement_is_final(settlement):
        raise Http404
    return settlement


# ---- sign-in ---------------------------------------------------------------------------------


class PortalLoginView(auth_views.LoginView):
    """Failed sign-ins are limited per account and per address by django-axes (organisation/sign_in.py)."""

    template_name = "portal/login.html"
    authentication_form = PartnerLoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return reverse("portal:settlements")


class PortalLogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("portal:login")


# ---- settlements -----------------------------------------------------------------------------


@partner_statement_reader
def settlement_list(request):
    partner_id = request.user.partner_id
    year = request.GET.get("year", "")
    qs = selectors.partner_settlements(partner_id=partner_id)
    years = sorted({start.year for start in qs.values_list("period__start", flat=True)}, reverse=True)
    if year.isdigit():
        qs = qs.filter(period__start__year=int(year))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for settlement in page.object_list:
        settlement.shown = presenters.settlement_figures(settlement)
    return render(
        request,
        "portal/settlement_list.html",
        {"page": page, "years": years, "year": year, "final_states": selectors.FROZEN_SETTLEMENT_STATES},
    )


@partner_statement_reader
def settlement_detail(request, pk: int):
    settlement = _own_settlement(request, pk)
    lines = list(selectors.partner_settlement_lines(partner_id=request.user.partner_id, settlement_id=settlement.pk))
    for line in lines:
        line.open_dispute = next((d for d in line.disputes.all() if d.is_open), None)
        line.shown = presenters.line_figures(line)
        for dispute in line.disputes.all():
            dispute.shown_amount = presenters.money(dispute.resolution_amount)
    settlement.shown = presenters.settlement_figures(settlement, lines)
    deadline = settlement_dispute_open_until(settlement)
    return render(
        request,
        "portal/settlement_detail.html",
        {
            "settlement": settlement,
            "lines": lines,
            "is_final": selectors.settlement_is_final(settlement),
            "statement": settlement.statement if selectors.settlement_has_statement(settlement) else None,
            "dispute_form": DisputeForm(),
            "invoice_status": presenters.invoice_status(settlement_invoice_status(settlement)),
            "can_dispute": user_partner_access(user=request.user) is PartnerAccess.FULL,
            # Lines may be disputed until the statement's deadline (the service refuses later disputes).
            "dispute_deadline": deadline,
            "disputes_open": deadline is not None and clock.today() <= deadline,
            # The partner's own users' downloads only (bank staff's are the bank's business).
            "downloads": selectors.download_events(settlement=settlement).filter(
                user__partner_id=request.user.partner_id
            )[:10],
        },
    )


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def download_throttled(view):
    """Statement and detail-file downloads per partner, at ``PORTAL_DOWNLOAD_THROTTLE_RATE``: over it, a 429 page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        wait = portal_download_wait(partner_id=request.user.partner_id)
        if wait is not None:
            response = render(request, "portal/throttled.html", {"wait": wait}, status=429)
            response["Retry-After"] = str(wait)
            return response
        return view(request, *args, **kwargs)

    return wrapper


@partner_statement_reader
@download_throttled
def settlement_pdf(request, pk: int):
    settlement = _final(_own_settlement(request, pk))
    statement = statement_get_or_generate(settlement=settlement, by=None)
    content = statement_pdf(statement=statement)
    download_event_record(
        user=request.user, settlement=settlement, kind=DownloadKind.PDF, channel=DownloadChannel.PORTAL, ip=_ip(request)
    )
    return pdf_response(content, statement.number)


@partner_statement_reader
@download_throttled
def settlement_detail_file(request, pk: int, kind: str):
    settlement = _final(_own_settlement(request, pk))
    try:
        language = export_language(request.GET)
    except ExportParameterError as exc:
        return HttpResponseBadRequest(str(exc.message), content_type="text/plain; charset=utf-8")
    download_event_record(
        user=request.user, settlement=settlement, kind=kind, channel=DownloadChannel.PORTAL, ip=_ip(request)
    )
    return detail_file_response(settlement, kind, language=language)


@partner_required
@require_POST
def dispute_raise(request, pk: int, line_pk: int):
    settlement = _own_settlement(request, pk)
    try:
        line = selectors.partner_line_get(partner_id=request.user.partner_id, settlement_id=settlement.pk, pk=line_pk)
    except SettlementLine.DoesNotExist as exc:
        raise Http404 from exc
    form = DisputeForm(request.POST)
    if form.is_valid():
        try:
            settlement_dispute_raise(line=line, by=request.user, comment=form.cleaned_data["comment"])
        except (ApplicationError, ValidationError) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, _("Your dispute was sent to the bank. You will be told of its resolution."))
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect(f"{reverse('portal:settlement', args=[settlement.pk])}#line-{line.pk}")


# ---- API access and webhooks -----------------------------------------------------------------


@partner_required
def api_access(request):
    new_key = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "rotate":
            try:
                new_key = partner_token_rotate(user=request.user).key
            except ApplicationError as exc:
                messages.error(request, error_text(exc))
                return redirect("portal:api-access")
            messages.success(request, _("A new API token was created. Copy it now: it is shown only once."))
        elif action == "revoke":
            if partner_token_revoke(user=request.user):
                messages.success(request, _("Your API token was revoked. Requests with it are now refused."))
            return redirect("portal:api-access")
        else:
            return HttpResponseNotAllowed(["GET", "POST"])
    token = user_api_token(user=request.user)
    return render(
        request,
        "portal/api_access.html",
        {
            "token": token,
            "new_key": new_key,
            "docs_url": reverse("api-docs"),
            "throttle_rate": rate_text(settings.PARTNER_API_THROTTLE_RATE),
            "token_ttl_days": settings.API_TOKEN_TTL_DAYS,
        },
    )


@partner_required
def webhooks(request):
    partner = request.user.partner
    created = None
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = webhook_create(partner=partner, url=form.cleaned_data["url"], by=request.user)
        except (ApplicationError, ValidationError) as exc:
            form.add_error("url", error_text(exc))
        else:
            messages.success(request, _("Webhook registered. Copy its signing secret now: it is shown only once."))
            form = WebhookForm()
    hooks = selectors.partner_webhooks(partner_id=partner.pk).prefetch_related("deliveries")
    return render(request, "portal/webhooks.html", {"form": form, "webhooks": hooks, "created": created})


def _own_webhook(request, pk: int) -> PartnerWebhook:
    try:
        return selectors.partner_webhooks(partner_id=request.user.partner_id).get(pk=pk)
    except PartnerWebhook.DoesNotExist as exc:
        raise Http404 from exc


@partner_required
@require_POST
def webhook_toggle(request, pk: int):
    webhook = _own_webhook(request, pk)
    webhook_set_active(webhook=webhook, active=not webhook.active, by=request.user)
    return redirect("portal:webhooks")


@partner_required
@require_POST
def webhook_remove(request, pk: int):
    webhook_delete(webhook=_own_webhook(request, pk), by=request.user)
    messages.success(request, _("Webhook removed."))
    return redirect("portal:webhooks")


# ---- public verification ---------------------------------------------------------------------


def _count(key: str, window: int) -> int:
    """Add one to a counter that lives ``window`` seconds from its first hit; the new count."""
    if cache.add(key, 1, window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, window)
        return 1


def _verify_throttled(request) -> bool:
    """Whether this client used up its lookups for the window (counted in the cache, per address)."""
    key = f"statement-verify:{request.META.get('REMOTE_ADDR', '')}"
    limit = settings.STATEMENT_VERIFY_MAX_LOOKUPS
    window = settings.STATEMENT_VERIFY_WINDOW_SECONDS
    return _count(key, window) > limit


@never_cache
def verify(request):
    """Anyone with a statement's code learns whose it is, its period and its payable total — nothing more."""
    form = VerifyForm(request.GET if "code" in request.GET else None)
    context = {"form": form, "result": None, "checked": False}
    status = 200
    if form.is_bound and form.is_valid():
        if _verify_throttled(request):
            return render(request, "portal/verify.html", {"form": form, "throttled": True}, status=429)
        result = statement_verify(code=form.cleaned_data["code"])
        context.update(checked=True, result=result, payable=presenters.money(result.payable) if result else "")
        status = 200 if result else 404
    return render(request, "portal/verify.html", context, status=status)


__all__ = [
    "PortalLoginView",
    "PortalLogoutView",
    "api_access",
    "dispute_raise",
    "settlement_detail",
    "settlement_detail_file",
    "settlement_list",
    "settlement_pdf",
    "verify",
    "webhook_remove",
    "webhook_toggle",
    "webhooks",
]
