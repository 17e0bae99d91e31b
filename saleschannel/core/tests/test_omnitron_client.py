"""End to end over real HTTP, as an Omnitron client: log in, upsert customers, page the lists."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest

from saleschannel.accounts.services import api_user_create
from saleschannel.customers.models import Customer
from saleschannel.customers.tests.factories import CustomerFactory

PASSWORD = "an-omnitron-password-1"
NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')
RECORDS = [
    {
        "email": f"omnitron.{n}+tag@example.com",
        "channel_code": f"OMNI-{n:03d}",
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        "phone_number": f"+90555000{n:04d}",
        "is_active": True,
        "email_allowed": n % 2 == 0,
        "sms_allowed": False,
        "call_allowed": n % 3 == 0,
        "attributes": {"segment": f"s{n}"},
    }
    for n in range(5)
]


class Http:
    """A tiny JSON client over urllib: every call is a real HTTP request to the live server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.token: str | None = None

    def call(self, method: str, url: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        if not url.startswith("http"):
            url = self.base_url + url
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token is not None:
            headers["Authorization"] = f"Token {self.token}"
        request = Request(url, data=data, headers=headers, method=method)
        try:
            with urlopen(request, timeout=30) as response:
                status, response_headers, raw = response.status, response.headers, response.read()
        except HTTPError as error:
            status, response_headers, raw = error.code, error.headers, error.read()
        return status, dict(response_headers.items()), json.loads(raw) if raw else None


@pytest.fixture
def omnitron(live_server, channel, other_channel) -> Http:
    """A client logged in (POST /api/v1/auth/login/) as an API user granted only `channel`."""
    api_user_create(username="omnitron", password=PASSWORD, channel_ids=[channel.pk])
    client = Http(live_server.url)
    status, _, body = client.call(
        "POST", "/api/v1/auth/login/", {"username": "omnitron", "password": PASSWORD}
    )
    assert status == 200, body
    assert set(body) == {"key"}
    client.token = body["key"]
    return client


def upsert(client: Http, channel_id: int, records: list[dict[str, Any]]) -> list[str]:
    """Omnitron's upsert: look each record up by email, PATCH it when found, POST it otherwise."""
    base = f"/api/v1/channel/{channel_id}/customers/"
    actions = []
    for record in records:
        query = urlencode({"email": record["email"], "channel": channel_id})
        status, _, found = client.call("GET", f"{base}?{query}")
        assert status == 200, found
        results = found["results"]
        assert len(results) <= 1
        if results:
            status, _, saved = client.call("PATCH", f"{base}{results[0]['pk']}/", record)
            assert status == 200, saved
            assert saved["pk"] == results[0]["pk"]
            actions.append("PATCH")
        else:
            status, _, saved = client.call("POST", base, record)
            assert status == 201, saved
            actions.append("POST")
        assert {key: saved[key] for key in record} == record
    return actions


def stored(channel) -> dict[str, dict[str, Any]]:
    fields = ["first_name", "last_name", "phone_number", "email_allowed", "attributes"]
    return {
        row["email"]: {name: row[name] for name in fields}
        for row in Customer.objects.filter(channel=channel).values("email", *fields)
    }


def expected(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    fields = ["first_name", "last_name", "phone_number", "email_allowed", "attributes"]
    return {record["email"]: {name: record[name] for name in fields} for record in records}


def test_login_token_identifies_the_api_user_and_its_granted_channel(omnitron, channel):
    status, _, body = omnitron.call("GET", "/api/v1/active_user/")

    assert status == 200
    assert body["username"] == "omnitron"
    assert body["is_superuser"] is False
    assert body["channels"] == [channel.pk]


def test_upsert_twice_posts_then_patches_without_duplicates(omnitron, channel, settings):
    settings.LIST_ENVELOPE = True

    first = upsert(omnitron, channel.pk, RECORDS)
    assert first == ["POST"] * len(RECORDS)
    assert Customer.objects.filter(channel=channel).count() == len(RECORDS)
    assert stored(channel) == expected(RECORDS)

    changed = [
        {**record, "first_name": record["first_name"] + "-v2", "attributes": {"segment": "vip"}}
        for record in RECORDS
    ]
    second = upsert(omnitron, channel.pk, changed)

    assert second == ["PATCH"] * len(RECORDS)
    assert Customer.objects.filter(channel=channel).count() == len(RECORDS)
    assert stored(channel) == expected(changed)


def test_upsert_patches_existing_customers_and_posts_only_the_new_ones(omnitron, channel, settings):
    settings.LIST_ENVELOPE = True
    existing = RECORDS[:2]
    for record in existing:
        CustomerFactory(channel=channel, email=record["email"], channel_code=record["channel_code"])

    actions = upsert(omnitron, channel.pk, RECORDS)

    assert actions == ["PATCH"] * len(existing) + ["POST"] * (len(RECORDS) - len(existing))
    assert Customer.objects.filter(channel=channel).count() == len(RECORDS)
    assert stored(channel) == expected(RECORDS)


def page_with_envelope(client: Http, url: str) -> tuple[list[list[int]], set[int]]:
    pages, counts = [], set()
    while url is not None:
        status, headers, body = client.call("GET", url)
        assert status == 200, body
        assert set(body) == {"count", "next", "previous", "results"}
        assert int(headers["X-Total-Count"]) == body["count"]
        pages.append([row["pk"] for row in body["results"]])
        counts.add(body["count"])
        url = body["next"]
    return pages, counts


def page_with_link_header(client: Http, url: str) -> tuple[list[list[int]], set[int]]:
    pages, counts = [], set()
    while url is not None:
        status, headers, body = client.call("GET", url)
        assert status == 200, body
        assert isinstance(body, list)
        pages.append([row["pk"] for row in body])
        counts.add(int(headers["X-Total-Count"]))
        match = NEXT_LINK.search(headers.get("Link", ""))
        url = match.group(1) if match else None
    return pages, counts


@pytest.mark.parametrize(
    ("envelope", "walk"), [(True, page_with_envelope), (False, page_with_link_header)]
)
@pytest.mark.parametrize(("total", "limit"), [(10, 3), (9, 3), (4, 10), (1, 1)])
def test_paging_by_next_link_sees_every_customer_exactly_once(
    omnitron, channel, other_channel, settings, envelope, walk, total, limit
):
    settings.LIST_ENVELOPE = envelope
    customers = CustomerFactory.create_batch(total, channel=channel)
    CustomerFactory(channel=other_channel)  # never listed: another channel

    pages, counts = walk(omnitron, f"/api/v1/channel/{channel.pk}/customers/?limit={limit}")

    seen = [pk for page in pages for pk in page]
    assert seen == sorted(customer.pk for customer in customers)
    assert len(pages) == -(-total // limit)
    assert all(len(page) == limit for page in pages[:-1])
    assert counts == {total}
