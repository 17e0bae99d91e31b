"""Customer reads: the channel-scoped list with its filters, and `orders_info` for a page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import BigIntegerField, Count, F, QuerySet, Sum
from django.db.models.functions import Cast, Round
from django_filters.utils import translate_validation

from saleschannel.channels.models import Channel
from saleschannel.core.json_filters import apply_json_key_filters
from saleschannel.orders.models import Order

from .filters import customer_filterset
from .models import Customer, CustomerHistory
from .representation import customer_values

JSON_FILTER_FIELDS = ("attributes", "extra_field")


def customer_list(*, channel: Channel, params: Any) -> QuerySet[Customer]:
    """The channel's customers filtered and sorted by the query parameters (400 on bad ones)."""
    base = Customer.objects.filter(channel=channel).order_by("pk")
    filterset = customer_filterset(params, queryset=base)
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    return apply_json_key_filters(
        filterset.qs,
        params,
        fields=JSON_FILTER_FIELDS,
        vendor=connection.vendor,
        channel_id=channel.pk,
    )


def customer_row(*, channel: Channel, customer_id: int) -> dict[str, Any] | None:
    """The customer's columns for the read path (representation.py), or None."""
    return customer_values(Customer.objects.filter(channel=channel, pk=customer_id)).first()


def customer_history(*, channel: Channel, customer_id: int) -> QuerySet[CustomerHistory] | None:
    """The customer's history, newest first; None when there is neither history nor customer."""
    entries = CustomerHistory.objects.filter(channel=channel, customer_id=customer_id).order_by(
        "-pk"
    )
    if entries.exists() or Customer.objects.filter(channel=channel, pk=customer_id).exists():
        return entries
    return None


EMPTY_ORDERS_INFO: dict[str, Any] = {
    "total_order_count": 0,
    "total_order_amount": None,
    "total_discount_amount": None,
    "total_refund_amount": None,
}


def orders_info_for(*, channel: Channel, customer_ids: list[int]) -> dict[int, dict[str, Any]]:
    """`orders_info` of each customer: its orders in that channel, in one grouped query over
    these customers only."""
    if not customer_ids:
        return {}
    rows = (
        Order.objects.filter(channel=channel, customer_id__in=customer_ids)
        .order_by()
        .values("customer_id")
        .annotate(
            total_order_count=Count("id"),
            **{f"{total}_cents": _cents_sum(column) for total, column in SUMS.items()},
        )
    )
    info = {}
    for row in rows:
        info[row["customer_id"]] = {
            "total_order_count": row["total_order_count"],
            **{total: Decimal(row[f"{total}_cents"]).scaleb(-2) for total in SUMS},
        }
    return info


SUMS = {
    "total_order_amount": "amount",
    "total_discount_amount": "discount_amount",
    "total_refund_amount": "refund_amount",
}


def _cents_sum(column: str) -> Sum:
    # Whole cents as 64-bit integers: exact on SQLite too, which adds decimals as floats.
    return Sum(Cast(Round(F(column) * 100), BigIntegerField()))
