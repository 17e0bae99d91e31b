"""Channels API: superusers manage channels; other users read only the channels granted to them."""

from __future__ import annotations

import pytest

from saleschannel.channels.models import Channel
from saleschannel.channels.tests.factories import ChannelFactory
from saleschannel.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/channels/"
CHANNEL_FIELDS = {
    "id",
    "name",
    "catalog",
    "channel_type",
    "conf",
    "category_tree",
    "is_active",
    "schema",
    "created_date",
    "modified_date",
}
NEW = {"name": "Marketplace", "catalog": 7, "channel_type": "trendyol", "conf": {"k": "v"}}


def detail(channel) -> str:
    return f"/api/v1/channels/{channel.pk}/"


def test_superuser_lists_every_channel_with_paging_headers(api, channel, other_channel):
    response = api.get(LIST, {"limit": 1})

    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body] == [channel.pk]
    assert set(body[0]) == CHANNEL_FIELDS
    assert response["X-Total-Count"] == "2"
    assert 'rel="next"' in response["Link"]


def test_granted_user_lists_and_reads_only_its_channels(make_client, channel, other_channel):
    client = make_client(channels=[channel])

    listed = client.get(LIST)
    assert [row["id"] for row in listed.json()] == [channel.pk]
    assert client.get(detail(channel)).status_code == 200
    hidden = client.get(detail(other_channel))
    assert hidden.status_code == 404
    assert hidden.json() == {"detail": "Not found.", "code": "not_found"}


def test_superuser_creates_a_channel(api):
    response = api.post(LIST, NEW, format="json")

    assert response.status_code == 201, response.content
    stored = Channel.objects.get(pk=response.json()["id"])
    assert (stored.name, stored.catalog, stored.channel_type, stored.conf) == (
        "Marketplace",
        7,
        "trendyol",
        {"k": "v"},
    )
    assert stored.is_active is True


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({**NEW, "channel_type": "nope"}, "channel_type", "invalid_choice"),
        ({**NEW, "name": ""}, "name", "blank"),
        ({**NEW, "name": "x" * 256}, "name", "max_length"),
        ({**NEW, "catalog": "abc"}, "catalog", "invalid"),
        ({**NEW, "catalog": -(2**63) - 1}, "catalog", "parse_error"),
        ({**NEW, "conf": ["a"]}, "conf", "not_a_dict"),
        ({**NEW, "schema": [1]}, "schema", "not_an_object"),
        ({k: v for k, v in NEW.items() if k != "name"}, "name", "required"),
    ],
)
def test_invalid_channel_is_a_field_error(api, payload, field, code):
    before = Channel.objects.count()

    response = api.post(LIST, payload, format="json")

    assert response.status_code == 400
    body = response.json()
    # A number past 64 bits is refused by the JSON parser itself, before any field is read.
    assert (field if code != "parse_error" else "detail") in body
    assert body["code"] == code
    assert Channel.objects.count() == before


def test_patch_changes_only_named_fields_and_put_replaces(api, channel):
    channel.category_tree = "tree-1"
    channel.save()

    patched = api.patch(detail(channel), {"name": "Renamed"}, format="json")
    assert patched.status_code == 200
    channel.refresh_from_db()
    assert (channel.name, channel.category_tree) == ("Renamed", "tree-1")

    put = api.put(detail(channel), NEW, format="json")
    assert put.status_code == 200
    channel.refresh_from_db()
    assert (channel.name, channel.channel_type, channel.category_tree) == (
        "Marketplace",
        "trendyol",
        None,
    )


def test_delete_empty_channel_and_refuse_one_with_customers(api, channel, other_channel):
    CustomerFactory(channel=channel)

    refused = api.delete(detail(channel))
    assert refused.status_code == 400
    assert refused.json()["code"] == "protected"
    assert Channel.objects.filter(pk=channel.pk).exists()

    deleted = api.delete(detail(other_channel))
    assert deleted.status_code == 204
    assert not Channel.objects.filter(pk=other_channel.pk).exists()


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_non_superuser_cannot_write_channels(make_client, channel, method):
    client = make_client(channels=[channel])
    url = LIST if method == "post" else detail(channel)
    name_before = channel.name

    response = getattr(client, method)(url, NEW, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    channel.refresh_from_db()
    assert channel.name == name_before
    assert Channel.objects.count() == 1


def test_channels_api_needs_a_token(anon, channel):
    response = anon.get(LIST)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_missing_channel_is_404(api):
    ChannelFactory()
    assert api.get("/api/v1/channels/999999/").status_code == 404
    assert api.patch("/api/v1/channels/999999/", {"name": "x"}, format="json").status_code == 404
