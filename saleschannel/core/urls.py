"""URL helpers."""

from __future__ import annotations

from django.urls import path, register_converter

from .converters import Int64Converter

register_converter(Int64Converter, "int64")


def with_and_without_slash(route: str, view, name: str) -> list:
    """Serve `route/` and `route` directly: a redirect would make clients drop a POST body."""
    route = route.rstrip("/")
    return [path(f"{route}/", view, name=name), path(route, view)]
