"""Serializer fields shared by the API's resources."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .db import INT64_MAX, INT64_MIN

MAX_JSON_DEPTH = 32


def _check_json_value(value: Any, depth: int) -> str | None:
    """Why a JSON value cannot be stored, or None. PostgreSQL refuses NUL in jsonb text."""
    if depth > MAX_JSON_DEPTH:
        return f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not allowed."
    if isinstance(value, str):
        return "Null characters are not allowed." if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return "Null characters are not allowed."
            problem = _check_json_value(item, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = _check_json_value(item, depth + 1)
            if problem:
                return problem
    elif (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not (INT64_MIN <= value <= INT64_MAX)
    ):
        return "Integers must fit in 64 bits."
    elif isinstance(value, float) and not -(2.0**63) < value < 2.0**63:
        # PostgreSQL's jsonb would hand such a number back as a huge integer literal.
        return "Numbers must lie between -2^63 and 2^63."
    return None


@extend_schema_field(OpenApiTypes.OBJECT)
class JSONObjectField(serializers.JSONField):
    """A JSON object (dict); anything else is a 400 with code `not_an_object`."""

    default_error_messages = {
        "not_an_object": "Expected a JSON object.",
        "unstorable": "{reason}",
    }

    def to_internal_value(self, data: Any) -> dict:
        if not isinstance(data, dict):
            self.fail("not_an_object")
        problem = _check_json_value(data, 1)
        if problem:
            self.fail("unstorable", reason=problem)
        return data


class Int64Field(serializers.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", INT64_MIN)
        kwargs.setdefault("max_value", INT64_MAX)
        super().__init__(**kwargs)
