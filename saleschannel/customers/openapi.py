"""OpenAPI description of the customer endpoints: list parameters derived from the FilterSet."""

from __future__ import annotations

import django_filters as filters
from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from saleschannel.core.forms import StrictBooleanField

from .filters import CustomerFilter, DatePartFilter, Int64Filter, Int64InFilter, SortFilter

_DESCRIPTIONS = {
    "email": "Email address of the customer (exact, case-sensitive).",
    "email__startswith": "Email address starting with the value (case-sensitive).",
    "channel": "ID of the channel the customer belongs to.",
    "channel_code": "The customer's code inside the sales channel (exact).",
    "erp_code": "ERP code contains the value (case-insensitive).",
    "pk__in": "Comma-separated list of customer ids (at most 1000).",
    "sort": "Sort by a field, `-` for descending; ties are broken by pk.",
}


def _schema_for(name: str, flt: filters.Filter) -> tuple[object, dict]:
    extra: dict = {}
    if isinstance(flt, SortFilter):
        values = [value for value, _ in flt.extra["choices"]]
        return OpenApiTypes.STR, {"enum": values}
    if isinstance(flt, Int64InFilter):
        return {"type": "array", "items": {"type": "integer", "format": "int64"}}, {
            "style": "form",
            "explode": False,
        }
    if isinstance(flt, Int64Filter):
        return OpenApiTypes.INT64, extra
    if isinstance(flt, filters.ChoiceFilter):
        return OpenApiTypes.STR, {"enum": [value for value, _ in flt.extra["choices"]]}
    if flt.field_class is StrictBooleanField:
        return OpenApiTypes.BOOL, extra
    if isinstance(flt, DatePartFilter) or type(flt) is filters.DateFilter:
        return OpenApiTypes.DATE, extra
    if flt.field_class.__name__ == "UTCDateTimeField":
        return OpenApiTypes.DATETIME, extra
    if name == "email":
        return OpenApiTypes.EMAIL, extra
    return OpenApiTypes.STR, extra


def list_parameters() -> list[OpenApiParameter]:
    parameters = [
        OpenApiParameter(
            "page",
            {"type": "integer", "minimum": 1, "default": 1},
            OpenApiParameter.QUERY,
            description="Page number, from 1.",
        ),
        OpenApiParameter(
            "limit",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": settings.LIST_MAX_LIMIT,
                "default": settings.LIST_DEFAULT_LIMIT,
            },
            OpenApiParameter.QUERY,
            description="Rows per page.",
        ),
    ]
    for name, flt in CustomerFilter.base_filters.items():
        schema, extra = _schema_for(name, flt)
        description = _DESCRIPTIONS.get(name) or _lookup_description(name)
        parameters.append(
            OpenApiParameter(name, schema, OpenApiParameter.QUERY, description=description, **extra)
        )
    for field in ("attributes", "extra_field"):
        parameters.append(
            OpenApiParameter(
                f"{field}__some_key",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                description=(
                    f"`{field}__<key>` (nested: `{field}__<a>__<b>`): the value at that key of "
                    f"the `{field}` JSON object, as text, equals the parameter "
                    "(`100` matches 100, `true` matches true)."
                ),
            )
        )
    return parameters


def _lookup_description(name: str) -> str:
    field, _, lookup = name.partition("__")
    words = {
        "": "equals",
        "gt": "after",
        "gte": "at or after",
        "lt": "before",
        "lte": "at or before",
        "date": "UTC day equals",
        "date__gt": "UTC day after",
        "date__gte": "UTC day on or after",
        "date__lt": "UTC day before",
        "date__lte": "UTC day on or before",
    }
    return f"`{field}` {words.get(lookup, lookup)} the value."


LIST_RESPONSE_HEADERS = [
    OpenApiParameter(
        "Link",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[200],
        description='RFC 8288 links: `<url>; rel="next"`, `<url>; rel="prev"`.',
    ),
    OpenApiParameter(
        "X-Total-Count",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[200],
        description="Exact number of matching customers (up to LIST_EXACT_COUNT_CAP).",
    ),
    OpenApiParameter(
        "X-Total-Count-Estimate",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[200],
        description="Sent instead of X-Total-Count past the cap (PostgreSQL's estimate).",
    ),
]
