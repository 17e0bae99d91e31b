"""The read path's customer JSON, built from `.values()` rows without DRF's per-field machinery.

It must equal `CustomerSerializer(customer).data` exactly (a hypothesis test compares the two);
the serializer stays the reference and the only path for validation on writes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import orjson
from django.db.models import JSONField, QuerySet, TextField
from django.db.models.functions import Cast

from .models import Customer
from .serializers import CUSTOMER_FIELDS

JSON_FIELDS = tuple(
    field.name
    for field in Customer._meta.get_fields()
    if isinstance(field, JSONField) and field.name in CUSTOMER_FIELDS
)
# Columns to select: the spec's fields (as model columns) plus the version (for the ETag).
# JSON columns are selected as their text (`<name>_text`) and decoded by `load_json`.
COLUMNS = (
    *(
        {"pk": "id", "channel": "channel_id"}.get(name, name)
        for name in CUSTOMER_FIELDS
        if name not in JSON_FIELDS
    ),
    "version",
)
JSON_TEXT_COLUMNS = {f"{name}_text": Cast(name, TextField()) for name in JSON_FIELDS}

# json.loads is the reference (it is what Django's JSONField uses); orjson decodes the same
# text to the same values 10x faster, except integers beyond 64 bits (which it turns into
# floats) and text it refuses (NaN, lone surrogates): those go to json.loads.
_LONG_DIGIT_RUN = re.compile(r"[0-9]{19}")


def load_json(text: str | None) -> Any:
    if text is None:
        return None
    if _LONG_DIGIT_RUN.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def customer_values(queryset: QuerySet[Customer]) -> QuerySet:
    """The rows `customer_representation` takes."""
    return queryset.values(*COLUMNS, **JSON_TEXT_COLUMNS)


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
        "attributes": load_json(row["attributes_text"]),
        "attribute_kwargs": load_json(row["attribute_kwargs_text"]),
        "localized_attributes": load_json(row["localized_attributes_text"]),
        "localized_attribute_kwargs": load_json(row["localized_attribute_kwargs_text"]),
        "extra_field": load_json(row["extra_field_text"]),
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
