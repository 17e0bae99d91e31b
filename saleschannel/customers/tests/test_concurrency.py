"""Real concurrency: parallel HTTP requests against a live server, checked against the database."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from saleschannel.accounts.services import api_user_create
from saleschannel.channels.tests.factories import ChannelFactory
from saleschannel.customers.models import Customer
from saleschannel.customers.services import UNIQUE_MESSAGES
from saleschannel.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20
NOT_FOUND = {"detail": "Not found.", "code": "not_found"}


class Call:
    """One HTTP request to send once its connection is open (so all start at the same moment)."""

    def __init__(self, method: str, url: str, token: str, body: dict | None = None):
        self.method, self.url, self.token, self.body = method, url, token, body

    def connect(self) -> http.client.HTTPConnection:
        parts = urllib.parse.urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        connection.connect()
        return connection

    def send(self, connection: http.client.HTTPConnection) -> tuple[int, Any]:
        """Returns the status and the parsed JSON body (None when empty)."""
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        data = None
        if self.body is not None:
            data = json.dumps(self.body).encode()
            headers["Content-Type"] = "application/json"
        connection.request(
            self.method, urllib.parse.urlsplit(self.url).path, body=data, headers=headers
        )
        response = connection.getresponse()
        raw = response.read()
        connection.close()
        return response.status, (json.loads(raw) if raw else None)


def in_parallel(calls: list[Call]) -> list[tuple[int, Any]]:
    """Send every call on its own thread and connection, released together by a barrier.

    Connections are opened before the barrier (the test server's accept backlog is small), so
    the requests themselves reach the server at the same time. Results are in call order.
    """
    barrier = threading.Barrier(len(calls), timeout=30)

    def run(call: Call) -> tuple[int, Any]:
        connection = call.connect()
        barrier.wait()
        return call.send(connection)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.fixture
def setup(live_server):
    """A channel, a superuser token, and the channel's customers URL on the live server."""
    # The live server queues only 10 pending connections; 20 arriving at once may be reset.
    live_server.thread.httpd.socket.listen(64)
    channel = ChannelFactory()
    _, token = api_user_create(username="concurrent", superuser=True)
    base = f"{live_server.url}/api/v1/channel/{channel.pk}/customers/"
    return channel, token, base


def customer_body(*, email: str, channel_code: str) -> dict[str, Any]:
    return {
        "email": email,
        "channel_code": channel_code,
        "is_active": True,
        "email_allowed": False,
        "sms_allowed": False,
        "call_allowed": False,
    }


def case_variant(email: str, i: int) -> str:
    """The i-th upper/lower-case spelling of `email` (bit n of i upper-cases letter n)."""
    letters = [n for n, char in enumerate(email) if char.isalpha()]
    chars = list(email)
    for bit, position in enumerate(letters):
        if i >> bit & 1:
            chars[position] = chars[position].upper()
    return "".join(chars)


def assert_no_server_errors(results: list[tuple[int, Any]]) -> None:
    assert [status for status, _ in results if status >= 500] == []


@pytest.mark.parametrize(
    "email_for",
    [
        pytest.param(lambda i: "dup@example.com", id="identical-email"),
        pytest.param(lambda i: case_variant("dup@example.com", i), id="case-variants"),
    ],
)
def test_parallel_creates_of_one_email_give_one_201_and_unique_400s(setup, email_for):
    channel, token, base = setup
    emails = [email_for(i) for i in range(THREADS)]
    results = in_parallel(
        [
            Call("POST", base, token, customer_body(email=email, channel_code=f"CC-{i}"))
            for i, email in enumerate(emails)
        ]
    )

    assert_no_server_errors(results)
    assert Counter(status for status, _ in results) == {201: 1, 400: THREADS - 1}
    winner_index = next(i for i, (status, _) in enumerate(results) if status == 201)
    winner = results[winner_index][1]
    assert (winner["email"], winner["channel_code"]) == (
        emails[winner_index],
        f"CC-{winner_index}",
    )
    for status, body in results:
        if status == 400:
            assert body == {"email": [UNIQUE_MESSAGES["email"]], "code": "unique"}
    rows = list(Customer.objects.filter(channel=channel).values_list("pk", "email", "channel_code"))
    assert rows == [(winner["pk"], emails[winner_index], f"CC-{winner_index}")]


def test_parallel_creates_of_one_channel_code_give_one_201_and_unique_400s(setup):
    channel, token, base = setup
    results = in_parallel(
        [
            Call("POST", base, token, customer_body(email=f"u{i}@example.com", channel_code="SAME"))
            for i in range(THREADS)
        ]
    )

    assert_no_server_errors(results)
    assert Counter(status for status, _ in results) == {201: 1, 400: THREADS - 1}
    winner_index = next(i for i, (status, _) in enumerate(results) if status == 201)
    for status, body in results:
        if status == 400:
            assert body == {"channel_code": [UNIQUE_MESSAGES["channel_code"]], "code": "unique"}
    rows = list(Customer.objects.filter(channel=channel).values_list("email", "channel_code"))
    assert rows == [(f"u{winner_index}@example.com", "SAME")]


def test_parallel_creates_of_distinct_customers_all_succeed(setup):
    channel, token, base = setup
    results = in_parallel(
        [
            Call(
                "POST", base, token, customer_body(email=f"u{i}@example.com", channel_code=f"C{i}")
            )
            for i in range(THREADS)
        ]
    )

    assert [status for status, _ in results] == [201] * THREADS
    assert sorted(Customer.objects.filter(channel=channel).values_list("email", flat=True)) == (
        sorted(f"u{i}@example.com" for i in range(THREADS))
    )


def test_parallel_patches_of_different_fields_both_persist(setup):
    channel, token, base = setup
    customer = CustomerFactory(channel=channel, first_name="OrigFirst", last_name="OrigLast")
    url = f"{base}{customer.pk}/"
    # Pairs: even threads patch first_name, odd threads patch last_name.
    patches = [
        {"first_name": f"F{i}"} if i % 2 == 0 else {"last_name": f"L{i}"} for i in range(THREADS)
    ]
    results = in_parallel([Call("PATCH", url, token, p) for p in patches])

    assert [status for status, _ in results] == [200] * THREADS
    for patch, (_, body) in zip(patches, results, strict=True):
        ((field, value),) = patch.items()
        assert body[field] == value
    customer.refresh_from_db()
    first_values = {p["first_name"] for p in patches if "first_name" in p}
    last_values = {p["last_name"] for p in patches if "last_name" in p}
    assert customer.first_name in first_values
    assert customer.last_name in last_values
    # The final value of each field is the one written by the last PATCH of that field.
    stamps = [
        (dt.datetime.fromisoformat(body["modified_date"]), patch)
        for patch, (_, body) in zip(patches, results, strict=True)
    ]
    for field, final in (("first_name", customer.first_name), ("last_name", customer.last_name)):
        latest = max(stamp for stamp, patch in stamps if field in patch)
        assert final in {
            patch[field] for stamp, patch in stamps if field in patch and stamp == latest
        }
    assert customer.modified_date == max(stamp for stamp, _ in stamps)


def test_parallel_delete_and_patch_of_one_customer_stay_consistent(setup):
    channel, token, base = setup
    customers = CustomerFactory.create_batch(THREADS // 2, channel=channel, first_name="Before")
    calls = []
    for customer in customers:
        url = f"{base}{customer.pk}/"
        calls.append(Call("DELETE", url, token))
        calls.append(Call("PATCH", url, token, {"first_name": "After"}))
    results = in_parallel(calls)

    assert_no_server_errors(results)
    for n, customer in enumerate(customers):
        (delete_status, delete_body), (patch_status, patch_body) = results[2 * n : 2 * n + 2]
        assert (delete_status, delete_body) == (204, None)
        if patch_status == 200:  # the PATCH ran first and the DELETE removed the patched row
            assert (patch_body["pk"], patch_body["first_name"]) == (customer.pk, "After")
        else:  # the DELETE ran first: the PATCH found nothing
            assert (patch_status, patch_body) == (404, NOT_FOUND)
    assert not Customer.objects.filter(pk__in=[c.pk for c in customers]).exists()


def test_parallel_deletes_of_one_customer_give_one_204_and_404s(setup):
    channel, token, base = setup
    customer = CustomerFactory(channel=channel)
    survivor = CustomerFactory(channel=channel)
    url = f"{base}{customer.pk}/"
    results = in_parallel([Call("DELETE", url, token) for _ in range(THREADS)])

    assert Counter(status for status, _ in results) == {204: 1, 404: THREADS - 1}
    assert all(body == NOT_FOUND for status, body in results if status == 404)
    assert list(Customer.objects.filter(channel=channel).values_list("pk", flat=True)) == [
        survivor.pk
    ]


def test_parallel_puts_leave_the_row_equal_to_one_whole_put(setup):
    channel, token, base = setup
    customer = CustomerFactory(channel=channel)
    url = f"{base}{customer.pk}/"
    bodies = [
        {
            **customer_body(email=f"put{i}@example.com", channel_code=f"PUT-{i}"),
            "first_name": f"F{i}",
            "last_name": f"L{i}",
        }
        for i in range(THREADS)
    ]
    results = in_parallel([Call("PUT", url, token, b) for b in bodies])

    assert [status for status, _ in results] == [200] * THREADS
    customer.refresh_from_db()
    final = (customer.email, customer.channel_code, customer.first_name, customer.last_name)
    # No mix of two PUTs: the four fields all come from the same request.
    assert final in {
        (b["email"], b["channel_code"], b["first_name"], b["last_name"]) for b in bodies
    }
