"""The ledger API: source systems post transaction batches.

A thin view: it checks who is calling, shapes the request and calls the
ingestion service. A source system's token may post but not read partners'
data (partners read their own transactions through the portal's API).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError, PermissionDenied, ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from revenue.ledger.choices import IngestionChannel, TransactionKind
from revenue.ledger.ingestion.rows import COLUMNS, as_text
from revenue.ledger.models import SourceSystem
from revenue.ledger.services import transactions_ingest

MAX_BATCH_ROWS = 10_000
# Room for 10,000 rows with long names (a typical row is about 350 bytes of JSON).
MAX_BATCH_BYTES = 32 * 2**20


class BatchJSONParser(BaseParser):
    """JSON whose numbers with a fraction or exponent keep their literal text, for bodies of a whole batch.

    Money never passes through float, and an amount is judged by the one
    definition every way in shares (:mod:`revenue.ledger.ingestion.rows`): ``12.50``
    reads as the CSV text ``12.50`` would, ``1E3`` is refused as ``"1E3"`` is.

    Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) is smaller than a batch of
    10,000 transactions, so this parser reads the stream itself, up to its
    own limit; DRF applies the global limit only to its own JSON parser.
    """

    media_type = "application/json"
    max_bytes = MAX_BATCH_BYTES

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        body = stream.read(self.max_bytes + 1) if stream is not None else b""
        if len(body) > self.max_bytes:
            raise ParseError(_("The request is larger than %(mb)d MB.") % {"mb": self.max_bytes // 2**20})
        try:
            return json.loads(body.decode(encoding), parse_float=str)
        except ValueError as exc:
            raise ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from exc
        except RecursionError as exc:
            raise ParseError(_("JSON parse error - %(error)s") % {"error": _("nested too deeply")}) from exc


class CanIngestTransactions(BasePermission):
    message = _("Only source systems may post transactions.")

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("ledger.ingest_transactions")


class TransactionRowSerializer(serializers.Serializer):
    """One transaction as a source system reports it (documentation of the batch body)."""

    external_id = serializers.CharField(max_length=64, help_text="The source's id of the event, unique per source.")
    kind = serializers.ChoiceField(choices=TransactionKind.choices, required=False, default=TransactionKind.NORMAL)
    reverses = serializers.CharField(
        max_length=64, required=False, help_text="For a reversal: the external id of the event it reverses."
    )
    partner = serializers.CharField(
        required=False,
        help_text="The partner's unified social credit code, or 'code:weight;code:weight' for a co-served event.",
    )
    attributions = inline_serializer(
        name="TransactionAttributionInput",
        fields={"partner": serializers.CharField(), "weight": serializers.DecimalField(max_digits=7, decimal_places=6)},
        many=True,
        required=False,
        help_text="Instead of 'partner', for a co-served event: partners with weights adding up to exactly 1.",
    )
    sme_id = serializers.CharField(max_length=64, required=False, help_text="The end customer's id at the source.")
    sme_name = serializers.CharField(max_length=128, required=False)
    product = serializers.CharField(max_length=32, required=False, help_text="Product code, e.g. PAY_SETTLE.")
    branch = serializers.CharField(max_length=16, required=False, help_text="Default: the (first) partner's branch.")
    amount = serializers.DecimalField(MONEY_MAX_DIGITS, MONEY_DECIMAL_PLACES, required=False)
    bank_revenue = serializers.DecimalField(MONEY_MAX_DIGITS, MONEY_DECIMAL_PLACES, required=False)
    currency = serializers.CharField(max_length=3, required=False, default="CNY")
    occurred_at = serializers.DateTimeField(help_text="ISO 8601; without an offset, Beijing time.")


class TransactionBatchRequestSerializer(serializers.Serializer):
    transactions = TransactionRowSerializer(many=True, max_length=MAX_BATCH_ROWS)


class TransactionBatchResultSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    received = serializers.IntegerField()
    created = serializers.IntegerField(help_text="Transactions booked.")
    duplicates = serializers.IntegerField(help_text="Rows already booked with the same content, not booked again.")


class RowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Position of the row in 'transactions', from 1.")
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class BatchRejectedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    error_count = serializers.IntegerField()
    errors = RowErrorSerializer(many=True)


def _row(raw) -> dict:
    """A JSON row as the service's text row; co-served ``attributions`` become ``code:weight;…``."""
    if not isinstance(raw, dict):
        return {"\x00malformed": _("each transaction must be a JSON object")}
    row = dict(raw)
    attributions = row.get("attributions")
    if "partner" not in row and isinstance(attributions, list):
        try:
            row["partner"] = ";".join(f"{as_text(a['partner'])}:{as_text(a['weight'])}" for a in attributions)
            del row["attributions"]
        except (TypeError, KeyError):
            pass  # left in place: reported as a bad field of the row
    return row


class TransactionBatchApi(APIView):
    """``POST /api/v1/transactions/batch/`` — book up to 10,000 transactions, all or nothing."""

    # Authenticated as every API is (settings: the product's API tokens, or a session with CSRF).
    permission_classes = [IsAuthenticated, CanIngestTransactions]
    parser_classes = [BatchJSONParser]

    @extend_schema(
        operation_id="transactions_batch_create",
        summary="Post a batch of attributable transactions",
        description=(
            "Books every transaction of the batch, or none: a batch with any bad row is rejected with every bad "
            "row's number and reason. The same external id sent again with the same content is a duplicate (counted,"
            " not booked twice); with different content it is a bad row. A reversal needs external_id, "
            "kind='reversal', reverses and occurred_at, and mirrors what it reverses. The source is the source "
            "system registered for the calling account. Columns: " + ", ".join(COLUMNS) + "."
        ),
        request=TransactionBatchRequestSerializer,
        responses={201: TransactionBatchResultSerializer, 400: BatchRejectedSerializer, 403: OpenApiTypes.OBJECT},
        examples=[
            OpenApiExample(
                "Two events and a reversal",
                request_only=True,
                value={
                    "transactions": [
                        {
                            "external_id": "PAY-20261008-000001",
                            "partner": "91440300192185379H",
                            "sme_id": "C-88231",
                            "sme_name": "深圳市宏达贸易有限公司",
                            "product": "PAY_SETTLE",
                            "amount": "12800.00",
                            "bank_revenue": "76.80",
                            "occurred_at": "2026-10-08T14:30:00+08:00",
                        },
                        {
                            "external_id": "PAY-20261008-000002",
                            "attributions": [
                                {"partner": "91440300192185379H", "weight": "0.6"},
                                {"partner": "91330100MA27XXXXX0", "weight": "0.4"},
                            ],
                            "sme_id": "C-10442",
                            "product": "EQUIP_LOAN",
                            "amount": "500000.00",
                            "bank_revenue": "1250.00",
                            "occurred_at": "2026-10-08T15:00:00+08:00",
                        },
                        {
                            "external_id": "PAY-20261009-000107",
                            "kind": "reversal",
                            "reverses": "PAY-20261008-000001",
                            "occurred_at": "2026-10-09T09:12:00+08:00",
                        },
                    ]
                },
            )
        ],
    )
    def post(self, request):
        body = request.data
        if not isinstance(body, dict) or not isinstance(body.get("transactions"), list):
            raise ValidationError({"transactions": [_("Send {'transactions': [ … ]}.")]})
        rows = body["transactions"]
        if not rows:
            raise ValidationError({"transactions": [_("The batch is empty.")]})
        if len(rows) > MAX_BATCH_ROWS:
            raise ValidationError(
                {"transactions": [_("At most %(max)d transactions per request.") % {"max": MAX_BATCH_ROWS}]}
            )
        system = SourceSystem.objects.filter(user=request.user).first()
        if system is None:
            raise PermissionDenied(_("This account is not the API account of a registered source system."))
        result = transactions_ingest(
            rows=(_row(r) for r in rows), source=system.code, by=request.user, channel=IngestionChannel.API
        )
        return Response(TransactionBatchResultSerializer(result.as_dict()).data, status=status.HTTP_201_CREATED)
