"""Root URLs. Every error a URL can produce is JSON (see saleschannel.core.errors)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("saleschannel.accounts.urls")),
    path("", include("saleschannel.customers.urls")),
]

handler400 = "saleschannel.core.errors.handler400"
handler403 = "saleschannel.core.errors.handler403"
handler404 = "saleschannel.core.errors.handler404"
handler500 = "saleschannel.core.errors.handler500"
