"""Database helpers that keep SQLite and PostgreSQL answering the same way."""

from __future__ import annotations

import json
from typing import Any

from django.db.backends.signals import connection_created
from django.dispatch import receiver

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _json_path_text(document: str | None, keys_json: str) -> str | None:
    """The JSON value at a path of object keys as PostgreSQL's `#>>` gives it for scalars:
    strings bare, `true`/`false`, numbers as written; NULL for null, missing, arrays, objects."""
    if document is None:
        return None
    value: Any = json.loads(document)
    for key in json.loads(keys_json):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return None


def writable_defaults(model, *, exclude: set[str]) -> dict[str, Any]:
    """What PUT writes for each optional field it omits: the model's default, or null."""
    defaults: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if not field.editable or field.primary_key or field.name in exclude:
            continue
        if field.has_default():
            defaults[field.name] = field.get_default()
        elif field.null:
            defaults[field.name] = None
    return defaults


@receiver(connection_created)
def register_sqlite_functions(sender, connection, **kwargs) -> None:
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    # SQLite's UPPER()/LOWER() fold ASCII only; PostgreSQL's fold all of Unicode. The unique
    # index on LOWER(email) and the case-insensitive filters must agree on both databases.
    raw.create_function("upper", 1, _upper, deterministic=True)
    raw.create_function("lower", 1, _lower, deterministic=True)
    raw.create_function("json_path_text", 2, _json_path_text, deterministic=True)
