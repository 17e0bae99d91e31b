"""The stock DRF implementation: what a plain Django REST framework project would write.

Deliberately ordinary: ModelSerializer with every Customer field of the spec, a FilterSet of
simple declarations, PageNumberPagination (so every list runs COUNT(*) over the whole filtered
channel), a nested ChannelSerializer and `orders_info` from a SerializerMethodField that runs one
aggregate query per customer (the naive way). No tuning beyond `select_related("channel")`.
"""

from __future__ import annotations

from django.db.models import Count, Sum
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from rest_framework import serializers, viewsets
from rest_framework.pagination import PageNumberPagination

from saleschannel.channels.models import Channel
from saleschannel.channels.serializers import ChannelSerializer as AppChannelSerializer
from saleschannel.customers.models import Customer
from saleschannel.customers.serializers import CUSTOMER_FIELDS  # the spec's fields, in order
from saleschannel.orders.models import Order

DATETIME_LOOKUPS = ["exact", "gt", "gte", "lt", "lte"]
DATE_PART_LOOKUPS = ["date", "date__gt", "date__gte", "date__lt", "date__lte"]
JSON_FIELDS = ("attributes", "extra_field")


class ChannelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Channel
        fields = AppChannelSerializer.Meta.fields


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = CUSTOMER_FIELDS
        read_only_fields = ["pk", "created_date", "modified_date"]


class CustomerDetailedSerializer(CustomerSerializer):
    channel = ChannelSerializer(read_only=True)
    orders_info = serializers.SerializerMethodField()

    class Meta(CustomerSerializer.Meta):
        fields = [*CUSTOMER_FIELDS, "orders_info"]

    def get_orders_info(self, customer: Customer) -> dict:
        return Order.objects.filter(channel_id=customer.channel_id, customer=customer).aggregate(
            total_order_count=Count("id"),
            total_order_amount=Sum("amount"),
            total_discount_amount=Sum("discount_amount"),
            total_refund_amount=Sum("refund_amount"),
        )


class NumberInFilter(filters.BaseInFilter, filters.NumberFilter):
    pass


class CustomerFilter(filters.FilterSet):
    email__startswith = filters.CharFilter(field_name="email", lookup_expr="startswith")
    erp_code = filters.CharFilter(field_name="erp_code", lookup_expr="icontains")
    pk__in = NumberInFilter(field_name="pk", lookup_expr="in")
    sort = filters.OrderingFilter(
        fields=[
            ("pk", "pk"),
            ("email", "email"),
            ("first_name", "first_name"),
            ("last_name", "last_name"),
            ("date_joined", "date_joined"),
            ("created_date", "created_date"),
            ("modified_date", "modified_date"),
        ]
    )

    class Meta:
        model = Customer
        fields = {
            "email": ["exact"],
            "channel": ["exact"],
            "channel_code": ["exact"],
            "phone_number": ["exact"],
            "first_name": ["exact"],
            "last_name": ["exact"],
            "created_date": DATETIME_LOOKUPS + DATE_PART_LOOKUPS,
            "modified_date": DATETIME_LOOKUPS + DATE_PART_LOOKUPS,
            "date_joined": DATETIME_LOOKUPS,
            "date_of_birth": DATETIME_LOOKUPS,
            "email_allowed": ["exact"],
            "sms_allowed": ["exact"],
            "call_allowed": ["exact"],
            "is_active": ["exact"],
            "gender": ["exact"],
            "user_type": ["exact"],
        }

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        # `attributes__<key>=value`: Django's JSONField key lookup, straight from the query.
        for name, value in self.data.items():
            field, _, path = name.partition("__")
            if path and field in JSON_FIELDS:
                queryset = queryset.filter(**{name: value})
        return queryset


class PageLimitPagination(PageNumberPagination):
    page_size = 10
    page_size_query_param = "limit"
    max_page_size = 1000


class ChannelScopedViewSet:
    """The URL's channel, or 404."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.channel = get_object_or_404(Channel, pk=kwargs["channel_id"])


class CustomerViewSet(ChannelScopedViewSet, viewsets.ModelViewSet):
    serializer_class = CustomerSerializer
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = CustomerFilter
    pagination_class = PageLimitPagination

    def get_queryset(self):
        return Customer.objects.filter(channel=self.channel).order_by("pk")

    def perform_create(self, serializer):
        serializer.save(channel=self.channel)


class CustomerDetailedViewSet(ChannelScopedViewSet, viewsets.ReadOnlyModelViewSet):
    serializer_class = CustomerDetailedSerializer
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = CustomerFilter
    pagination_class = PageLimitPagination

    def get_queryset(self):
        return (
            Customer.objects.filter(channel=self.channel).select_related("channel").order_by("pk")
        )
