"""URLs of the revenue app under /api/v1/ (see config/urls.py)."""

from django.urls import path

from revenue.apis import PartnerTransactionListApi, TransactionBatchApi

app_name = "revenue"

urlpatterns = [
    path("transactions/batch/", TransactionBatchApi.as_view(), name="transaction-batch"),
    path("partner/transactions/", PartnerTransactionListApi.as_view(), name="partner-transactions"),
]
