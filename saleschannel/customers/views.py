"""The spec's eight customer operations. Views are thin: parse, call a service/selector, render."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from saleschannel.channels.serializers import ChannelSerializer
from saleschannel.core.api import ChannelScopedMixin
from saleschannel.core.idempotency import idempotent
from saleschannel.core.openapi import error_responses
from saleschannel.core.pagination import PageLimitPagination, RangeOrderHint

from .filters import RANGE_FILTERED_COLUMNS
from .models import Customer
from .openapi import LIST_RESPONSE_HEADERS, list_parameters
from .representation import customer_representation, customer_values
from .selectors import (
    EMPTY_ORDERS_INFO,
    customer_history,
    customer_list,
    customer_row,
    orders_info_for,
)
from .serializers import CustomerDetailedSerializer, CustomerHistorySerializer, CustomerSerializer
from .services import (
    customer_create,
    customer_delete,
    customer_update,
    etag_for,
    etag_in,
    etag_of,
)

TAGS = ["SalesChannelCustomers"]
READ_ERRORS = error_responses(400, 401, 404, 500)
WRITE_ERRORS = error_responses(400, 401, 403, 404, 413, 415, 500)


def _list_of(serializer_class, name: str):
    if settings.LIST_ENVELOPE:
        return inline_serializer(
            name=f"Paginated{name}List",
            fields={
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": serializer_class(many=True),
            },
        )
    return serializer_class(many=True)


def customer_response(customer: Customer, *, status: int = 200) -> Response:
    """A customer's representation with its ETag (its version: If-Match compares against it)."""
    return Response(
        CustomerSerializer(customer).data, status=status, headers={"ETag": etag_of(customer)}
    )


class CustomerApiBase(ChannelScopedMixin, APIView):
    def get_queryset(self):
        return Customer.objects.filter(channel=self.channel)

    def detailed(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`CustomerDetailed` rows: channel as an object plus `orders_info` (one query in all)."""
        channel = ChannelSerializer(self.channel).data
        info = orders_info_for(channel=self.channel, customer_ids=[row["id"] for row in rows])
        detailed = []
        for row in rows:
            data = customer_representation(row)
            data["channel"] = channel
            data["orders_info"] = info.get(row["id"], EMPTY_ORDERS_INFO)
            detailed.append(data)
        return detailed

    def paginated(self, request: Request, *, detailed: bool) -> Response:
        paginator = PageLimitPagination(
            range_hint=RangeOrderHint(columns=RANGE_FILTERED_COLUMNS, scope=self.get_queryset())
        )
        queryset = customer_list(channel=self.channel, params=request.query_params)
        rows = paginator.paginate_queryset(customer_values(queryset), request, view=self)
        data = self.detailed(rows) if detailed else [customer_representation(r) for r in rows]
        return paginator.get_paginated_response(data)

    def get_row(self, customer_id: int) -> dict[str, Any]:
        row = customer_row(channel=self.channel, customer_id=customer_id)
        if row is None:
            raise Http404
        return row


class CustomerListCreateApi(CustomerApiBase):
    @extend_schema(
        summary="List Sales Channel Customers",
        description="Retrieve a list of sales channel customers with optional filters",
        tags=TAGS,
        parameters=[*list_parameters(), *LIST_RESPONSE_HEADERS],
        responses={200: _list_of(CustomerSerializer, "Customer"), **READ_ERRORS},
    )
    def get(self, request: Request, channel_id: int) -> Response:
        return self.paginated(request, detailed=False)

    @extend_schema(
        summary="Create a new Customer",
        description="Create a new Sales Channel Customer for a specific channel.",
        tags=TAGS,
        request=CustomerSerializer,
        responses={201: CustomerSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, channel_id: int) -> Response:
        return idempotent(request, self._create)

    def _create(self) -> Response:
        serializer = CustomerSerializer(data=self.request.data, context={"channel": self.channel})
        serializer.is_valid(raise_exception=True)
        customer = customer_create(
            channel=self.channel, data=serializer.validated_data, actor=self.request.user
        )
        return customer_response(customer, status=status.HTTP_201_CREATED)


class CustomerDetailedListApi(CustomerApiBase):
    @extend_schema(
        summary="List Sales Channel Customers with Details",
        description="Retrieve a detailed list of sales channel customers with optional filters",
        tags=TAGS,
        parameters=[*list_parameters(), *LIST_RESPONSE_HEADERS],
        responses={200: _list_of(CustomerDetailedSerializer, "CustomerDetailed"), **READ_ERRORS},
    )
    def get(self, request: Request, channel_id: int) -> Response:
        return self.paginated(request, detailed=True)


class CustomerDetailApi(CustomerApiBase):
    @extend_schema(
        summary="Retrieve Sales Channel Customer",
        description="Retrieve a specific Sales Channel Customer instance by ID",
        tags=TAGS,
        responses={200: CustomerSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, channel_id: int, id: int) -> Response:
        row = self.get_row(id)
        etag = etag_for(pk=row["id"], version=row["version"])
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None and etag_in(if_none_match, etag, weak=True):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(customer_representation(row), headers={"ETag": etag})

    @extend_schema(
        summary="Update Sales Channel Customer",
        description="Update an existing Sales Channel Customer instance by ID",
        tags=TAGS,
        request=CustomerSerializer,
        responses={200: CustomerSerializer, **WRITE_ERRORS},
    )
    def put(self, request: Request, channel_id: int, id: int) -> Response:
        return self._update(request, id, partial=False)

    @extend_schema(
        summary="Partially Update Sales Channel Customer",
        description="Partially update an existing Sales Channel Customer instance by ID",
        tags=TAGS,
        request=CustomerSerializer(partial=True),
        responses={200: CustomerSerializer, **WRITE_ERRORS},
    )
    def patch(self, request: Request, channel_id: int, id: int) -> Response:
        return self._update(request, id, partial=True)

    @extend_schema(
        summary="Delete Sales Channel Customer",
        description="Delete a specific Sales Channel Customer instance by ID",
        tags=TAGS,
        responses={
            204: OpenApiResponse(description="Deleted."),
            **error_responses(400, 401, 403, 404, 500),
        },
    )
    def delete(self, request: Request, channel_id: int, id: int) -> Response:
        customer_delete(
            channel=self.channel,
            customer_id=id,
            actor=request.user,
            if_match=request.headers.get("If-Match"),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, customer_id: int, *, partial: bool) -> Response:
        serializer = CustomerSerializer(
            data=request.data, partial=partial, context={"channel": self.channel}
        )
        serializer.is_valid(raise_exception=True)
        customer = customer_update(
            channel=self.channel,
            customer_id=customer_id,
            data=serializer.validated_data,
            partial=partial,
            actor=request.user,
            if_match=request.headers.get("If-Match"),
        )
        return customer_response(customer)


class CustomerDetailedApi(CustomerApiBase):
    @extend_schema(
        summary="Retrieve Sales Channel Customer with Details",
        description=(
            "Retrieve a specific Sales Channel Customer instance by ID with additional details"
        ),
        tags=TAGS,
        responses={200: CustomerDetailedSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, channel_id: int, id: int) -> Response:
        return Response(self.detailed([self.get_row(id)])[0])


class CustomerHistoryApi(CustomerApiBase):
    @extend_schema(
        summary="Change history of a customer (newest first; kept after deletion)",
        description="Who changed which fields, from what to what; newest first.",
        tags=["Extensions"],
        parameters=list_parameters()[:2],
        responses={200: CustomerHistorySerializer(many=True), **READ_ERRORS},
    )
    def get(self, request: Request, channel_id: int, id: int) -> Response:
        entries = customer_history(channel=self.channel, customer_id=id)
        if entries is None:
            raise Http404
        paginator = PageLimitPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(CustomerHistorySerializer(page, many=True).data)
