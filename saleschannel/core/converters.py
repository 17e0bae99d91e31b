"""URL converters: ids beyond a signed 64-bit integer match no URL (so they are a 404)."""

from __future__ import annotations

from .db import INT64_MAX


class Int64Converter:
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > INT64_MAX:
            raise ValueError("out of range")
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))
