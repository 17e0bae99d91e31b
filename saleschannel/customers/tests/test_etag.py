"""Optimistic concurrency: the `"<pk>.<version>"` ETag of single-customer responses, `If-Match`
on PUT/PATCH/DELETE (412 and nothing changes on a mismatch) and `If-None-Match` (304) on GET."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saleschannel.core.exceptions import PreconditionFailed
from saleschannel.customers.models import Customer, CustomerHistory
from saleschannel.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PRECONDITION_FAILED = {
    "detail": str(PreconditionFailed.default_detail),
    "code": "precondition_failed",
}
NOT_FOUND = {"detail": "Not found.", "code": "not_found"}


def list_url(channel) -> str:
    return f"/api/v1/channel/{channel.pk}/customers/"


def detail_url(channel, pk: int) -> str:
    return f"/api/v1/channel/{channel.pk}/customers/{pk}/"


def etag(pk: int, version: int) -> str:
    return f'"{pk}.{version}"'


def new_body(n: int = 1) -> dict[str, Any]:
    return {
        "email": f"etag{n}@example.com",
        "channel_code": f"ETAG-{n}",
        "is_active": True,
        "email_allowed": False,
        "sms_allowed": False,
        "call_allowed": False,
    }


def row(customer: Customer) -> dict[str, Any]:
    """Every column of the customer, read fresh from the database (None once it is gone)."""
    return Customer.objects.filter(pk=customer.pk).values().first()


# --- The ETag header ---------------------------------------------------------------------------


def test_create_response_carries_the_etag_of_version_1(api, channel):
    response = api.post(list_url(channel), new_body(), format="json")

    assert response.status_code == 201
    created = Customer.objects.get(pk=response.json()["pk"])
    assert created.version == 1
    assert response["ETag"] == etag(created.pk, 1)


def test_retrieve_response_carries_the_etag_of_the_stored_version(api, channel):
    customer = CustomerFactory(channel=channel)
    Customer.objects.filter(pk=customer.pk).update(version=7)

    response = api.get(detail_url(channel, customer.pk))

    assert response.status_code == 200
    assert response["ETag"] == etag(customer.pk, 7)


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("patch", {"first_name": "Changed"}),
        ("put", {**new_body(9), "first_name": "Changed"}),
    ],
)
def test_every_update_bumps_the_version_by_one_and_returns_its_etag(api, channel, method, body):
    customer = CustomerFactory(channel=channel)
    url = detail_url(channel, customer.pk)

    for expected_version in (2, 3, 4):
        response = getattr(api, method)(url, body, format="json")
        assert response.status_code == 200
        assert response["ETag"] == etag(customer.pk, expected_version)
        assert Customer.objects.get(pk=customer.pk).version == expected_version
    # The retrieve after the writes agrees with the last write's ETag.
    assert api.get(url)["ETag"] == etag(customer.pk, 4)


def test_etags_of_two_customers_differ_even_at_the_same_version(api, channel):
    first, second = CustomerFactory.create_batch(2, channel=channel)

    tags = {api.get(detail_url(channel, c.pk))["ETag"] for c in (first, second)}

    assert tags == {etag(first.pk, 1), etag(second.pk, 1)}


# --- If-Match: success ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "if_match",
    [
        pytest.param(lambda pk: etag(pk, 1), id="exact"),
        pytest.param(lambda pk: "*", id="star"),
        pytest.param(lambda pk: f'"{pk}.0", {etag(pk, 1)}, "{pk}.5"', id="list-containing-it"),
        pytest.param(lambda pk: f"  {etag(pk, 1)}  ", id="surrounding-spaces"),
    ],
)
def test_patch_with_a_matching_if_match_succeeds(api, channel, if_match):
    customer = CustomerFactory(channel=channel, first_name="Before")

    response = api.patch(
        detail_url(channel, customer.pk),
        {"first_name": "After"},
        format="json",
        HTTP_IF_MATCH=if_match(customer.pk),
    )

    assert response.status_code == 200
    assert response.json()["first_name"] == "After"
    assert response["ETag"] == etag(customer.pk, 2)
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.first_name, stored.version) == ("After", 2)


def test_put_with_a_matching_if_match_replaces_the_customer(api, channel):
    customer = CustomerFactory(channel=channel, first_name="Before", erp_code="ERP-1")
    body = {**new_body(3), "first_name": "After"}

    response = api.put(
        detail_url(channel, customer.pk), body, format="json", HTTP_IF_MATCH=etag(customer.pk, 1)
    )

    assert response.status_code == 200
    assert response["ETag"] == etag(customer.pk, 2)
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.email, stored.first_name, stored.erp_code, stored.version) == (
        body["email"],
        "After",
        None,
        2,
    )


@pytest.mark.parametrize("if_match", ["current", "*"])
def test_delete_with_a_matching_if_match_deletes(api, channel, if_match):
    customer = CustomerFactory(channel=channel)
    header = etag(customer.pk, 1) if if_match == "current" else "*"

    response = api.delete(detail_url(channel, customer.pk), HTTP_IF_MATCH=header)

    assert (response.status_code, response.content) == (204, b"")
    assert not Customer.objects.filter(pk=customer.pk).exists()


def test_if_match_with_the_etag_returned_by_the_previous_write_chains_updates(api, channel):
    customer = CustomerFactory(channel=channel)
    url = detail_url(channel, customer.pk)
    tag = api.get(url)["ETag"]

    for n in range(1, 4):
        response = api.patch(url, {"first_name": f"N{n}"}, format="json", HTTP_IF_MATCH=tag)
        assert response.status_code == 200
        tag = response["ETag"]

    assert tag == etag(customer.pk, 4)
    assert Customer.objects.get(pk=customer.pk).first_name == "N3"


# --- If-Match: 412 and nothing changes -----------------------------------------------------------


MISMATCHES = [
    pytest.param(lambda pk: etag(pk, 1), id="stale-version"),
    pytest.param(lambda pk: etag(pk, 3), id="future-version"),
    pytest.param(lambda pk: etag(pk + 1, 2), id="other-customer"),
    pytest.param(lambda pk: f"W/{etag(pk, 2)}", id="weak-tag-is-not-strong-match"),
    pytest.param(lambda pk: f"{pk}.2", id="unquoted"),
    pytest.param(lambda pk: f'{etag(pk, 1)}, "{pk}.3"', id="list-without-it"),
    pytest.param(lambda pk: "garbage", id="garbage"),
    pytest.param(lambda pk: "", id="empty"),
]


def stale_customer(channel) -> Customer:
    """A customer at version 2 (so version 1 is a stale ETag), created without history."""
    return CustomerFactory(channel=channel, first_name="Kept", version=2)


@pytest.mark.parametrize("if_match", MISMATCHES)
@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("patch", {"first_name": "Lost"}),
        ("put", {**new_body(5), "first_name": "Lost"}),
    ],
)
def test_update_with_a_non_matching_if_match_is_412_and_changes_nothing(
    api, channel, if_match, method, body
):
    customer = stale_customer(channel)
    before = row(customer)

    response = getattr(api, method)(
        detail_url(channel, customer.pk),
        body,
        format="json",
        HTTP_IF_MATCH=if_match(customer.pk),
    )

    assert response.status_code == 412
    assert response.json() == PRECONDITION_FAILED
    assert row(customer) == before
    assert not CustomerHistory.objects.filter(customer_id=customer.pk).exists()


@pytest.mark.parametrize("if_match", MISMATCHES)
def test_delete_with_a_non_matching_if_match_is_412_and_keeps_the_customer(api, channel, if_match):
    customer = stale_customer(channel)
    before = row(customer)

    response = api.delete(detail_url(channel, customer.pk), HTTP_IF_MATCH=if_match(customer.pk))

    assert response.status_code == 412
    assert response.json() == PRECONDITION_FAILED
    assert row(customer) == before
    assert not CustomerHistory.objects.filter(customer_id=customer.pk).exists()


def test_second_writer_with_the_same_etag_gets_412_and_the_first_write_stays(api, channel):
    customer = CustomerFactory(channel=channel, first_name="Orig")
    url = detail_url(channel, customer.pk)
    tag = api.get(url)["ETag"]

    first = api.patch(url, {"first_name": "First"}, format="json", HTTP_IF_MATCH=tag)
    second = api.patch(url, {"first_name": "Second"}, format="json", HTTP_IF_MATCH=tag)

    assert first.status_code == 200
    assert (second.status_code, second.json()) == (412, PRECONDITION_FAILED)
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.first_name, stored.version) == ("First", 2)


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_if_match_star_on_an_unknown_customer_is_404(api, channel, method):
    customer = CustomerFactory(channel=channel)
    missing = customer.pk + 1000
    kwargs = {"format": "json"} if method != "delete" else {}
    body = [new_body(7)] if method != "delete" else []

    response = getattr(api, method)(
        detail_url(channel, missing), *body, HTTP_IF_MATCH="*", **kwargs
    )

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert list(Customer.objects.values_list("pk", flat=True)) == [customer.pk]


def test_matching_if_match_through_another_channel_is_404_and_changes_nothing(
    api, channel, other_channel
):
    customer = CustomerFactory(channel=channel, first_name="Kept")

    response = api.patch(
        detail_url(other_channel, customer.pk),
        {"first_name": "Lost"},
        format="json",
        HTTP_IF_MATCH=etag(customer.pk, 1),
    )

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.first_name, stored.version) == ("Kept", 1)


def test_without_if_match_the_last_write_wins_over_a_newer_version(api, channel):
    customer = CustomerFactory(channel=channel, first_name="Orig", version=5)

    response = api.patch(detail_url(channel, customer.pk), {"first_name": "Blind"}, format="json")

    assert response.status_code == 200
    assert response["ETag"] == etag(customer.pk, 6)
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.first_name, stored.version) == ("Blind", 6)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    version=st.integers(min_value=1, max_value=9),
    listed=st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=4),
)
def test_if_match_list_succeeds_exactly_when_it_contains_the_current_version(
    api, channel, version, listed
):
    customer = CustomerFactory(channel=channel, first_name="Orig", version=version)
    header = ", ".join(etag(customer.pk, v) for v in listed)

    response = api.patch(
        detail_url(channel, customer.pk), {"first_name": "New"}, format="json", HTTP_IF_MATCH=header
    )

    stored = Customer.objects.get(pk=customer.pk)
    if version in listed:
        assert response.status_code == 200
        assert response["ETag"] == etag(customer.pk, version + 1)
        assert (stored.first_name, stored.version) == ("New", version + 1)
    else:
        assert (response.status_code, response.json()) == (412, PRECONDITION_FAILED)
        assert (stored.first_name, stored.version) == ("Orig", version)


# --- If-None-Match on GET ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "if_none_match",
    [
        pytest.param(lambda pk: etag(pk, 3), id="exact"),
        pytest.param(lambda pk: f"W/{etag(pk, 3)}", id="weak"),
        pytest.param(lambda pk: "*", id="star"),
        pytest.param(lambda pk: f'"{pk}.1", W/{etag(pk, 3)}', id="list-containing-it"),
    ],
)
def test_retrieve_with_a_matching_if_none_match_is_304_with_etag_and_empty_body(
    api, channel, if_none_match
):
    customer = CustomerFactory(channel=channel, version=3)

    response = api.get(
        detail_url(channel, customer.pk), HTTP_IF_NONE_MATCH=if_none_match(customer.pk)
    )

    assert response.status_code == 304
    assert response["ETag"] == etag(customer.pk, 3)
    assert response.content == b""


@pytest.mark.parametrize(
    "if_none_match",
    [
        pytest.param(lambda pk: etag(pk, 2), id="older-version"),
        pytest.param(lambda pk: etag(pk + 1, 3), id="other-customer"),
        pytest.param(lambda pk: "garbage", id="garbage"),
    ],
)
def test_retrieve_with_a_non_matching_if_none_match_is_200_with_the_customer(
    api, channel, if_none_match
):
    customer = CustomerFactory(channel=channel, version=3)

    response = api.get(
        detail_url(channel, customer.pk), HTTP_IF_NONE_MATCH=if_none_match(customer.pk)
    )

    assert response.status_code == 200
    assert response["ETag"] == etag(customer.pk, 3)
    assert (response.json()["pk"], response.json()["email"]) == (customer.pk, customer.email)


def test_cached_etag_stops_matching_after_an_update(api, channel):
    customer = CustomerFactory(channel=channel, first_name="Old")
    url = detail_url(channel, customer.pk)
    cached = api.get(url)["ETag"]
    assert api.get(url, HTTP_IF_NONE_MATCH=cached).status_code == 304

    api.patch(url, {"first_name": "New"}, format="json")
    response = api.get(url, HTTP_IF_NONE_MATCH=cached)

    assert response.status_code == 200
    assert response.json()["first_name"] == "New"
    assert response["ETag"] == etag(customer.pk, 2)


def test_if_none_match_on_a_customer_of_another_channel_is_404(api, channel, other_channel):
    customer = CustomerFactory(channel=channel)

    response = api.get(detail_url(other_channel, customer.pk), HTTP_IF_NONE_MATCH="*")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
