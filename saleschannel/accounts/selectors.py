"""Which channels an API user may see."""

from __future__ import annotations

from django.db.models import QuerySet

from saleschannel.channels.models import Channel


def channels_visible_to(*, user) -> QuerySet[Channel]:
    """A superuser sees every channel; any other user only the channels granted to it."""
    if user.is_superuser:
        return Channel.objects.all()
    return Channel.objects.filter(grants__user=user)
