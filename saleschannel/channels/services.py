"""Channel writes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from .models import Channel
from .serializers import ChannelSerializer


def channel_create(*, data: dict[str, Any]) -> Channel:
    serializer = ChannelSerializer(data=data)
    if not serializer.is_valid():
        raise ValidationError(
            {
                field: [str(message) for message in messages]
                for field, messages in serializer.errors.items()
            }
        )
    return Channel.objects.create(**serializer.validated_data)
