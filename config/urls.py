from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.health import health
from config.validation import DatabaseIdConverter

# The database unreachable answers 503, not 500 (README "Reliability").
handler500 = "config.http_errors.server_error"

# Before the includes below import their URL modules, which use <id:...>.
register_converter(DatabaseIdConverter, "id")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/operator/", include("operator_api.urls")),
    path("API/Payments/", include("operator_api.payments_urls")),
    path("API/Payments/", include("payments.webhook_urls")),
    path("payments/", include("payments.urls")),
    path("API/", include("operator_api.ocppcore_urls")),
    path("api/v1/", include("drivers.urls")),
    # Operator portal pages: keep these last, the root include must not shadow the APIs.
    path("", include("portal.urls")),
    path("haserver/", include("bluecurrent.urls")),
]
