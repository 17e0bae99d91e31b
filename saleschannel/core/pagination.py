"""`page`/`limit` pagination that never counts a whole large result, plus keyset cursors.

The body is the spec's bare array; `Link` (RFC 8288) and `X-Total-Count` carry the paging
metadata. `next` is found by fetching limit + 1 rows. The total is exact up to
LIST_EXACT_COUNT_CAP rows; past it, PostgreSQL's planner estimate is sent as
`X-Total-Count-Estimate` instead. LIST_ENVELOPE=true switches the body to DRF's envelope.

`cursor` (an extension) pages by keyset instead of OFFSET, so a page deep in a large result
costs the same as the first: `?cursor=` starts, and each `Link: rel="next"` carries the cursor
of the following page. It works with every `sort`.

Range filters in pk order (`RangeOrderHint`): PostgreSQL assumes a range's matches are spread
evenly along the primary key, so for `created_date__gte=...` it walks the pk index and drops
non-matching rows. Dates grow with the id, so the matches may be bunched at one end and that
walk can read the whole channel first (250-540 ms on a million customers). When a list in pk
order has a range condition on one of the hint's columns, the page counts first. At most the
cap's matches: it reads the page's ids through the range's own `(channel_id, column, ..., id)`
index sorted by `id + 0` (the same order, which the pk index cannot serve), then those rows by
pk: cost in proportion to the matches, never to the channel. More: it walks a bounded window of
the channel in pk order (RANGE_PROBE_FACTOR rows per row wanted), which holds the page unless
the matches are bunched away from the walk's start; if it does not, the matches are read
through their index as above when they are at most half of the channel, else by the pk walk.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections
from django.db.models import (
    BigIntegerField,
    ExpressionWrapper,
    F,
    Lookup,
    OrderBy,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.expressions import Col
from django.db.models.functions import Coalesce
from django.db.models.sql.where import AND, WhereNode
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


def _ordering(queryset: QuerySet) -> list[tuple[str, bool]]:
    """(field name, descending) of each ordering term, pk spelled `pk`."""
    terms = []
    for term in queryset.query.order_by:
        if isinstance(term, str):
            terms.append((term.lstrip("-"), term.startswith("-")))
        elif isinstance(term, OrderBy) and isinstance(term.expression, F):
            terms.append((term.expression.name, term.descending))
        else:  # pragma: no cover - selectors only order by fields
            raise ValueError(f"cannot page by keyset over {term!r}")
    if not any(name in {"pk", "id"} for name, _ in terms):
        terms.append(("pk", False))
    return terms


def _after(terms: list[tuple[str, bool]], values: list[Any], nullable: set[str]) -> Q:
    """Rows after `values` in this order (NULLs last ascending, first descending).

    NULL alternatives are added for nullable columns only: on a NOT NULL column (the pk above
    all) an `OR col IS NULL` would stop PostgreSQL from reading the index as a range."""
    condition = Q(pk__in=[])  # nothing
    equal_so_far = Q()
    for (name, descending), value in zip(terms, values, strict=True):
        if value is None:
            beyond = Q(**{f"{name}__isnull": False}) if descending else Q(pk__in=[])
            same = Q(**{f"{name}__isnull": True})
        else:
            beyond = Q(**{f"{name}__{'lt' if descending else 'gt'}": value})
            if not descending and name in nullable:
                beyond |= Q(**{f"{name}__isnull": True})
            same = Q(**{name: value})
        condition |= equal_so_far & beyond
        equal_so_far &= same
    return condition


DEFERRED_JOIN_OFFSET = 1000
# The range probe walks at most this many channel rows per row it needs (0: no probe), and never
# more than RANGE_PROBE_MAX_ROWS: a page whose matches are that sparse in pk order is read
# through the range's index instead.
RANGE_PROBE_FACTOR = 20
RANGE_PROBE_MAX_ROWS = 20_000
# `startswith` is a range too: LIKE 'abc%' reads [abc, abd) of a pattern_ops index.
RANGE_LOOKUPS = frozenset({"gt", "gte", "lt", "lte", "range", "startswith"})


@dataclass(frozen=True)
class RangeOrderHint:
    """Columns with a `(scope, column, id)` index whose range conditions may page through it,
    and the unfiltered scope (the channel's rows) the matches are compared with."""

    columns: frozenset[str]
    scope: QuerySet


def _range_columns(where: WhereNode) -> set[str]:
    """Columns with a range condition that every row must meet (AND-ed, not negated)."""
    found: set[str] = set()
    if where.connector != AND or where.negated:
        return found
    for child in where.children:
        if isinstance(child, WhereNode):
            found |= _range_columns(child)
        elif (
            isinstance(child, Lookup)
            and child.lookup_name in RANGE_LOOKUPS
            and isinstance(child.lhs, Col)
        ):
            found.add(child.lhs.target.name)
    return found


def _only_these(queryset: QuerySet, page_ids: QuerySet) -> QuerySet:
    """`queryset`'s columns of the rows `page_ids` (a subquery of `queryset`) names.

    The filters are not repeated: `page_ids` applied them, and with them in the outer query too
    the planner may read every match again (a prefix's 3,000 rows) to pick the page's 11."""
    rows = queryset.all()
    rows.query.where = WhereNode()
    return rows.filter(pk__in=page_ids)


def _by_pk_plus_zero(descending: bool) -> OrderBy:
    key = ExpressionWrapper(F("pk") + 0, output_field=BigIntegerField())
    return key.desc() if descending else key.asc()


class PageLimitPagination(BasePagination):
    page_query_param = "page"
    limit_query_param = "limit"
    cursor_query_param = "cursor"

    def __init__(self, *, range_hint: RangeOrderHint | None = None) -> None:
        self.range_hint = range_hint

    def paginate_queryset(self, queryset: QuerySet, request, view=None) -> list[Any]:
        self.request = request
        params = request.query_params
        self.limit = _positive_int(
            params, self.limit_query_param, settings.LIST_DEFAULT_LIMIT, settings.LIST_MAX_LIMIT
        )
        self.cursor_mode = self.cursor_query_param in params
        if self.cursor_mode:
            return self._paginate_keyset(queryset, params.get(self.cursor_query_param))
        self.page = _positive_int(params, self.page_query_param, 1, None)
        offset = (self.page - 1) * self.limit
        if offset > INT64_MAX - self.limit:
            raise InvalidPage()
        descending = self._range_ordered(queryset)
        if descending is not None:
            return self._paginate_range(queryset, offset, descending)
        if offset >= DEFERRED_JOIN_OFFSET:
            # A deep OFFSET reads and drops `offset` rows: drop index entries (an index-only scan
            # of the ids) instead of table rows, then fetch the page's rows by pk.
            page_ids = queryset.values("pk")[offset : offset + self.limit + 1]
            rows = list(_only_these(queryset, page_ids))
        else:
            rows = list(queryset[offset : offset + self.limit + 1])
        self._take(rows)
        self.count, self.count_is_exact = self._count(queryset, offset, len(rows))
        return rows

    def _take(self, rows: list[Any]) -> None:
        self.has_next = len(rows) > self.limit
        del rows[self.limit :]
        if not rows and self.page > 1:
            raise InvalidPage()

    def _range_ordered(self, queryset: QuerySet) -> bool | None:
        """Whether the page may go through a range's index: None if not, else the pk order's
        direction (True: descending)."""
        hint = self.range_hint
        if hint is None or connections[queryset.db].vendor != "postgresql":
            return None
        terms = _ordering(queryset)
        if len(terms) != 1 or terms[0][0] not in {"pk", "id"}:
            return None
        if not _range_columns(queryset.query.where) & hint.columns:
            return None
        return terms[0][1]

    def _probe_pk_window(
        self, queryset: QuerySet, offset: int, descending: bool
    ) -> list[Any] | None:
        """The page (limit + 1 rows) if the channel's first rows in pk order hold it, or None.

        One query: the walk stops at the window's edge (RANGE_PROBE_FACTOR rows per row wanted),
        which a subquery finds in the (channel, id) index."""
        assert self.range_hint is not None
        wanted = offset + self.limit + 1
        budget = min(RANGE_PROBE_FACTOR * wanted, RANGE_PROBE_MAX_ROWS)
        if budget < wanted:
            return None
        scope = self.range_hint.scope.order_by("-pk" if descending else "pk")
        edge = Coalesce(
            Subquery(scope.values("pk")[budget - 1 : budget]),
            Value(-INT64_MAX - 1 if descending else INT64_MAX),
            output_field=BigIntegerField(),
        )
        window = queryset.filter(**{"pk__gte" if descending else "pk__lte": edge})
        rows = list(window[offset : offset + self.limit + 1])
        return rows if len(rows) > self.limit else None

    def _paginate_range(self, queryset: QuerySet, offset: int, descending: bool) -> list[Any]:
        assert self.range_hint is not None
        count, exact = self._bounded_count(queryset, seen_at_least=0)
        if exact and count <= offset:
            rows: list[Any] = []
        elif exact:  # at most the cap's matches: through their index, whatever their order
            rows = self._through_range_index(queryset, offset, descending)
        elif (probed := self._probe_pk_window(queryset, offset, descending)) is not None:
            rows = probed
        elif 2 * count <= estimated_count(self.range_hint.scope):
            rows = self._through_range_index(queryset, offset, descending)
        else:  # most of the channel matches: the pk walk meets them soon
            rows = list(queryset[offset : offset + self.limit + 1])
        self._take(rows)
        if exact or not self.has_next:  # the last page tells the total exactly, as in _count
            self.count, self.count_is_exact = (count if exact else offset + len(rows)), True
        else:
            self.count, self.count_is_exact = max(count, offset + len(rows) + 1), False
        return rows

    def _through_range_index(self, queryset: QuerySet, offset: int, descending: bool) -> list:
        order = _by_pk_plus_zero(descending)
        page_ids = queryset.order_by(order).values("pk")[offset : offset + self.limit + 1]
        return list(_only_these(queryset, page_ids).order_by(order))

    def _paginate_keyset(self, queryset: QuerySet, cursor: str) -> list[Any]:
        terms = _ordering(queryset)
        self.page = 1
        filtered = queryset
        if cursor:
            nullable = {
                name
                for name, _ in terms
                if name != "pk" and queryset.model._meta.get_field(name).null
            }
            values = self._decode(cursor, queryset, terms)
            filtered = queryset.filter(_after(terms, values, nullable))
        rows = list(filtered[: self.limit + 1])
        self.has_next = len(rows) > self.limit
        rows = rows[: self.limit]
        self.next_cursor = self._encode(rows[-1], terms) if self.has_next else None
        self.count, self.count_is_exact = self._count(queryset, None, len(rows))
        return rows

    @staticmethod
    def _value(row: Any, name: str) -> Any:
        key = "id" if name == "pk" else name
        return row[key] if isinstance(row, dict) else getattr(row, key)

    def _encode(self, row: Any, terms: list[tuple[str, bool]]) -> str:
        values = [self._value(row, name) for name, _ in terms]
        text = json.dumps(values, default=lambda value: value.isoformat(), separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def _decode(self, cursor: str, queryset: QuerySet, terms: list[tuple[str, bool]]) -> list:
        invalid = ValidationError(
            {self.cursor_query_param: ["Invalid cursor: use the one a response's Link gave."]},
            code="invalid",
        )
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            values = json.loads(raw)
        except (ValueError, binascii.Error):
            raise invalid from None
        if not isinstance(values, list) or len(values) != len(terms):
            raise invalid
        decoded = []
        for (name, _), value in zip(terms, values, strict=True):
            field = (
                queryset.model._meta.pk if name == "pk" else queryset.model._meta.get_field(name)
            )
            try:
                python_value = None if value is None else field.to_python(value)
                is_key = python_value is not None and name in {"pk", "id"}
                if is_key and (not isinstance(python_value, int) or abs(python_value) > INT64_MAX):
                    raise invalid
            except DjangoValidationError:
                raise invalid from None
            decoded.append(python_value)
        return decoded

    def _count(self, queryset: QuerySet, offset: int | None, page_rows: int) -> tuple[int, bool]:
        if not self.has_next and offset is not None:
            return offset + page_rows, True
        if offset is None:  # keyset: rows before this page are unknown
            offset = 0
        seen_at_least = offset + page_rows + (1 if self.has_next else 0)
        return self._bounded_count(queryset, seen_at_least=seen_at_least)

    def _bounded_count(self, queryset: QuerySet, *, seen_at_least: int) -> tuple[int, bool]:
        """(exact count, True) up to the cap; past it (PostgreSQL) (estimate, False)."""
        cap = settings.LIST_EXACT_COUNT_CAP
        vendor = connections[queryset.db].vendor
        if vendor != "postgresql":
            # SQLite (the laptop default) has no planner estimate; its channels are small.
            return queryset.order_by().count(), True
        if seen_at_least <= cap:
            bounded = queryset.order_by()[: cap + 1].count()
            if bounded <= cap:
                return bounded, True
            seen_at_least = bounded
        # Never below what was seen: the planner can be far off (jsonb containment: ~0.1 %).
        return max(estimated_count(queryset), seen_at_least), False

    def _page_link(self, page: int) -> str:
        url = self.request.build_absolute_uri()
        if page == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, page)

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        if self.cursor_mode:
            url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
            return replace_query_param(url, self.cursor_query_param, self.next_cursor)
        return self._page_link(self.page + 1)

    def get_previous_link(self) -> str | None:
        if self.cursor_mode:
            return None
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
