"""URLs of the partner API under /api/v1/ (see config/urls.py); names in the ``partner-api`` namespace."""

from django.urls import path

from portal import apis

app_name = "partner-api"

urlpatterns = [
    path("partner/settlements/", apis.PartnerSettlementListApi.as_view(), name="settlements"),
    path("partner/settlements/<int:pk>/", apis.PartnerSettlementDetailApi.as_view(), name="settlement"),
    path("partner/settlements/<int:pk>/statement.pdf", apis.PartnerStatementPdfApi.as_view(), name="statement-pdf"),
    path("partner/settlements/<int:pk>/transactions.csv", apis.PartnerDetailCsvApi.as_view(), name="detail-csv"),
    path("partner/settlements/<int:pk>/transactions.xlsx", apis.PartnerDetailXlsxApi.as_view(), name="detail-xlsx"),
    path(
        "partner/settlements/<int:pk>/transactions/",
        apis.PartnerSettlementTransactionsApi.as_view(),
        name="settlement-transactions",
    ),
    path("partner/token/", apis.PartnerTokenApi.as_view(), name="token"),
    path("partner/transactions/", apis.PartnerTransactionListApi.as_view(), name="transactions"),
]
