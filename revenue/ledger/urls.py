"""URLs of the ledger under /api/v1/ (see config/urls.py)."""

from django.urls import path

from revenue.ledger.apis import TransactionBatchApi

app_name = "ledger"

urlpatterns = [
    path("transactions/batch/", TransactionBatchApi.as_view(), name="transaction-batch"),
]
