"""Channels API (`/api/v1/channels/`): superusers write; other users read their granted channels."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from saleschannel.accounts.selectors import channels_visible_to
from saleschannel.core.openapi import error_responses
from saleschannel.core.pagination import PageLimitPagination

from .models import Channel
from .serializers import ChannelSerializer
from .services import channel_create, channel_delete, channel_update

TAGS = ["Channels"]
PAGE_PARAMETERS = [
    OpenApiParameter("page", {"type": "integer", "minimum": 1, "default": 1}),
    OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10}),
]


class SuperuserWrites(permissions.BasePermission):
    """Anyone with a token reads (what it may see); only superusers create, change or delete."""

    message = "Only superusers may change channels."

    def has_permission(self, request, view) -> bool:
        return request.method in permissions.SAFE_METHODS or bool(request.user.is_superuser)


class ChannelApiBase(APIView):
    permission_classes = [permissions.IsAuthenticated, SuperuserWrites]

    def get_channel(self, channel_id: int) -> Channel:
        channel = channels_visible_to(user=self.request.user).filter(pk=channel_id).first()
        if channel is None:
            raise Http404
        return channel


class ChannelListCreateApi(ChannelApiBase):
    @extend_schema(
        summary="List channels (a non-superuser sees its granted channels)",
        tags=TAGS,
        parameters=PAGE_PARAMETERS,
        responses={200: ChannelSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request: Request) -> Response:
        paginator = PageLimitPagination()
        queryset = channels_visible_to(user=request.user).order_by("pk")
        channels = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(ChannelSerializer(channels, many=True).data)

    @extend_schema(
        summary="Create a channel (superusers)",
        tags=TAGS,
        request=ChannelSerializer,
        responses={201: ChannelSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = ChannelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        channel = channel_create(data=serializer.validated_data)
        return Response(ChannelSerializer(channel).data, status=status.HTTP_201_CREATED)


class ChannelDetailApi(ChannelApiBase):
    @extend_schema(
        summary="Retrieve a channel",
        tags=TAGS,
        responses={200: ChannelSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, id: int) -> Response:
        return Response(ChannelSerializer(self.get_channel(id)).data)

    @extend_schema(
        summary="Update a channel (superusers)",
        tags=TAGS,
        request=ChannelSerializer,
        responses={200: ChannelSerializer, **error_responses(400, 401, 403, 404)},
    )
    def put(self, request: Request, id: int) -> Response:
        return self._update(request, id, partial=False)

    @extend_schema(
        summary="Partially update a channel (superusers)",
        tags=TAGS,
        request=ChannelSerializer(partial=True),
        responses={200: ChannelSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, id: int) -> Response:
        return self._update(request, id, partial=True)

    @extend_schema(
        summary="Delete a channel without customers or orders (superusers)",
        tags=TAGS,
        responses={
            204: OpenApiResponse(description="Deleted."),
            **error_responses(400, 401, 403, 404),
        },
    )
    def delete(self, request: Request, id: int) -> Response:
        self.get_channel(id)
        channel_delete(channel_id=id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, channel_id: int, *, partial: bool) -> Response:
        self.get_channel(channel_id)
        serializer = ChannelSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        channel = channel_update(
            channel_id=channel_id, data=serializer.validated_data, partial=partial
        )
        return Response(ChannelSerializer(channel).data)
