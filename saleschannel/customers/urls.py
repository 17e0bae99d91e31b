from saleschannel.core.urls import with_and_without_slash

from . import views

PREFIX = "api/v1/channel/<int64:channel_id>/customers"

urlpatterns = [
    *with_and_without_slash(PREFIX, views.CustomerListCreateApi.as_view(), "customer-list"),
    *with_and_without_slash(
        f"{PREFIX}/detailed", views.CustomerDetailedListApi.as_view(), "customer-detailed-list"
    ),
    *with_and_without_slash(
        f"{PREFIX}/<int64:id>", views.CustomerDetailApi.as_view(), "customer-detail"
    ),
    *with_and_without_slash(
        f"{PREFIX}/<int64:id>/detailed", views.CustomerDetailedApi.as_view(), "customer-detailed"
    ),
    *with_and_without_slash(
        f"{PREFIX}/<int64:id>/history", views.CustomerHistoryApi.as_view(), "customer-history"
    ),
]
