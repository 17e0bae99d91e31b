"""`page`/`limit` pagination that never counts a whole large result.

The body is the spec's bare array; `Link` (RFC 8288) and `X-Total-Count` carry the paging
metadata. `next` is found by fetching limit + 1 rows. The total is exact up to
LIST_EXACT_COUNT_CAP rows; past it, PostgreSQL's planner estimate is sent as
`X-Total-Count-Estimate` instead. LIST_ENVELOPE=true switches the body to DRF's envelope.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from .db import INT64_MAX
from .exceptions import InvalidPage


def _positive_int(params: Any, name: str, default: int, maximum: int | None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: ["A valid integer is required."]}, code="invalid") from None
    if value < 1:
        raise ValidationError(
            {name: ["Ensure this value is greater than or equal to 1."]}, code="min_value"
        )
    if maximum is not None and value > maximum:
        raise ValidationError(
            {name: [f"Ensure this value is less than or equal to {maximum}."]}, code="max_value"
        )
    return value


def estimated_count(queryset: QuerySet) -> int:
    """The planner's row estimate for the query (PostgreSQL only)."""
    sql, params = queryset.order_by().query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class PageLimitPagination(BasePagination):
    page_query_param = "page"
    limit_query_param = "limit"

    def paginate_queryset(self, queryset: QuerySet, request, view=None) -> list[Any]:
        self.request = request
        params = request.query_params
        self.limit = _positive_int(
            params, self.limit_query_param, settings.LIST_DEFAULT_LIMIT, settings.LIST_MAX_LIMIT
        )
        self.page = _positive_int(params, self.page_query_param, 1, None)
        offset = (self.page - 1) * self.limit
        if offset > INT64_MAX - self.limit:
            raise InvalidPage()
        rows = list(queryset[offset : offset + self.limit + 1])
        self.has_next = len(rows) > self.limit
        rows = rows[: self.limit]
        if not rows and self.page > 1:
            raise InvalidPage()
        self.count, self.count_is_exact = self._count(queryset, offset, len(rows))
        return rows

    def _count(self, queryset: QuerySet, offset: int, page_rows: int) -> tuple[int, bool]:
        if not self.has_next:
            return offset + page_rows, True
        seen_at_least = offset + page_rows + 1
        cap = settings.LIST_EXACT_COUNT_CAP
        vendor = connections[queryset.db].vendor
        if vendor != "postgresql":
            # SQLite (the laptop default) has no planner estimate; its channels are small.
            return queryset.order_by().count(), True
        if seen_at_least <= cap:
            bounded = queryset.order_by()[: cap + 1].count()
            if bounded <= cap:
                return bounded, True
        return max(estimated_count(queryset), seen_at_least), False

    def _page_link(self, page: int) -> str:
        url = self.request.build_absolute_uri()
        if page == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, page)

    def get_next_link(self) -> str | None:
        return self._page_link(self.page + 1) if self.has_next else None

    def get_previous_link(self) -> str | None:
        return self._page_link(self.page - 1) if self.page > 1 else None

    def get_headers(self) -> dict[str, str]:
        links = []
        if (next_link := self.get_next_link()) is not None:
            links.append(f'<{next_link}>; rel="next"')
        if (prev_link := self.get_previous_link()) is not None:
            links.append(f'<{prev_link}>; rel="prev"')
        headers = {
            "X-Total-Count" if self.count_is_exact else "X-Total-Count-Estimate": str(self.count)
        }
        if links:
            headers["Link"] = ", ".join(links)
        return headers

    def get_paginated_response(self, data: list[Any]) -> Response:
        if settings.LIST_ENVELOPE:
            body: Any = {
                "count": self.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        else:
            body = data
        return Response(body, headers=self.get_headers())
