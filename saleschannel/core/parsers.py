"""Strict JSON request parsing.

Refused with 400 `parse_error`: invalid UTF-8, NaN/Infinity, integers outside 64 bits (they would
otherwise be stored rounded or overflow a column), lone UTF-16 surrogates (no database can store
them), and nesting deeper than the interpreter allows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from .db import INT64_MAX, INT64_MIN
from .exceptions import RequestTooLarge


def _int64(text: str) -> int:
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"integer {text[:30]} does not fit in 64 bits")
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads_strict(
    raw: bytes, *, parse_float: Callable[[str], Any] | None = None, int64: bool = True
) -> Any:
    """One JSON document as the API reads a request body; ParseError where it answers 400.

    `parse_float` reads the numbers with a fraction or an exponent (e.g. `decimal.Decimal`
    for exact amounts; default: float). `int64=False` accepts integers of any size, for a
    caller whose own validation bounds them (they are still refused past Python's
    integer-string conversion limit).
    """
    try:
        text = raw.decode("utf-8")
        data = json.loads(
            text,
            parse_int=_int64 if int64 else None,
            parse_float=parse_float,
            parse_constant=_no_constants,
        )
    except UnicodeDecodeError as exc:
        raise ParseError(f"JSON parse error - invalid UTF-8 at byte {exc.start}") from None
    except RecursionError:
        raise ParseError("JSON parse error - nested too deeply") from None
    except ValueError as exc:
        raise ParseError(f"JSON parse error - {exc}") from None
    if _has_lone_surrogate(data):
        raise ParseError("JSON parse error - lone surrogate in a string")
    return data


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.MAX_REQUEST_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge()
        return loads_strict(raw)
