"""`<jsonfield>__<key>[__<key>...]=value` filters: the value at that path, as text, equals value.

`100` matches the number 100 and the string "100"; `true` matches the boolean true and the string
"true". Keys are object keys on both databases. On PostgreSQL a jsonb containment test (`@>`, served
by a GIN index) narrows the rows first; the text comparison then decides exactly.

The containment test is on `{"<channel id>": <column>}` (`ChannelKeyedJSON`), the expression the
GIN indexes hold (customers migration 0004): jsonb_path_ops hashes whole key paths, so the
channel id is part of every indexed key and a posting list holds one channel's rows only. A GIN
on the column alone (or led by channel_id) would read every channel's `{"segment": "gold"}`
rows to count a small channel's few.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError


class JSONPathText(models.Func):
    """The JSON value at a key path as text: strings bare, `true`, `100`; NULL for null/missing
    (and, on both databases, for arrays and objects: only scalars are compared)."""

    output_field = models.TextField()

    def __init__(self, column: str, keys: list[str]) -> None:
        self.keys = keys
        super().__init__(models.F(column))

    def as_postgresql(self, compiler, connection, **extra_context):
        column_sql, params = compiler.compile(self.source_expressions[0])
        path = f"{column_sql} #> %s"
        # Scalars only, as on SQLite: an array's or object's text would depend on formatting.
        sql = (
            f"(CASE jsonb_typeof({path}) WHEN 'object' THEN NULL WHEN 'array' THEN NULL "
            f"ELSE {column_sql} #>> %s END)"
        )
        return sql, [*params, self.keys, *params, self.keys]

    def as_sqlite(self, compiler, connection, **extra_context):
        # saleschannel.core.db registers json_path_text(): PostgreSQL's `#>>` for scalars.
        column_sql, params = compiler.compile(self.source_expressions[0])
        return f"json_path_text({column_sql}, %s)", [*params, json.dumps(self.keys)]


class ChannelKeyedJSON(models.Func):
    """`{"<channel_id>": <column>}` on PostgreSQL (jsonb_set is immutable, so indexable)."""

    output_field = models.JSONField()

    def __init__(self, column: str) -> None:
        super().__init__(models.F("channel_id"), models.F(column))

    def as_postgresql(self, compiler, connection, **extra_context):
        channel_sql, channel_params = compiler.compile(self.source_expressions[0])
        column_sql, column_params = compiler.compile(self.source_expressions[1])
        sql = f"jsonb_set('{{}}'::jsonb, ARRAY[({channel_sql})::text], {column_sql})"
        return sql, [*channel_params, *column_params]


def _nest(keys: list[str], value: Any) -> Any:
    for key in reversed(keys):
        value = {key: value}
    return value


def _scalar_candidates(text: str) -> list[Any]:
    """JSON scalars whose text form could be `text`: the string itself, and a number or boolean."""
    candidates: list[Any] = [text]
    try:
        parsed = json.loads(text)
    except ValueError:
        return candidates
    if isinstance(parsed, bool | int) or (isinstance(parsed, float) and math.isfinite(parsed)):
        candidates.append(parsed)
    return candidates


def apply_json_key_filters(
    qs: QuerySet, params: Any, *, fields: tuple[str, ...], vendor: str, channel_id: int
) -> QuerySet:
    """Apply every `<field>__<path>` query parameter whose field is one of `fields` to `qs`,
    a queryset of the channel `channel_id`'s rows."""
    for index, name in enumerate(sorted(params)):
        field, sep, path = name.partition("__")
        if not sep or field not in fields:
            continue
        keys = path.split("__")
        value = params.get(name)
        if not all(keys) or any('"' in key or "\x00" in key for key in keys):
            raise ValidationError({name: ["Enter a key path such as attributes__color."]})
        if "\x00" in value:
            raise ValidationError({name: ["Null characters are not allowed."]})
        if vendor == "postgresql":
            keyed = f"_json_keyed_{index}"
            condition = Q()
            for candidate in _scalar_candidates(value):
                condition |= Q(**{f"{keyed}__contains": {str(channel_id): _nest(keys, candidate)}})
            qs = qs.alias(**{keyed: ChannelKeyedJSON(field)}).filter(condition)
        alias = f"_json_filter_{index}"
        qs = qs.annotate(**{alias: JSONPathText(field, keys)}).filter(**{alias: value})
    return qs
