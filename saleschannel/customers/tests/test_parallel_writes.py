"""Parallel HTTP against a live server: If-Match lets exactly one writer per version through,
one Idempotency-Key creates one customer, one email creates one customer, and concurrent
PATCHes each leave exactly one history entry in version order."""

from __future__ import annotations

from collections import Counter

import pytest

from saleschannel.core.exceptions import PreconditionFailed
from saleschannel.core.models import IdempotencyRecord
from saleschannel.customers.models import Customer, CustomerHistory
from saleschannel.customers.services import UNIQUE_MESSAGES
from saleschannel.customers.tests.factories import CustomerFactory, customer_body

from .parallel import Call, assert_no_server_errors, in_parallel, live_channel, statuses

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 50
PRECONDITION_FAILED = {
    "detail": str(PreconditionFailed.default_detail),
    "code": "precondition_failed",
}


@pytest.fixture
def setup(live_server):
    """A channel, a superuser's real token, and the channel's customers URL on the live server."""
    return live_channel(live_server, "parallel", backlog=PARALLEL * 2)


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
