from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from core import health, metrics
from organisation.forms import StaffLoginForm
from organisation.views import language_switch
from portal.views import verify as statement_verify

admin.site.site_header = _("Partner management middle office")
admin.site.site_title = _("Partner management middle office")
admin.site.index_title = _("Alliance administration")
admin.site.login_form = StaffLoginForm

api_v1 = [
    path("", include("onboarding.urls")),
    path("", include("revenue.ledger.urls")),
    path("", include("performance.urls")),
    path("", include("portal.api_urls")),
]

urlpatterns = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    # Django's language switch, also kept as the signed-in user's language (organisation.views).
    path("i18n/setlang/", language_switch, name="set_language"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", template_name="portal/api_redoc.html"),
        name="api-redoc",
    ),
    path("portal/", include("portal.urls")),
    path("verify/", statement_verify, name="statement-verify"),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
