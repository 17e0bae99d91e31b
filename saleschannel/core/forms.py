"""Strict form fields for query parameters: a bad value is a 400, never silently ignored."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from .db import INT64_MAX, INT64_MIN


class StrictBooleanField(forms.Field):
    TRUE = {"true", "True", "TRUE", "1"}
    FALSE = {"false", "False", "FALSE", "0"}

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        if value in self.TRUE:
            return True
        if value in self.FALSE:
            return False
        raise ValidationError("Enter true or false.", code="invalid")


class Int64FormField(forms.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", INT64_MIN)
        kwargs.setdefault("max_value", INT64_MAX)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> int | None:
        # forms.IntegerField accepts "1.0"; an id must be written as an integer.
        if isinstance(value, str) and "." in value:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class Int64ListField(forms.Field):
    """Comma-separated 64-bit integers, at most `max_values` of them."""

    def __init__(self, *, max_values: int = 1000, **kwargs: Any) -> None:
        self.max_values = max_values
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[int] | None:
        if value in (None, ""):
            return None
        parts = [part.strip() for part in str(value).split(",")]
        if len(parts) > self.max_values:
            raise ValidationError(
                f"At most {self.max_values} values are allowed.", code="max_length"
            )
        numbers = []
        for part in parts:
            try:
                number = int(part)
            except ValueError:
                raise ValidationError(
                    "Enter a comma-separated list of integers.", code="invalid"
                ) from None
            if not INT64_MIN <= number <= INT64_MAX:
                raise ValidationError("Integers must fit in 64 bits.", code="max_value")
            numbers.append(number)
        return numbers


class UTCDateTimeField(IsoDateTimeField):
    """ISO 8601 date-time, converted to UTC; one that cannot be is a 400, not a 500."""

    def to_python(self, value: Any) -> dt.datetime | None:
        result = super().to_python(value)
        if result is None:
            return None
        try:
            return result.astimezone(dt.UTC)
        except OverflowError:
            raise ValidationError("Datetime value out of range.", code="overflow") from None
