"""URLs of the partner portal (included under /portal/ in config/urls.py); names in the ``portal`` namespace."""

from django.urls import path

from portal import apply_views, invoice_views, review_views, views
from revenue.statements.choices import DownloadKind

app_name = "portal"

urlpatterns = [
    path("", views.settlement_list, name="settlements"),
    path("login/", views.PortalLoginView.as_view(), name="login"),
    path("logout/", views.PortalLogoutView.as_view(), name="logout"),
    path("settlements/<int:pk>/", views.settlement_detail, name="settlement"),
    path("settlements/<int:pk>/statement.pdf", views.settlement_pdf, name="statement-pdf"),
    path(
        "settlements/<int:pk>/transactions.csv",
        views.settlement_detail_file,
        {"kind": DownloadKind.CSV},
        name="detail-csv",
    ),
    path(
        "settlements/<int:pk>/transactions.xlsx",
        views.settlement_detail_file,
        {"kind": DownloadKind.XLSX},
        name="detail-xlsx",
    ),
    path("settlements/<int:pk>/lines/<int:line_pk>/dispute/", views.dispute_raise, name="dispute-raise"),
    path("settlements/<int:pk>/invoice/", invoice_views.invoice_submit_view, name="invoice-submit"),
    path("settlements/<int:pk>/invoices/<int:invoice_pk>/file/", invoice_views.invoice_file, name="invoice-file"),
    path("review/", review_views.review, name="review"),
    path("review/evidence/<int:requirement_id>/", review_views.review_evidence, name="review-evidence"),
    path("api-access/", views.api_access, name="api-access"),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/<int:pk>/toggle/", views.webhook_toggle, name="webhook-toggle"),
    path("webhooks/<int:pk>/remove/", views.webhook_remove, name="webhook-remove"),
    # Applying to join the alliance (public) and the applicant's own application.
    path("apply/", apply_views.apply, name="apply"),
    path("apply/sent/", apply_views.apply_sent, name="apply-sent"),
    path("apply/confirm/<str:token>/", apply_views.apply_confirm, name="apply-confirm"),
    path("apply/sign-in/", apply_views.ApplicantLoginView.as_view(), name="apply-sign-in"),
    path("application/", apply_views.application, name="application"),
    path("application/evidence/<int:requirement_id>/", apply_views.application_evidence, name="application-evidence"),
    path("application/send/", apply_views.application_send, name="application-send"),
]
