"""Customer reads: the channel-scoped list with its filters, and `orders_info` for a page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, QuerySet, Sum
from django_filters.utils import translate_validation

from saleschannel.channels.models import Channel
from saleschannel.core.json_filters import apply_json_key_filters
from saleschannel.orders.models import Order

from .filters import CustomerFilter
from .models import Customer

JSON_FILTER_FIELDS = ("attributes", "extra_field")


def customer_list(*, channel: Channel, params: Any) -> QuerySet[Customer]:
    """The channel's customers filtered and sorted by the query parameters (400 on bad ones)."""
    base = Customer.objects.filter(channel=channel).order_by("pk")
    filterset = CustomerFilter(params, queryset=base)
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    return apply_json_key_filters(
        filterset.qs, params, fields=JSON_FILTER_FIELDS, vendor=connection.vendor
    )


def customer_get(*, channel: Channel, customer_id: int) -> Customer | None:
    return Customer.objects.filter(channel=channel, pk=customer_id).first()


EMPTY_ORDERS_INFO: dict[str, Any] = {
    "total_order_count": 0,
    "total_order_amount": None,
    "total_discount_amount": None,
    "total_refund_amount": None,
}


def orders_info_for(*, customer_ids: list[int]) -> dict[int, dict[str, Any]]:
    """`orders_info` of each customer, from one grouped query over these customers only."""
    if not customer_ids:
        return {}
    rows = (
        Order.objects.filter(customer_id__in=customer_ids)
        .order_by()
        .values("customer_id")
        .annotate(
            total_order_count=Count("id"),
            total_order_amount=Sum("amount"),
            total_discount_amount=Sum("discount_amount"),
            total_refund_amount=Sum("refund_amount"),
        )
    )
    info = {}
    for row in rows:
        customer_id = row.pop("customer_id")
        for key in ("total_order_amount", "total_discount_amount", "total_refund_amount"):
            row[key] = Decimal(row[key]).quantize(Decimal("0.01"))
        info[customer_id] = row
    return info
