"""The partner API: a partner's own settlements, lines, statements, detail files and transactions.

Every view reads through the partner-scoped selectors with the caller's own
partner id, so another partner's settlement is not found (404) by id, filter
or format. Authentication by token (``Authorization: Token …``, rotated or
revoked by the partner in the portal, see ``portal.authentication``) or by the
portal's session; each partner is throttled as a whole
(``PARTNER_API_THROTTLE_RATE``), and a suspended or terminated partner's users
are refused (403). Downloads are recorded (channel ``api``).
"""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import BoundedLimitOffsetPagination, PartnerTokenThrottle
from core.periods import Period
from core.spreadsheets import (
    CSV_CONTENT_TYPE,
    XLSX_CONTENT_TYPE,
    csv_export,
    export_filename,
    export_language,
    xlsx_export,
)
from portal.authentication import ApiTokenAuthentication
from portal.models import ApiToken
from portal.selectors import PartnerAccess, user_partner_access
from portal.services import api_token_revoke, partner_token_revoke
from revenue.ledger.choices import TransactionKind
from revenue.ledger.selectors import partner_attribution_list
from revenue.settlement.choices import LineKind, SettlementState, ShareLimit
from revenue.settlement.models import Settlement
from revenue.settlement.selectors import line_notes_shown, line_rule_text
from revenue.statements import selectors
from revenue.statements.choices import DownloadChannel, DownloadKind
from revenue.statements.errors import StatementNotAvailable
from revenue.statements.exports import detail_export_columns, detail_export_rows
from revenue.statements.services import download_event_record, is_partner_user, statement_get_or_generate, statement_pdf


class PartnerTransactionPagination(BoundedLimitOffsetPagination):
    """100 transactions a page by default, at most 1,000."""

    default_limit = 100
    max_limit = 1000


class PartnerTransactionSerializer(serializers.Serializer):
    """The partner's part of one transaction (never who else co-served it)."""

    external_id = serializers.CharField(source="transaction.external_id")
    source = serializers.CharField(source="transaction.source_id")
    kind = serializers.CharField(source="transaction.kind")
    reverses = serializers.CharField(source="transaction.reverses.external_id", default=None, allow_null=True)
    sme_id = serializers.CharField(source="transaction.sme_id")
    sme_name = serializers.CharField(source="transaction.sme_name")
    product = serializers.CharField(source="transaction.product.code")
    currency = serializers.CharField(source="transaction.currency")
    occurred_at = serializers.DateTimeField()
    booked_at = serializers.DateTimeField(source="transaction.booked_at")
    amount = serializers.DecimalField(max_digits=18, decimal_places=2, source="transaction.amount")
    bank_revenue = serializers.DecimalField(max_digits=18, decimal_places=2, source="transaction.bank_revenue")
    weight = serializers.DecimalField(max_digits=7, decimal_places=6)
    attributed_amount = serializers.DecimalField(max_digits=18, decimal_places=2, source="amount")
    attributed_bank_revenue = serializers.DecimalField(max_digits=18, decimal_places=2, source="bank_revenue")
    partner_active = serializers.BooleanField(help_text="False: the partner was not active then, so no share.")


class IsPartnerSettlementReader(BasePermission):
    message = _("Only a partner's own users may read its settlements.")

    def has_permission(self, request, view) -> bool:
        return is_partner_user(request.user)


class PartnerInGoodStanding(BasePermission):
    """The API is closed to the users of a suspended or terminated partner (the portal may still show statements)."""

    message = _("Your organisation's cooperation with the bank is suspended or has ended: the API is closed to it.")

    def has_permission(self, request, view) -> bool:
        return user_partner_access(user=request.user) is PartnerAccess.FULL


class FirstRendererNegotiation(BaseContentNegotiation):
    """File endpoints answer with their own content type; errors are always JSON, whatever Accept says."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


class PartnerApiMixin:
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, IsPartnerSettlementReader, PartnerInGoodStanding]
    throttle_classes = [PartnerTokenThrottle]

    def partner_id(self) -> int:
        return self.request.user.partner_id

    def settlement(self) -> Settlement:
        try:
            return selectors.partner_settlement_get(partner_id=self.partner_id(), pk=self.kwargs["pk"])
        except Settlement.DoesNotExist as exc:
            raise Http404 from exc


# ---- serializers ----------------------------------------------------------------------------------


class StatementInfoSerializer(serializers.Serializer):
    number = serializers.CharField()
    verification_code = serializers.CharField(source="code")
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    generated_at = serializers.DateTimeField()


class DisputeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    comment = serializers.CharField()
    raised_at = serializers.DateTimeField()
    resolution_comment = serializers.CharField()
    resolution_amount = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    adjusted_in_period = serializers.SerializerMethodField()
    resolved_at = serializers.DateTimeField(allow_null=True)

    def get_adjusted_in_period(self, obj) -> str | None:
        return str(obj.adjust_period.period) if obj.adjust_period_id else None


class SettlementLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=LineKind.choices)
    product = serializers.CharField(source="product.code", default=None, allow_null=True)
    product_name = serializers.CharField(source="product.name", default=None, allow_null=True)
    corrects_period = serializers.SerializerMethodField()
    transaction_count = serializers.IntegerField(
        help_text="Attributed transactions counted whole: event_count + reversal_count. Summed over the "
        "settlement's product and adjustment lines, the settlement's transaction_count."
    )
    event_count = serializers.IntegerField(help_text="Of transaction_count, the events (not reversals).")
    reversal_count = serializers.IntegerField(help_text="Of transaction_count, the reversals.")
    coserved_count = serializers.IntegerField(
        help_text="Of transaction_count, those co-served with other partners (attributed with a weight below 1)."
    )
    coserved_net_count = serializers.DecimalField(
        max_digits=18,
        decimal_places=6,
        help_text="What the co-served transactions count for: the sum of their weights (a reversal's negative).",
    )
    net_count = serializers.DecimalField(
        max_digits=18,
        decimal_places=6,
        help_text="The count a per-transaction rule pays on: events minus reversals, co-served ones at their weight. "
        "Not a number of transactions; it does not add up to transaction_count.",
    )
    volume = serializers.DecimalField(max_digits=18, decimal_places=2)
    bank_revenue = serializers.DecimalField(max_digits=18, decimal_places=2)
    rule_description = serializers.CharField(help_text="The rule in words, as stored when the period closed.")
    rule_text = serializers.SerializerMethodField(help_text="The rule in words, in the language of the request.")
    effective_rate = serializers.DecimalField(max_digits=12, decimal_places=8, allow_null=True)
    share_limit = serializers.ChoiceField(
        choices=ShareLimit.choices,
        allow_blank=True,
        help_text="What shaped the share beyond the rule's rate; empty when the rate alone did.",
    )
    tier_reached = serializers.IntegerField(
        allow_null=True, help_text="Tiered rules: the slab the basis reached (1 = the first)."
    )
    tier_basis_figure = serializers.DecimalField(
        max_digits=18, decimal_places=2, allow_null=True, help_text="Tiered rules: the figure that decided the slab."
    )
    previous_share = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    share = serializers.DecimalField(max_digits=18, decimal_places=2)
    description = serializers.CharField()
    notes = serializers.SerializerMethodField(
        help_text="What the line says about itself (co-served weight, limit, tier, correction, carried balance), "
        "in the language of the request, as the statement prints it."
    )
    disputes = DisputeSerializer(many=True)

    def get_corrects_period(self, obj) -> str | None:
        return str(obj.corrected_period) if obj.corrects_period else None

    def get_rule_text(self, obj) -> str:
        return line_rule_text(obj)

    def get_notes(self, obj) -> list[str]:
        return line_notes_shown(obj)


class SettlementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    period = serializers.SerializerMethodField()
    state = serializers.ChoiceField(choices=SettlementState.choices)
    transaction_count = serializers.IntegerField()
    bank_revenue = serializers.DecimalField(max_digits=18, decimal_places=2)
    share_total = serializers.DecimalField(max_digits=18, decimal_places=2)
    adjustment_total = serializers.DecimalField(max_digits=18, decimal_places=2)
    carried_in = serializers.DecimalField(max_digits=18, decimal_places=2)
    net = serializers.DecimalField(max_digits=18, decimal_places=2, help_text="Service fee before VAT.")
    vat_rate = serializers.DecimalField(max_digits=5, decimal_places=4)
    vat = serializers.DecimalField(max_digits=18, decimal_places=2)
    payable = serializers.DecimalField(max_digits=18, decimal_places=2)
    carried_forward = serializers.BooleanField()
    closed_at = serializers.DateTimeField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)
    payment_reference = serializers.CharField()
    statement = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    def get_period(self, obj: Settlement) -> str:
        return str(obj.period.period)

    @extend_schema_field(StatementInfoSerializer(allow_null=True))
    def get_statement(self, obj: Settlement):
        if not selectors.settlement_has_statement(obj):
            return None
        return StatementInfoSerializer(obj.statement).data

    def get_links(self, obj: Settlement) -> dict[str, str]:
        request = self.context.get("request")

        def url(name: str) -> str:
            path = reverse(name, args=[obj.pk])
            return request.build_absolute_uri(path) if request else path

        links = {"self": url("partner-api:settlement"), "transactions": url("partner-api:settlement-transactions")}
        if selectors.settlement_is_final(obj):
            links.update(
                statement_pdf=url("partner-api:statement-pdf"),
                detail_csv=url("partner-api:detail-csv"),
                detail_xlsx=url("partner-api:detail-xlsx"),
            )
        return links


class SettlementDetailSerializer(SettlementSerializer):
    lines = serializers.SerializerMethodField()

    @extend_schema_field(SettlementLineSerializer(many=True))
    def get_lines(self, obj: Settlement):
        lines = selectors.partner_settlement_lines(partner_id=obj.partner_id, settlement_id=obj.pk)
        return SettlementLineSerializer(lines, many=True).data


# ---- views ----------------------------------------------------------------------------------------


def _period_param(request) -> Period | None:
    raw = request.query_params.get("period")
    if not raw:
        return None
    try:
        return Period.parse(raw)
    except ValueError as exc:
        raise ValidationError({"period": [str(exc)]}) from exc


def _state_param(request) -> str | None:
    state = request.query_params.get("state")
    if state and state not in SettlementState.values:
        raise ValidationError({"state": [_("Unknown state.")]})
    return state or None


@extend_schema_view(
    get=extend_schema(
        operation_id="partner_settlements_list",
        summary="The calling partner's settlements, newest period first",
        parameters=[
            OpenApiParameter("period", str, description="A month, YYYY-MM (Beijing time)."),
            OpenApiParameter("state", str, enum=SettlementState.values),
        ],
    )
)
class PartnerSettlementListApi(PartnerApiMixin, ListAPIView):
    """``GET /api/v1/partner/settlements/``"""

    serializer_class = SettlementSerializer

    def get_queryset(self):
        return selectors.partner_settlements(
            partner_id=self.partner_id(), period=_period_param(self.request), state=_state_param(self.request)
        )


@extend_schema_view(
    get=extend_schema(operation_id="partner_settlements_retrieve", summary="One settlement with its lines")
)
class PartnerSettlementDetailApi(PartnerApiMixin, RetrieveAPIView):
    """``GET /api/v1/partner/settlements/{id}/``"""

    serializer_class = SettlementDetailSerializer

    def get_object(self):
        return self.settlement()


def _final(settlement: Settlement) -> Settlement:
    if not selectors.settlement_is_final(settlement):
        raise StatementNotAvailable(
            _("The settlement of %(period)s is still a draft: its statement is issued when the period closes.")
            % {"period": settlement.period}
        )
    return settlement


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def detail_file_response(settlement: Settlement, kind: str, *, language: str) -> HttpResponse:
    """The settlement's transaction detail as a streamed CSV or an XLSX download, headed in ``language``."""
    rows = detail_export_rows(settlement=settlement)
    columns = detail_export_columns()
    stem = f"{selectors.statement_number(settlement)}-transactions"
    if kind == DownloadKind.CSV:
        response = StreamingHttpResponse(csv_export(columns, rows, language=language), content_type=CSV_CONTENT_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{export_filename(stem, "csv", language)}"'
        return response
    handle = xlsx_export(columns, rows, language=language, title=str(settlement.period.period))
    return FileResponse(
        handle, as_attachment=True, filename=export_filename(stem, "xlsx", language), content_type=XLSX_CONTENT_TYPE
    )


def pdf_response(content: bytes, number: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{number}.pdf"'
    return response


class PartnerStatementPdfApi(PartnerApiMixin, APIView):
    """``GET /api/v1/partner/settlements/{id}/statement.pdf``"""

    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        operation_id="partner_statement_pdf",
        summary="The settlement's PDF statement",
        description="Issued when the period closes (here on first request if not yet); identical on every download.",
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No such settlement of the calling partner."),
            409: OpenApiResponse(description="The settlement is still a draft."),
        },
    )
    def get(self, request, pk: int):
        settlement = _final(self.settlement())
        statement = statement_get_or_generate(settlement=settlement)
        content = statement_pdf(statement=statement)
        download_event_record(
            user=request.user,
            settlement=settlement,
            kind=DownloadKind.PDF,
            channel=DownloadChannel.API,
            ip=_client_ip(request),
        )
        return pdf_response(content, statement.number)


EXPORT_LANGUAGE_PARAMETER = OpenApiParameter(
    "lang",
    str,
    enum=["zh-hans", "en"],
    description="Language of the column headers and labels (Chinese by default); a column dictionary sheet in XLSX.",
)


class PartnerDetailFileApi(PartnerApiMixin, APIView):
    """``GET /api/v1/partner/settlements/{id}/transactions.csv`` and ``….xlsx``"""

    content_negotiation_class = FirstRendererNegotiation
    kind = DownloadKind.CSV

    def get(self, request, pk: int):
        settlement = _final(self.settlement())
        language = export_language(request.query_params)
        download_event_record(
            user=request.user,
            settlement=settlement,
            kind=self.kind,
            channel=DownloadChannel.API,
            ip=_client_ip(request),
        )
        return detail_file_response(settlement, self.kind, language=language)


class PartnerDetailCsvApi(PartnerDetailFileApi):
    kind = DownloadKind.CSV

    @extend_schema(
        operation_id="partner_statement_detail_csv",
        parameters=[EXPORT_LANGUAGE_PARAMETER],
        summary="The statement's transactions as CSV (UTF-8 with BOM, streamed)",
        responses={(200, "text/csv"): OpenApiTypes.BINARY, 404: OpenApiResponse(), 409: OpenApiResponse()},
    )
    def get(self, request, pk: int):
        return super().get(request, pk)


class PartnerDetailXlsxApi(PartnerDetailFileApi):
    kind = DownloadKind.XLSX

    @extend_schema(
        operation_id="partner_statement_detail_xlsx",
        parameters=[EXPORT_LANGUAGE_PARAMETER],
        summary="The statement's transactions as XLSX",
        responses={(200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY, 404: OpenApiResponse(), 409: OpenApiResponse()},
    )
    def get(self, request, pk: int):
        return super().get(request, pk)


@extend_schema_view(
    get=extend_schema(
        operation_id="partner_settlement_transactions",
        summary="The attributed transactions a settlement's lines come from",
    )
)
class PartnerSettlementTransactionsApi(PartnerApiMixin, ListAPIView):
    """``GET /api/v1/partner/settlements/{id}/transactions/``: the attributions behind its lines."""

    serializer_class = PartnerTransactionSerializer
    pagination_class = PartnerTransactionPagination

    def get_queryset(self):
        settlement = self.settlement()
        return selectors.settlement_attributions(settlement=settlement).select_related(
            "transaction", "transaction__product", "transaction__reverses"
        )


class PartnerTokenApi(PartnerApiMixin, APIView):
    """``DELETE /api/v1/partner/token/`` — revoke the token of the request (a leaked token can end itself)."""

    # Ending a token is allowed whatever the partner's state.
    permission_classes = [IsAuthenticated, IsPartnerSettlementReader]

    @extend_schema(
        operation_id="partner_token_revoke",
        summary="Revoke the caller's API token",
        responses={204: OpenApiResponse(description="Revoked: requests with it now get 401.")},
    )
    def delete(self, request):
        if isinstance(request.auth, ApiToken):
            api_token_revoke(token=request.auth)
        else:
            partner_token_revoke(user=request.user)
        return Response(status=204)


# ---- the partner's attributed transactions ---------------------------------------------------


class IsPartnerUser(BasePermission):
    message = _("Only a partner's users may read its transactions.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user.partner_id) and user.has_perm("ledger.view_partner_transactions")


@extend_schema_view(
    get=extend_schema(
        operation_id="partner_transactions_list",
        summary="The calling partner's attributed transactions",
        parameters=[
            OpenApiParameter("period", str, description="A month, YYYY-MM (Beijing time)."),
            OpenApiParameter("kind", str, enum=TransactionKind.values),
        ],
    )
)
class PartnerTransactionListApi(ListAPIView):
    """``GET /api/v1/partner/transactions/`` — the calling partner's part of each transaction attributed to it."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, IsPartnerUser, PartnerInGoodStanding]
    # One budget per partner across the partner API (settlements, files and transactions).
    throttle_classes = [PartnerTokenThrottle]
    pagination_class = PartnerTransactionPagination
    serializer_class = PartnerTransactionSerializer

    def get_queryset(self):
        period = self.request.query_params.get("period")
        kind = self.request.query_params.get("kind")
        try:
            period = Period.parse(period) if period else None
        except ValueError as exc:
            raise ValidationError({"period": [str(exc)]}) from exc
        if kind and kind not in TransactionKind.values:
            raise ValidationError({"kind": [_("Kind must be normal or reversal.")]})
        return partner_attribution_list(partner_id=self.request.user.partner_id, period=period, kind=kind)
