"""Parallel HTTP against a live server: If-Match lets exactly one writer per version through,
one Idempotency-Key creates one customer, one email creates one customer, and concurrent
PATCHes each leave exactly one history entry in version order."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from saleschannel.accounts.services import api_user_create
from saleschannel.channels.tests.factories import ChannelFactory
from saleschannel.core.exceptions import PreconditionFailed
from saleschannel.core.models import IdempotencyRecord
from saleschannel.customers.models import Customer, CustomerHistory
from saleschannel.customers.services import UNIQUE_MESSAGES
from saleschannel.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 50
PRECONDITION_FAILED = {
    "detail": str(PreconditionFailed.default_detail),
    "code": "precondition_failed",
}


@dataclass
class Result:
    status: int
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, None when empty


@dataclass
class Call:
    """One HTTP request, sent once every thread's connection is open."""

    method: str
    url: str
    token: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None

    def connect(self) -> http.client.HTTPConnection:
        parts = urllib.parse.urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        connection.connect()
        return connection

    def send(self, connection: http.client.HTTPConnection) -> Result:
        headers = {
            "Authorization": f"Token {self.token}",
            "Accept": "application/json",
            **(self.headers or {}),
        }
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
        return Result(
            status=response.status,
            headers={name.lower(): value for name, value in response.getheaders()},
            body=json.loads(raw) if raw else None,
        )


def in_parallel(calls: list[Call]) -> list[Result]:
    """Every call on its own thread and connection, released together by a barrier.

    Connections are opened before the barrier (the live server's listen backlog is small), so
    the requests themselves reach the server at the same moment. Results are in call order.
    """
    barrier = threading.Barrier(len(calls), timeout=60)

    def run(call: Call) -> Result:
        connection = call.connect()
        barrier.wait()
        return call.send(connection)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def statuses(results: list[Result]) -> Counter:
    return Counter(result.status for result in results)


def assert_no_server_errors(results: list[Result]) -> None:
    assert [(r.status, r.body) for r in results if r.status >= 500] == []


@pytest.fixture
def setup(live_server):
    """A channel, a superuser's real token, and the channel's customers URL on the live server."""
    # Django's test server listens with a backlog of 10: 50 simultaneous connects overflow it,
    # the kernel drops SYNs and the late connections are reset. Listening again on Linux only
    # widens the queue of the (session-wide) server socket; the requests are unaffected.
    live_server.thread.httpd.socket.listen(PARALLEL * 2)
    channel = ChannelFactory()
    _, token = api_user_create(username="parallel", superuser=True)
    return channel, token, f"{live_server.url}/api/v1/channel/{channel.pk}/customers/"


def customer_body(*, email: str, channel_code: str) -> dict[str, Any]:
    return {
        "email": email,
        "channel_code": channel_code,
        "is_active": True,
        "email_allowed": False,
        "sms_allowed": False,
        "call_allowed": False,
    }


def test_parallel_patches_with_one_if_match_let_exactly_one_through_per_version(setup):
    channel, token, base = setup
    customer = CustomerFactory(channel=channel, first_name="Orig")
    url = f"{base}{customer.pk}/"

    for round_number, version in enumerate((1, 2)):
        values = [f"R{round_number}-W{i}" for i in range(PARALLEL)]
        tag = f'"{customer.pk}.{version}"'
        results = in_parallel(
            [
                Call("PATCH", url, token, {"first_name": value}, {"If-Match": tag})
                for value in values
            ]
        )

        assert_no_server_errors(results)
        assert statuses(results) == {200: 1, 412: PARALLEL - 1}
        (winner,) = [i for i, result in enumerate(results) if result.status == 200]
        assert results[winner].body["first_name"] == values[winner]
        assert results[winner].headers["etag"] == f'"{customer.pk}.{version + 1}"'
        assert all(r.body == PRECONDITION_FAILED for r in results if r.status == 412)
        stored = Customer.objects.get(pk=customer.pk)
        assert (stored.version, stored.first_name) == (version + 1, values[winner])
        # One write, one history entry: the losers left no trace.
        changes = list(
            CustomerHistory.objects.filter(customer_id=customer.pk)
            .order_by("pk")
            .values_list("changes", flat=True)
        )
        assert len(changes) == round_number + 1
        assert changes[-1]["first_name"][1] == values[winner]


def test_parallel_posts_with_one_idempotency_key_create_one_customer(setup):
    channel, token, base = setup
    body = customer_body(email="once@example.com", channel_code="ONCE")
    results = in_parallel(
        [Call("POST", base, token, body, {"Idempotency-Key": "one-key"}) for _ in range(PARALLEL)]
    )

    assert_no_server_errors(results)
    assert statuses(results) == {201: PARALLEL}
    customer = Customer.objects.get(channel=channel)
    assert (customer.email, customer.channel_code) == ("once@example.com", "ONCE")
    assert all(result.body == results[0].body for result in results)
    assert results[0].body["pk"] == customer.pk
    assert {result.headers["etag"] for result in results} == {f'"{customer.pk}.1"'}
    replayed = Counter(result.headers.get("idempotent-replayed") for result in results)
    assert replayed == {None: 1, "true": PARALLEL - 1}
    assert IdempotencyRecord.objects.count() == 1
    assert CustomerHistory.objects.filter(customer_id=customer.pk).count() == 1


def test_parallel_posts_of_one_email_without_a_key_give_one_201_and_unique_400s(setup):
    channel, token, base = setup
    results = in_parallel(
        [
            Call("POST", base, token, customer_body(email="same@example.com", channel_code=f"C{i}"))
            for i in range(PARALLEL)
        ]
    )

    assert_no_server_errors(results)
    assert statuses(results) == {201: 1, 400: PARALLEL - 1}
    (winner,) = [i for i, result in enumerate(results) if result.status == 201]
    unique = {"email": [UNIQUE_MESSAGES["email"]], "code": "unique"}
    assert all(r.body == unique for r in results if r.status == 400)
    rows = list(Customer.objects.filter(channel=channel).values_list("pk", "email", "channel_code"))
    assert rows == [(results[winner].body["pk"], "same@example.com", f"C{winner}")]


def test_parallel_patches_without_if_match_leave_one_history_entry_each_in_version_order(setup):
    channel, token, base = setup
    customer = CustomerFactory(channel=channel, first_name="Orig")
    url = f"{base}{customer.pk}/"
    writers = 20
    values = [f"V{i}" for i in range(writers)]

    results = in_parallel([Call("PATCH", url, token, {"first_name": v}) for v in values])

    assert_no_server_errors(results)
    assert statuses(results) == {200: writers}
    # Each PATCH got its own version: 2 .. writers + 1, none shared, none skipped.
    version_of = {
        value: int(result.headers["etag"].strip('"').split(".")[1])
        for value, result in zip(values, results, strict=True)
    }
    assert sorted(version_of.values()) == list(range(2, writers + 2))
    entries = list(
        CustomerHistory.objects.filter(customer_id=customer.pk)
        .order_by("pk")
        .values_list("action", "changes")
    )
    assert [action for action, _ in entries] == ["update"] * writers
    # Entry n is the write that made version n + 2, and its old value is the previous new one.
    by_version = sorted(values, key=version_of.__getitem__)
    assert [changes for _, changes in entries] == [
        {"first_name": [previous, value]}
        for previous, value in zip(["Orig", *by_version], by_version, strict=False)
    ]
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.version, stored.first_name) == (writers + 1, by_version[-1])
