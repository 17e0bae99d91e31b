"""Admin helpers for tables of millions of rows, and JSON form fields with the API's rules.

Counting. Django's changelist asks its paginator for `count` on every page load: a full
`SELECT COUNT(*)` over the filtered table, which on a million customers is a scan per click.
`CappedCountPaginator` counts at most `horizon + 1` rows through a sliced queryset
(`SELECT COUNT(*) FROM (SELECT ... LIMIT horizon + 1)`), where the horizon is the rows up to
the requested page plus `cap` more. Within the horizon the count is exact; past it the count is
a `CappedCount`, an int worth `horizon + 1` that prints as "<horizon>+", so the page shows
"1050+ customers". The page links then reach one page past the horizon, so every linked page
exists, and the horizon moves with the requested page, so deep pages stay reachable. The work
grows with the depth of the page (which the page query's OFFSET costs anyway), never with the
size of the table. `LargeTableAdminMixin` also turns off the unfiltered total next to the search
box (`show_full_result_count = False`) and the per-filter facet counts, both full counts.

Searching. A search the indexes cannot serve reads the table, and Django's changelist would do it
twice (the count, then the page). `LargeTableAdminMixin` runs the search once, for the ids of at
most `search_id_limit + 1` matches; when that is all of them, the count and the page are read by
primary key. A search with more matches keeps the plain query: both reads then
stop early, at the horizon and at the page.

Filter choices. Django's list filter for a free-text column lists `SELECT DISTINCT column` over
the whole table on every page load; `RecentValuesListFilter` offers the values found among the
latest `sample` rows (a bounded read), plus the value currently selected.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet

from .fields import _check_json_value

DEFAULT_COUNT_CAP = 1000
# LIMIT must fit a signed 64-bit integer on PostgreSQL.
MAX_SQL_LIMIT = 2**62


class CappedCount(int):
    """A row count that stopped at `horizon + 1`: there are more than `horizon` rows."""

    horizon: int

    def __new__(cls, horizon: int) -> CappedCount:
        count = super().__new__(cls, horizon + 1)
        count.horizon = horizon
        return count

    def __str__(self) -> str:
        return f"{self.horizon}+"

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else format(int(self), spec)


class CappedCountPaginator(Paginator):
    """A paginator whose `count` reads at most `page_hint * per_page + cap + 1` rows."""

    def __init__(
        self,
        object_list: Any,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
        error_messages: dict[str, str] | None = None,
        *,
        page_hint: int = 1,
        cap: int = DEFAULT_COUNT_CAP,
    ) -> None:
        super().__init__(object_list, per_page, orphans, allow_empty_first_page, error_messages)
        self.page_hint = max(int(page_hint), 1)
        self.cap = int(cap)

    @property
    def horizon(self) -> int:
        return min(self.page_hint * self.per_page + self.cap, MAX_SQL_LIMIT - 1)

    @cached_property
    def count(self) -> int:
        if not isinstance(self.object_list, QuerySet):
            return len(self.object_list)
        horizon = self.horizon
        found = self.object_list[: horizon + 1].count()
        return CappedCount(horizon) if found > horizon else found


def requested_page(request: Any, parameter: str = "p") -> int:
    """The changelist page asked for, read as Django's ChangeList reads it (1 when not a number)."""
    try:
        return max(int(request.GET.get(parameter, 1)), 1)
    except (TypeError, ValueError):
        return 1


class LargeTableAdminMixin:
    """For a ModelAdmin over a large table: capped counts, no full counts, no facet counts."""

    paginator = CappedCountPaginator
    count_cap = DEFAULT_COUNT_CAP
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    list_max_show_all = 200
    search_id_limit = 500

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if not search_term.strip():
            return found, may_have_duplicates
        # No ORDER BY: the ids are only a set, and an unordered scan may run in parallel.
        matches = found.order_by().values_list("pk", flat=True)
        if may_have_duplicates:
            matches = matches.distinct()
        ids = list(matches[: self.search_id_limit + 1])
        if len(ids) > self.search_id_limit:
            return found, may_have_duplicates
        return queryset.filter(pk__in=ids), False

    def get_paginator(
        self, request, queryset, per_page, orphans=0, allow_empty_first_page=True
    ) -> Paginator:
        return self.paginator(
            queryset,
            per_page,
            orphans,
            allow_empty_first_page,
            page_hint=requested_page(request),
            cap=self.count_cap,
        )


class RecentValuesListFilter(admin.SimpleListFilter):
    """Exact filter on a text column; the choices are the values among the latest rows only."""

    field_name = ""
    sample = 10_000

    def __init__(self, request, params, model, model_admin) -> None:
        self.parameter_name = self.parameter_name or self.field_name
        super().__init__(request, params, model, model_admin)

    def normalize(self, value: str) -> str:
        return value

    def lookups(self, request, model_admin):
        recent = model_admin.model._default_manager.order_by("-pk").values_list(
            self.field_name, flat=True
        )[: self.sample]
        values = {value for value in recent if value not in (None, "")}
        if self.value():
            values.add(self.normalize(self.value()))
        return [(value, value) for value in sorted(values)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field_name: self.normalize(self.value())})
        return queryset


class JSONObjectFormField(forms.JSONField):
    """A JSON object, as the API requires: empty input is `{}`, any other JSON is an error."""

    allow_null = False
    string_values = False
    default_error_messages = {
        "not_an_object": "Enter a JSON object.",
        "not_strings": "Every value must be a string.",
    }

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if self.disabled:
            return value
        if value is None:
            return None if self.allow_null else {}
        if not isinstance(value, dict):
            raise ValidationError(self.error_messages["not_an_object"], code="not_an_object")
        if self.string_values and not all(isinstance(item, str) for item in value.values()):
            raise ValidationError(self.error_messages["not_strings"], code="not_strings")
        problem = _check_json_value(value, 1)
        if problem:
            raise ValidationError(problem, code="unstorable")
        return value


class NullableJSONObjectFormField(JSONObjectFormField):
    """A JSON object or null (empty input)."""

    allow_null = True


class JSONStringMapFormField(JSONObjectFormField):
    """A JSON object whose values are strings (a channel's `conf`)."""

    string_values = True
