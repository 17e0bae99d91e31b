"""The one FilterSet behind both customer list endpoints (see docs/API.md, "Filters")."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from typing import Any

import django_filters as filters
from django.conf import settings
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Substr, Upper

from saleschannel.core.forms import (
    Int64FormField,
    Int64ListField,
    StrictBooleanField,
    UTCDateTimeField,
)

from .models import Customer, Gender, UserType

SORTABLE_FIELDS = [
    "pk",
    "email",
    "first_name",
    "last_name",
    "date_joined",
    "created_date",
    "modified_date",
]
# Columns with range filters (a prefix is a range): each has a (channel, column, ..., id) index
# (models.Customer.Meta; email's pattern_ops one in migration 0006) that a page in pk order may
# be read through (core.pagination.RangeOrderHint).
RANGE_FILTERED_COLUMNS = frozenset(
    {"created_date", "modified_date", "date_joined", "date_of_birth", "email"}
)
DATETIME_LOOKUPS = ["exact", "gt", "gte", "lt", "lte"]
DATE_OF_DATETIME_LOOKUPS = ["exact", "gt", "gte", "lt", "lte"]


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField


class Int64Filter(filters.Filter):
    field_class = Int64FormField


class Int64InFilter(filters.Filter):
    field_class = Int64ListField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("lookup_expr", "in")
        super().__init__(*args, max_values=settings.FILTER_MAX_IN_VALUES, **kwargs)


class UTCDateTimeFilter(filters.Filter):
    field_class = UTCDateTimeField


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


class DatePartFilter(filters.DateFilter):
    """`<datetime>__date[__gt|gte|lt|lte]` as a range on the datetime column (index-friendly).

    Days are UTC days, the service's time zone.
    """

    def filter(self, qs: QuerySet, value: dt.date | None) -> QuerySet:
        if value is None:
            return qs
        column = self.field_name
        start = _day_start(value)
        try:
            next_start: dt.datetime | None = _day_start(value + dt.timedelta(days=1))
        except OverflowError:
            next_start = None  # the last representable day: nothing comes after it
        lookup = self.lookup_expr
        if lookup == "exact":
            condition = Q(**{f"{column}__gte": start})
            if next_start is not None:
                condition &= Q(**{f"{column}__lt": next_start})
        elif lookup == "gt":
            if next_start is None:
                return qs.none()
            condition = Q(**{f"{column}__gte": next_start})
        elif lookup == "gte":
            condition = Q(**{f"{column}__gte": start})
        elif lookup == "lt":
            condition = Q(**{f"{column}__lt": start})
        elif lookup == "lte":
            condition = Q() if next_start is None else Q(**{f"{column}__lt": next_start})
        else:  # pragma: no cover - declared lookups only
            raise ValueError(lookup)
        return qs.filter(condition)


class SortFilter(filters.OrderingFilter):
    """Omnitron's `sort`: one field, `-` for descending; ties always broken by pk."""

    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:
        if not value:
            return qs
        terms = [self.get_ordering_value(param) for param in value if param]
        if terms and not any(term.lstrip("-") == "pk" for term in terms):
            # The tie-break follows the first key's direction, so one index scan serves both.
            terms.append("-pk" if terms[0].startswith("-") else "pk")
        # NULLs sort last ascending and first descending on both databases (PostgreSQL's
        # default, which its B-tree indexes serve; SQLite's default is the reverse).
        ordering = [
            F(term[1:]).desc(nulls_first=True)
            if term.startswith("-")
            else F(term).asc(nulls_last=True)
            for term in terms
        ]
        return qs.order_by(*ordering)


def _datetime_filters(name: str, *, with_date_part: bool) -> dict[str, filters.Filter]:
    declared: dict[str, filters.Filter] = {}
    for lookup in DATETIME_LOOKUPS:
        key = name if lookup == "exact" else f"{name}__{lookup}"
        declared[key] = UTCDateTimeFilter(field_name=name, lookup_expr=lookup)
    if with_date_part:
        for lookup in DATE_OF_DATETIME_LOOKUPS:
            key = f"{name}__date" if lookup == "exact" else f"{name}__date__{lookup}"
            declared[key] = DatePartFilter(field_name=name, lookup_expr=lookup)
    return declared


def _date_filters(name: str) -> dict[str, filters.Filter]:
    return {
        (name if lookup == "exact" else f"{name}__{lookup}"): filters.DateFilter(
            field_name=name, lookup_expr=lookup
        )
        for lookup in DATETIME_LOOKUPS
    }


class CustomerFilterBase(filters.FilterSet):
    email = filters.CharFilter(field_name="email")
    email__startswith = filters.CharFilter(method="filter_email_prefix")
    channel = Int64Filter(field_name="channel_id")
    channel_code = filters.CharFilter(field_name="channel_code")
    phone_number = filters.CharFilter(field_name="phone_number")
    first_name = filters.CharFilter(field_name="first_name")
    last_name = filters.CharFilter(field_name="last_name")
    erp_code = filters.CharFilter(method="filter_erp_code")
    pk__in = Int64InFilter(field_name="pk")
    email_allowed = StrictBooleanFilter(field_name="email_allowed")
    sms_allowed = StrictBooleanFilter(field_name="sms_allowed")
    call_allowed = StrictBooleanFilter(field_name="call_allowed")
    is_active = StrictBooleanFilter(field_name="is_active")
    gender = filters.ChoiceFilter(field_name="gender", choices=Gender.choices)
    user_type = filters.ChoiceFilter(field_name="user_type", choices=UserType.choices)
    sort = SortFilter(fields=[(name, name) for name in SORTABLE_FIELDS])

    class Meta:
        model = Customer
        fields: list[str] = []

    def filter_email_prefix(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if connection.vendor == "sqlite":
            # SQLite's LIKE ignores case; the prefix must match case-sensitively everywhere.
            return qs.annotate(_email_prefix=Substr("email", 1, len(value))).filter(
                _email_prefix=value
            )
        return qs.filter(email__startswith=value)

    def filter_erp_code(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        # UPPER() folds Unicode on both databases (saleschannel.core.db overrides SQLite's).
        return qs.annotate(_erp_upper=Upper("erp_code")).filter(_erp_upper__contains=value.upper())


CustomerFilter = type(
    "CustomerFilter",
    (CustomerFilterBase,),
    {
        **_datetime_filters("created_date", with_date_part=True),
        **_datetime_filters("modified_date", with_date_part=True),
        **_datetime_filters("date_joined", with_date_part=False),
        **_date_filters("date_of_birth"),
        "__module__": __name__,
        "__doc__": "Every list filter of DESIGN.md except the JSON key filters (selectors.py).",
    },
)


@functools.lru_cache(maxsize=512)
def _filterset_of(names: frozenset[str]) -> type[filters.FilterSet]:
    subset = type("CustomerFilter", (CustomerFilter,), {"__module__": __name__})
    subset.base_filters = {
        name: declared for name, declared in CustomerFilter.base_filters.items() if name in names
    }
    form_class = subset(None).get_form_class()
    subset.get_form_class = lambda self: form_class  # type: ignore[method-assign]
    return subset


def customer_filterset(data: Any, *, queryset: QuerySet) -> filters.FilterSet:
    """A CustomerFilter holding only the filters that `data` names.

    django-filter deep-copies every declared filter (46 here) and builds a form class with a
    field for each on every request: a third of a list request's Python time. Parameters that
    are not named get no filter either way, so the subset answers exactly as the whole set."""
    names: Iterable[str] = data.keys() if data is not None else ()
    known = CustomerFilter.base_filters
    return _filterset_of(frozenset(name for name in names if name in known))(
        data, queryset=queryset
    )
