"""The spec's customer paths (with the trailing slash) served by the stock viewsets."""

from django.http import JsonResponse
from django.urls import path

from . import api

PREFIX = "api/v1/channel/<int:channel_id>/customers"

customer_list = api.CustomerViewSet.as_view({"get": "list", "post": "create"})
customer_detail = api.CustomerViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
)
detailed_list = api.CustomerDetailedViewSet.as_view({"get": "list"})
detailed_detail = api.CustomerDetailedViewSet.as_view({"get": "retrieve"})


def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("healthz", healthz),
    path(f"{PREFIX}/", customer_list),
    path(f"{PREFIX}/detailed/", detailed_list),
    path(f"{PREFIX}/<int:pk>/", customer_detail),
    path(f"{PREFIX}/<int:pk>/detailed/", detailed_detail),
]
