"""The base of every channel-scoped endpoint: resolves the URL's channel once and checks access."""

from __future__ import annotations

from functools import cached_property

from rest_framework.exceptions import NotFound
from rest_framework.permissions import DjangoModelPermissions, IsAuthenticated

from saleschannel.accounts.selectors import channels_visible_to
from saleschannel.channels.models import Channel


class ModelWritePermissions(DjangoModelPermissions):
    """Reads need a token only; writes need the model's add/change/delete permission."""

    authenticated_users_only = True


class ChannelScopedMixin:
    """Mix into a DRF view whose URL carries `channel_id`.

    A channel that does not exist or is not visible to the user is a 404, so its existence is
    not revealed. Querysets must be built from `self.channel` (see `get_queryset`).
    """

    permission_classes = [IsAuthenticated, ModelWritePermissions]
    channel_url_kwarg = "channel_id"

    @cached_property
    def channel(self) -> Channel:
        channel_id = self.kwargs[self.channel_url_kwarg]
        channel = channels_visible_to(user=self.request.user).filter(pk=channel_id).first()
        if channel is None:
            raise NotFound()
        return channel
