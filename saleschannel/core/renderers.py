"""JSON rendering with orjson; decimals are written as exact JSON numbers."""

from __future__ import annotations

import decimal
import uuid
from typing import Any

import orjson
from django.utils.functional import Promise
from rest_framework.renderers import BaseRenderer

OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        # A Fragment is inserted verbatim: 12.50 stays 12.50, with no float rounding.
        return orjson.Fragment(str(value))
    if isinstance(value, Promise | uuid.UUID):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _big_ints_as_fragments(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -(2**63) <= value < 2**64 else orjson.Fragment(str(value))
    if isinstance(value, dict):
        return {key: _big_ints_as_fragments(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_big_ints_as_fragments(item) for item in value]
    return value


def dumps(data: Any) -> bytes:
    try:
        return orjson.dumps(data, default=_default, option=OPTIONS)
    except TypeError:
        # PostgreSQL's jsonb writes a large float such as 1e45 back as a 46-digit integer, which
        # orjson refuses; such rare documents go through once more with those integers verbatim.
        return orjson.dumps(_big_ints_as_fragments(data), default=_default, option=OPTIONS)


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context=None):
        if data is None:
            return b""
        return dumps(data)
