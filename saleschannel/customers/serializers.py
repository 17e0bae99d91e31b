"""Customer request validation and representation (the spec's `Customer` schema)."""

from __future__ import annotations

from rest_framework import serializers

from saleschannel.core.fields import Int64Field, JSONObjectField

from .models import Customer

# The spec's order of fields, then the two server-set timestamps.
CUSTOMER_FIELDS = [
    "pk",
    "email",
    "first_name",
    "last_name",
    "phone_number",
    "is_active",
    "channel_code",
    "erp_code",
    "attributes",
    "attribute_kwargs",
    "localized_attributes",
    "localized_attribute_kwargs",
    "extra_field",
    "email_allowed",
    "sms_allowed",
    "call_allowed",
    "date_joined",
    "gender",
    "user_type",
    "date_of_birth",
    "channel",
    "created_date",
    "modified_date",
]
# Required on create and PUT even where the model has a default (the spec's `required`).
REQUIRED_FIELDS = [
    "email",
    "channel_code",
    "is_active",
    "email_allowed",
    "sms_allowed",
    "call_allowed",
]


class CustomerSerializer(serializers.ModelSerializer):
    """Validates writes and renders customers.

    `context["channel"]` is the URL's channel: a body `channel` must equal it or be null/omitted.
    Uniqueness is checked by the service (and enforced by the database), not here.
    """

    pk = serializers.IntegerField(read_only=True)
    channel = Int64Field(source="channel_id", allow_null=True, required=False)
    attributes = JSONObjectField(required=False)
    attribute_kwargs = JSONObjectField(required=False)
    localized_attributes = JSONObjectField(required=False)
    localized_attribute_kwargs = JSONObjectField(required=False)
    extra_field = JSONObjectField(required=False)

    class Meta:
        model = Customer
        fields = CUSTOMER_FIELDS
        read_only_fields = ["pk", "created_date", "modified_date"]
        extra_kwargs = {name: {"required": True} for name in REQUIRED_FIELDS}
        validators: list = []  # uniqueness lives in services.py, backed by DB constraints

    def validate_channel(self, value: int | None) -> int | None:
        channel = self.context["channel"]
        if value is not None and value != channel.pk:
            raise serializers.ValidationError(
                f"Must be the channel of the URL ({channel.pk}) or omitted.", code="invalid"
            )
        return value

    def to_internal_value(self, data):
        validated = super().to_internal_value(data)
        validated.pop("channel_id", None)  # the channel always comes from the URL
        return validated
