"""Real concurrency: parallel HTTP requests against a live server, checked against the database."""

from __future__ import annotations

import datetime as dt

import pytest

from saleschannel.customers.models import Customer
from saleschannel.customers.services import UNIQUE_MESSAGES
from saleschannel.customers.tests.factories import CustomerFactory, customer_body

from .parallel import Call, assert_no_server_errors, in_parallel, live_channel, statuses

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20
NOT_FOUND = {"detail": "Not found.", "code": "not_found"}


@pytest.fixture
def setup(live_server):
    """A channel, a superuser token, and the channel's customers URL on the live server."""
    return live_channel(live_server, "concurrent", backlog=64)


def case_variant(email: str, i: int) -> str:
    """The i-th upper/lower-case spelling of `email` (bit n of i upper-cases letter n)."""
    letters = [n for n, char in enumerate(email) if char.isalpha()]
    chars = list(email)
    for bit, position in enumerate(letters):
        if i >> bit & 1:
            chars[position] = chars[position].upper()
    return "".join(chars)


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
    assert statuses(results) == {201: 1, 400: THREADS - 1}
    winner_index = next(i for i, result in enumerate(results) if result.status == 201)
    winner = results[winner_index].body
    assert (winner["email"], winner["channel_code"]) == (
        emails[winner_index],
        f"CC-{winner_index}",
    )
    for result in results:
        if result.status == 400:
            assert result.body == {"email": [UNIQUE_MESSAGES["email"]], "code": "unique"}
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
    assert statuses(results) == {201: 1, 400: THREADS - 1}
    winner_index = next(i for i, result in enumerate(results) if result.status == 201)
    unique = {"channel_code": [UNIQUE_MESSAGES["channel_code"]], "code": "unique"}
    for result in results:
        if result.status == 400:
            assert result.body == unique
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

    assert [result.status for result in results] == [201] * THREADS
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

    assert [result.status for result in results] == [200] * THREADS
    for patch, result in zip(patches, results, strict=True):
        ((field, value),) = patch.items()
        assert result.body[field] == value
    customer.refresh_from_db()
    first_values = {p["first_name"] for p in patches if "first_name" in p}
    last_values = {p["last_name"] for p in patches if "last_name" in p}
    assert customer.first_name in first_values
    assert customer.last_name in last_values
    # The final value of each field is the one written by the last PATCH of that field.
    stamps = [
        (dt.datetime.fromisoformat(result.body["modified_date"]), patch)
        for patch, result in zip(patches, results, strict=True)
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
        deleted, patched = results[2 * n : 2 * n + 2]
        assert (deleted.status, deleted.body) == (204, None)
        if patched.status == 200:  # the PATCH ran first and the DELETE removed the patched row
            assert (patched.body["pk"], patched.body["first_name"]) == (customer.pk, "After")
        else:  # the DELETE ran first: the PATCH found nothing
            assert (patched.status, patched.body) == (404, NOT_FOUND)
    assert not Customer.objects.filter(pk__in=[c.pk for c in customers]).exists()


def test_parallel_deletes_of_one_customer_give_one_204_and_404s(setup):
    channel, token, base = setup
    customer = CustomerFactory(channel=channel)
    survivor = CustomerFactory(channel=channel)
    url = f"{base}{customer.pk}/"
    results = in_parallel([Call("DELETE", url, token) for _ in range(THREADS)])

    assert statuses(results) == {204: 1, 404: THREADS - 1}
    assert all(r.body == NOT_FOUND for r in results if r.status == 404)
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

    assert [result.status for result in results] == [200] * THREADS
    customer.refresh_from_db()
    final = (customer.email, customer.channel_code, customer.first_name, customer.last_name)
    # No mix of two PUTs: the four fields all come from the same request.
    assert final in {
        (b["email"], b["channel_code"], b["first_name"], b["last_name"]) for b in bodies
    }
