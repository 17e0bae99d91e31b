from saleschannel.core.urls import with_and_without_slash

from . import views

urlpatterns = [
    *with_and_without_slash(
        "api/v1/channels", views.ChannelListCreateApi.as_view(), "channel-list"
    ),
    *with_and_without_slash(
        "api/v1/channels/<int64:id>", views.ChannelDetailApi.as_view(), "channel-detail"
    ),
]
