"""Channel representation (the spec's `Channel` schema)."""

from __future__ import annotations

from rest_framework import serializers

from saleschannel.core.fields import Int64Field, JSONObjectField

from .models import Channel


class ChannelSerializer(serializers.ModelSerializer):
    catalog = Int64Field()
    conf = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    schema = JSONObjectField(allow_null=True, required=False)

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "catalog",
            "channel_type",
            "conf",
            "category_tree",
            "is_active",
            "schema",
            "created_date",
            "modified_date",
        ]
        read_only_fields = ["id", "created_date", "modified_date"]
