"""Channel writes (validated data in, one transaction each)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.http import Http404

from saleschannel.core.db import writable_defaults

from .models import Channel
from .serializers import ChannelSerializer


def channel_create(*, data: dict[str, Any]) -> Channel:
    """Create a channel from raw data (validated here: used by the CLI as well as the API)."""
    serializer = ChannelSerializer(data=data)
    if not serializer.is_valid():
        raise ValidationError(
            {
                field: [str(message) for message in messages]
                for field, messages in serializer.errors.items()
            }
        )
    return Channel.objects.create(**serializer.validated_data)


@transaction.atomic
def channel_update(*, channel_id: int, data: dict[str, Any], partial: bool) -> Channel:
    """PATCH writes only the fields it names; PUT replaces every writable field."""
    channel = Channel.objects.select_for_update().filter(pk=channel_id).first()
    if channel is None:
        raise Http404
    changes = (
        dict(data)
        if partial
        else {**writable_defaults(Channel, exclude={"created_date", "modified_date"}), **data}
    )
    for name, value in changes.items():
        setattr(channel, name, value)
    channel.save(update_fields=[*changes, "modified_date"])
    return channel


@transaction.atomic
def channel_delete(*, channel_id: int) -> None:
    channel = Channel.objects.select_for_update().filter(pk=channel_id).first()
    if channel is None:
        raise Http404
    try:
        with transaction.atomic():
            channel.delete()
    except (models.ProtectedError, IntegrityError):
        raise ValidationError(
            "This channel has customers or orders and cannot be deleted.", code="protected"
        ) from None
