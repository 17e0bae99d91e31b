"""Customer request validation and representation (the spec's `Customer` schema)."""

from __future__ import annotations

from rest_framework import serializers

from saleschannel.channels.serializers import ChannelSerializer
from saleschannel.core.fields import Int64Field, JSONObjectField

from .models import Customer, CustomerHistory, Gender, UserType

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
    """A customer of one sales channel. `email` and `channel_code` are unique per channel."""

    # Validation notes: context["channel"] is the URL's channel; a body `channel` must equal it
    # or be null/omitted. Uniqueness is checked by services.py (and enforced by the database).

    pk = serializers.IntegerField(read_only=True)
    channel = Int64Field(source="channel_id", allow_null=True, required=False)
    attributes = JSONObjectField(required=False)
    attribute_kwargs = JSONObjectField(required=False)
    localized_attributes = JSONObjectField(required=False)
    localized_attribute_kwargs = JSONObjectField(required=False)
    extra_field = JSONObjectField(required=False)
    gender = serializers.ChoiceField(choices=Gender.choices, allow_null=True, required=False)
    user_type = serializers.ChoiceField(choices=UserType.choices, allow_null=True, required=False)

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


class OrdersInfoSerializer(serializers.Serializer):
    total_order_count = serializers.IntegerField()
    total_order_amount = serializers.DecimalField(
        max_digits=20, decimal_places=2, allow_null=True, coerce_to_string=False
    )
    total_discount_amount = serializers.DecimalField(
        max_digits=20, decimal_places=2, allow_null=True, coerce_to_string=False
    )
    total_refund_amount = serializers.DecimalField(
        max_digits=20, decimal_places=2, allow_null=True, coerce_to_string=False
    )


class CustomerDetailedSerializer(CustomerSerializer):
    """A customer with its channel as an object and the totals of its orders (`orders_info`)."""

    channel = ChannelSerializer(read_only=True)
    orders_info = OrdersInfoSerializer(read_only=True)

    class Meta(CustomerSerializer.Meta):
        fields = [*CUSTOMER_FIELDS, "orders_info"]


class CustomerHistorySerializer(serializers.ModelSerializer):
    """One write of a customer: who, when, and each changed field as [old, new]."""

    user = serializers.SerializerMethodField()
    changes = serializers.DictField(child=serializers.ListField(), read_only=True)

    class Meta:
        model = CustomerHistory
        fields = ["id", "customer_id", "action", "user", "changes", "created_date"]

    def get_user(self, entry: CustomerHistory) -> str | None:
        return entry.actor_username or None
