"""Login (`POST /api/v1/auth/login/`) and the token's user (`GET /api/v1/active_user/`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from saleschannel.core.openapi import error_responses

from .selectors import channels_visible_to
from .services import login


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The new token: send it as `Authorization: Token <key>`.")


class ActiveUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_superuser = serializers.BooleanField()
    channels = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids of the channels this user may see."
    )


class LoginApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Log in with username and password; returns a new token",
        tags=["Auth"],
        request=LoginSerializer,
        responses={200: TokenSerializer, **error_responses(400, 429)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = login(
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
            ip=request.META.get("REMOTE_ADDR", ""),
        )
        return Response({"key": key})


class ActiveUserApi(APIView):
    @extend_schema(
        summary="The token's user and the channels it may see",
        tags=["Auth"],
        responses={200: ActiveUserSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        user = request.user
        channel_ids = list(
            channels_visible_to(user=user).order_by("pk").values_list("pk", flat=True)
        )
        return Response(
            {
                "id": user.pk,
                "username": user.get_username(),
                "is_superuser": user.is_superuser,
                "channels": channel_ids,
            }
        )
