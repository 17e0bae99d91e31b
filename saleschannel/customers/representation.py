"""The read path's customer JSON, built from `.values()` rows without DRF's per-field machinery.

It must equal `CustomerSerializer(customer).data` exactly (a hypothesis test compares the two);
the serializer stays the reference and the only path for validation on writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from .models import Customer
from .serializers import CUSTOMER_FIELDS

# Columns to select: the spec's fields (as model columns) plus the version (for the ETag).
# JSON columns come decoded by their field (core.model_fields.JSONField: orjson).
COLUMNS = (
    *({"pk": "id", "channel": "channel_id"}.get(name, name) for name in CUSTOMER_FIELDS),
    "version",
)


def customer_values(queryset: QuerySet[Customer]) -> QuerySet:
    """The rows `customer_representation` takes."""
    return queryset.values(*COLUMNS)


def iso_datetime(value: dt.datetime | None) -> str | None:
    """As DRF renders a datetime with USE_TZ and TIME_ZONE=UTC: ISO 8601, `Z` for UTC."""
    if value is None:
        return None
    text = value.astimezone(dt.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def customer_representation(row: dict[str, Any]) -> dict[str, Any]:
    date_of_birth = row["date_of_birth"]
    return {
        "pk": row["id"],
        "email": row["email"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "phone_number": row["phone_number"],
        "is_active": row["is_active"],
        "channel_code": row["channel_code"],
        "erp_code": row["erp_code"],
        "attributes": row["attributes"],
        "attribute_kwargs": row["attribute_kwargs"],
        "localized_attributes": row["localized_attributes"],
        "localized_attribute_kwargs": row["localized_attribute_kwargs"],
        "extra_field": row["extra_field"],
        "email_allowed": row["email_allowed"],
        "sms_allowed": row["sms_allowed"],
        "call_allowed": row["call_allowed"],
        "date_joined": iso_datetime(row["date_joined"]),
        "gender": row["gender"],
        "user_type": row["user_type"],
        "date_of_birth": date_of_birth.isoformat() if date_of_birth is not None else None,
        "channel": row["channel_id"],
        "created_date": iso_datetime(row["created_date"]),
        "modified_date": iso_datetime(row["modified_date"]),
    }
