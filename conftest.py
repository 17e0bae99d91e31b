"""Fixtures shared by every test: channels, API users with real tokens, and API clients."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from rest_framework.test import APIClient

from saleschannel.accounts.services import api_user_create
from saleschannel.channels.tests.factories import ChannelFactory


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def channel(db):
    return ChannelFactory()


@pytest.fixture
def other_channel(db):
    return ChannelFactory()


@pytest.fixture
def make_client(db) -> Callable[..., APIClient]:
    """An APIClient carrying a real `Authorization: Token <key>` of a new API user."""

    def make(*, superuser: bool = False, channels=(), read_only: bool = False, username=None):
        make.count += 1
        _, key = api_user_create(
            username=username or f"user{make.count}",
            password="a-password-1",
            superuser=superuser,
            channel_ids=[c.pk for c in channels],
            read_only=read_only,
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        client.token_key = key
        return client

    make.count = 0
    return make


@pytest.fixture
def api(make_client, channel, other_channel) -> APIClient:
    """A superuser client (sees every channel)."""
    return make_client(superuser=True)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()
