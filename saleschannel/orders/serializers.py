"""Validation of one imported order line (`manage.py import_orders`), with DRF's own messages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from saleschannel.core.fields import Int64Field

CURRENCY_RE = re.compile(r"[A-Za-z]{3}")


def _amount(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), **kwargs
    )


class OrderLineSerializer(serializers.Serializer):
    """One order of an import file. The customer is given by exactly one of `customer` (its pk
    in the import's channel) or `customer_channel_code`; whether it exists is checked by the
    service, in the same transaction as the write. Keys that are not fields are errors.

    One instance validates many lines: call `run_validation(data)` per line (it keeps no state).
    """

    number = serializers.CharField(max_length=128)
    customer = Int64Field(required=False, allow_null=True)
    customer_channel_code = serializers.CharField(max_length=64, required=False, allow_null=True)
    status = serializers.CharField(max_length=8)
    currency = serializers.CharField()
    amount = _amount()
    discount_amount = _amount(required=False, default=Decimal("0.00"))
    refund_amount = _amount(required=False, default=Decimal("0.00"))
    created_date = serializers.DateTimeField(required=False)

    default_error_messages = {
        "unknown_field": "This field is not allowed.",
        "customer_required": "Exactly one of customer and customer_channel_code is required.",
        "customer_ambiguous": "Give either customer or customer_channel_code, not both.",
        "currency": "Enter a valid ISO 4217 currency code (three letters).",
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            unknown = {
                str(key): [self.error_messages["unknown_field"]]
                for key in data
                if key not in self.fields
            }
        try:
            validated = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown, code="unknown_field")
        return validated

    def validate_currency(self, value: str) -> str:
        if not CURRENCY_RE.fullmatch(value):
            raise serializers.ValidationError(self.error_messages["currency"], code="invalid")
        return value.upper()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [
            name for name in ("customer", "customer_channel_code") if attrs.get(name) is not None
        ]
        # A ValidationError raised here is reported under `non_field_errors`.
        if not given:
            raise serializers.ValidationError(
                self.error_messages["customer_required"], code="required"
            )
        if len(given) > 1:
            raise serializers.ValidationError(
                self.error_messages["customer_ambiguous"], code="invalid"
            )
        return attrs
