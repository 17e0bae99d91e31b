"""The spec's eight customer operations. Views are thin: parse, call a service/selector, render."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from saleschannel.channels.serializers import ChannelSerializer
from saleschannel.core.api import ChannelScopedMixin
from saleschannel.core.pagination import PageLimitPagination

from .models import Customer
from .selectors import EMPTY_ORDERS_INFO, customer_get, customer_list, orders_info_for
from .serializers import CustomerSerializer
from .services import customer_create, customer_delete, customer_update


class CustomerApiBase(ChannelScopedMixin, APIView):
    def get_queryset(self):
        return Customer.objects.filter(channel=self.channel)

    def get_customer(self, pk: int) -> Customer:
        customer = customer_get(channel=self.channel, customer_id=pk)
        if customer is None:
            raise Http404
        return customer

    def detailed(self, customers: list[Customer]) -> list[dict[str, Any]]:
        """`CustomerDetailed` rows: channel as an object plus `orders_info` (one query in all)."""
        channel = ChannelSerializer(self.channel).data
        info = orders_info_for(customer_ids=[customer.pk for customer in customers])
        rows = CustomerSerializer(customers, many=True).data
        for row in rows:
            row["channel"] = channel
            row["orders_info"] = info.get(row["pk"], EMPTY_ORDERS_INFO)
        return rows

    def paginated(self, request: Request, *, detailed: bool) -> Response:
        paginator = PageLimitPagination()
        queryset = customer_list(channel=self.channel, params=request.query_params)
        customers = paginator.paginate_queryset(queryset, request, view=self)
        if detailed:
            data = self.detailed(customers)
        else:
            data = CustomerSerializer(customers, many=True).data
        return paginator.get_paginated_response(data)


class CustomerListCreateApi(CustomerApiBase):
    def get(self, request: Request, channel_id: int) -> Response:
        return self.paginated(request, detailed=False)

    def post(self, request: Request, channel_id: int) -> Response:
        serializer = CustomerSerializer(data=request.data, context={"channel": self.channel})
        serializer.is_valid(raise_exception=True)
        customer = customer_create(channel=self.channel, data=serializer.validated_data)
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailedListApi(CustomerApiBase):
    def get(self, request: Request, channel_id: int) -> Response:
        return self.paginated(request, detailed=True)


class CustomerDetailApi(CustomerApiBase):
    def get(self, request: Request, channel_id: int, pk: int) -> Response:
        return Response(CustomerSerializer(self.get_customer(pk)).data)

    def put(self, request: Request, channel_id: int, pk: int) -> Response:
        return self._update(request, pk, partial=False)

    def patch(self, request: Request, channel_id: int, pk: int) -> Response:
        return self._update(request, pk, partial=True)

    def delete(self, request: Request, channel_id: int, pk: int) -> Response:
        customer_delete(channel=self.channel, customer_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, pk: int, *, partial: bool) -> Response:
        serializer = CustomerSerializer(
            data=request.data, partial=partial, context={"channel": self.channel}
        )
        serializer.is_valid(raise_exception=True)
        customer = customer_update(
            channel=self.channel, customer_id=pk, data=serializer.validated_data, partial=partial
        )
        return Response(CustomerSerializer(customer).data)


class CustomerDetailedApi(CustomerApiBase):
    def get(self, request: Request, channel_id: int, pk: int) -> Response:
        return Response(self.detailed([self.get_customer(pk)])[0])
