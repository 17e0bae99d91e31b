"""Root URLs. Every error a URL can produce is JSON (see saleschannel.core.errors)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularJSONAPIView,
    SpectacularSwaggerView,
    SpectacularYAMLAPIView,
)

from saleschannel.core import health
from saleschannel.core.openapi import SchemaFormatNegotiation

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(content_negotiation_class=SchemaFormatNegotiation),
        name="schema",
    ),
    path("api/schema.json", SpectacularJSONAPIView.as_view(), name="schema-json"),
    path("api/schema.yaml", SpectacularYAMLAPIView.as_view(), name="schema-yaml"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema-json"), name="api-docs"),
    path("", include("saleschannel.accounts.urls")),
    path("", include("saleschannel.channels.urls")),
    path("", include("saleschannel.customers.urls")),
]

handler400 = "saleschannel.core.errors.handler400"
handler403 = "saleschannel.core.errors.handler403"
handler404 = "saleschannel.core.errors.handler404"
handler500 = "saleschannel.core.errors.handler500"
