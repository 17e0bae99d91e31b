"""The five single-customer operations (create, retrieve, PUT, PATCH, DELETE): responses checked
against the spec's `Customer` schema, the rows they leave in the database, channel scoping,
read-only fields, per-channel uniqueness and protected deletes."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saleschannel.channels.tests.factories import ChannelFactory
from saleschannel.core.db import INT64_MAX, INT64_MIN
from saleschannel.customers.models import Customer
from saleschannel.customers.tests.factories import CustomerFactory
from saleschannel.orders.models import Order
from saleschannel.orders.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

SPEC_PATH = (
    Path(__file__).resolve().parents[3].parent / "shared/spec/saleschannelcustomers.openapi.json"
)
CUSTOMER_SCHEMA = json.loads(SPEC_PATH.read_text())["components"]["schemas"]["Customer"]
PROPERTIES: dict[str, dict[str, Any]] = CUSTOMER_SCHEMA["properties"]
SERVER_TIMESTAMPS = ("created_date", "modified_date")
ISO_DATETIME_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
JSON_FIELDS = (
    "attributes",
    "attribute_kwargs",
    "localized_attributes",
    "localized_attribute_kwargs",
    "extra_field",
)
REQUIRED = tuple(CUSTOMER_SCHEMA["required"])
# Every field a client may write (the schema's properties minus the read-only pk and the
# channel, which comes from the URL).
WRITABLE = tuple(name for name in PROPERTIES if name not in {"pk", "channel"})

# What PUT writes for an optional field it omits, and create for one it does not send.
OPTIONAL_DEFAULTS: dict[str, Any] = {
    "first_name": "",
    "last_name": "",
    "phone_number": None,
    "erp_code": None,
    **{name: {} for name in JSON_FIELDS},
    "date_joined": None,
    "gender": None,
    "user_type": None,
    "date_of_birth": None,
}

REQUIRED_ONLY = {
    "email": "required.only@example.com",
    "channel_code": "REQ-1",
    "is_active": True,
    "email_allowed": False,
    "sms_allowed": True,
    "call_allowed": False,
}

FULL = {
    "email": "Ayse.Yilmaz@example.com",
    "first_name": "Ayşe",
    "last_name": "Yılmaz",
    "phone_number": "+90 555 123 45 67",
    "is_active": True,
    "channel_code": "MP-000123",
    "erp_code": "ERP-77",
    "attributes": {"segment": "gold", "score": 100, "tags": ["a", "b"]},
    "attribute_kwargs": {"segment": {"label": "Gold"}},
    "localized_attributes": {"tr": {"note": "merhaba"}},
    "localized_attribute_kwargs": {"en": {"note": {"x": 1}}},
    "extra_field": {"nested": {"flag": True, "ratio": 0.5, "none": None}},
    "email_allowed": True,
    "sms_allowed": False,
    "call_allowed": True,
    "date_joined": "2021-06-01T12:30:45+03:00",
    "gender": "female",
    "user_type": "registered",
    "date_of_birth": "1990-02-28",
}

# A second full payload in which every writable field differs from FULL.
FULL_OTHER = {
    "email": "mehmet.kaya@example.org",
    "first_name": "Mehmet",
    "last_name": "Kaya",
    "phone_number": "+90 532 000 00 00",
    "is_active": False,
    "channel_code": "MP-999",
    "erp_code": "ERP-88",
    "attributes": {"segment": "silver"},
    "attribute_kwargs": {"k": [1, 2, 3]},
    "localized_attributes": {"en": {"note": "hello"}},
    "localized_attribute_kwargs": {"de": {}},
    "extra_field": {"source": "import"},
    "email_allowed": False,
    "sms_allowed": True,
    "call_allowed": False,
    "date_joined": "2019-12-31T23:59:59.123456Z",
    "gender": "male",
    "user_type": "guest",
    "date_of_birth": "2000-01-01",
}
assert all(FULL[name] != FULL_OTHER[name] for name in WRITABLE)


def list_url(channel) -> str:
    return f"/api/v1/channel/{channel.pk}/customers/"


def detail_url(channel, pk: int) -> str:
    return f"/api/v1/channel/{channel.pk}/customers/{pk}/"


def api_datetime(text: str) -> str:
    """How the API renders an input datetime: converted to UTC, ISO 8601 with `Z`."""
    return datetime.fromisoformat(text).astimezone(UTC).isoformat().replace("+00:00", "Z")


def expected_api_values(payload: dict[str, Any]) -> dict[str, Any]:
    """The response values of the writable fields a payload sets."""
    values = {name: payload[name] for name in WRITABLE if name in payload}
    if values.get("date_joined") is not None:
        values["date_joined"] = api_datetime(values["date_joined"])
    return values


def expected_db_values(payload: dict[str, Any]) -> dict[str, Any]:
    """The Python values the database row must hold for the writable fields a payload sets."""
    values = {name: payload[name] for name in WRITABLE if name in payload}
    if values.get("date_joined") is not None:
        values["date_joined"] = datetime.fromisoformat(values["date_joined"])
    if values.get("date_of_birth") is not None:
        values["date_of_birth"] = date.fromisoformat(values["date_of_birth"])
    return values


def row_values(pk: int) -> dict[str, Any]:
    """Every column of the customer's row, read fresh from the database."""
    row = Customer.objects.get(pk=pk)
    return {field.attname: getattr(row, field.attname) for field in Customer._meta.concrete_fields}


def assert_row_holds(pk: int, expected: dict[str, Any]) -> None:
    row = row_values(pk)
    assert {name: row[name] for name in expected} == expected


def assert_matches_customer_schema(body: dict[str, Any]) -> None:
    """Keys, JSON types, nullability, enums, maxLength and formats of the spec's `Customer`."""
    assert set(body) == set(PROPERTIES) | set(SERVER_TIMESTAMPS)
    for name, prop in PROPERTIES.items():
        value = body[name]
        if value is None:
            assert prop.get("nullable") is True, f"{name} is null but not nullable"
            continue
        # Known spec flaw 4 (DESIGN.md): `pk` has a format but no type; it is an integer.
        json_type = prop.get("type", "integer")
        if json_type == "integer":
            assert type(value) is int, name
        elif json_type == "boolean":
            assert type(value) is bool, name
        elif json_type == "string":
            assert type(value) is str, name
        elif json_type == "object":
            assert type(value) is dict, name
        else:  # pragma: no cover - the schema uses no other type
            raise AssertionError(f"unexpected schema type {json_type} for {name}")
        if "enum" in prop:
            assert value in prop["enum"], name
        if "maxLength" in prop:
            assert len(value) <= prop["maxLength"], name
        fmt = prop.get("format")
        if fmt == "int64":
            assert INT64_MIN <= value <= INT64_MAX, name
        elif fmt == "date-time":
            assert ISO_DATETIME_Z.match(value), f"{name}={value!r}"
            assert datetime.fromisoformat(value).utcoffset() == timedelta(0)
        elif fmt == "date":
            assert ISO_DATE.match(value), f"{name}={value!r}"
            date.fromisoformat(value)
        elif fmt == "email":
            assert "@" in value, name
    for name in SERVER_TIMESTAMPS:
        assert type(body[name]) is str
        assert ISO_DATETIME_Z.match(body[name]), f"{name}={body[name]!r}"


def assert_timestamps_match_row(body: dict[str, Any], pk: int) -> None:
    row = row_values(pk)
    assert datetime.fromisoformat(body["created_date"]) == row["created_date"]
    assert datetime.fromisoformat(body["modified_date"]) == row["modified_date"]


def make_customer(channel, payload: dict[str, Any]) -> Customer:
    """A stored customer holding exactly the payload's values (defaults for the rest)."""
    values = copy.deepcopy({**OPTIONAL_DEFAULTS, **expected_db_values(payload)})
    return CustomerFactory(channel=channel, **values)


def backdate(customer: Customer) -> tuple[datetime, datetime]:
    """Move the row's timestamps a day back; returns (created_date, modified_date)."""
    past_created = datetime(2020, 1, 1, 8, 0, tzinfo=UTC)
    past_modified = datetime(2020, 1, 2, 8, 0, tzinfo=UTC)
    Customer.objects.filter(pk=customer.pk).update(
        created_date=past_created, modified_date=past_modified
    )
    return past_created, past_modified


# --- create ---------------------------------------------------------------------------------


def test_create_with_every_field_returns_201_schema_conformant_body_and_persists_row(api, channel):
    response = api.post(list_url(channel), FULL, format="json")

    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert_matches_customer_schema(body)
    assert {name: body[name] for name in WRITABLE} == expected_api_values(FULL)
    assert body["channel"] == channel.pk
    row = Customer.objects.get(pk=body["pk"])
    assert row.channel_id == channel.pk
    assert_row_holds(body["pk"], expected_db_values(FULL))
    assert_timestamps_match_row(body, body["pk"])


def test_create_with_required_fields_only_applies_defaults_to_optional_fields(api, channel):
    assert set(REQUIRED_ONLY) == set(REQUIRED)  # exactly the spec's required fields

    response = api.post(list_url(channel), REQUIRED_ONLY, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert_matches_customer_schema(body)
    assert {name: body[name] for name in WRITABLE} == {**OPTIONAL_DEFAULTS, **REQUIRED_ONLY}
    assert_row_holds(body["pk"], {**OPTIONAL_DEFAULTS, **REQUIRED_ONLY})


def test_create_sets_created_and_modified_date_to_the_time_of_the_request(api, channel):
    before = timezone.now()
    response = api.post(list_url(channel), REQUIRED_ONLY, format="json")
    after = timezone.now()

    assert response.status_code == 201
    body = response.json()
    created = datetime.fromisoformat(body["created_date"])
    modified = datetime.fromisoformat(body["modified_date"])
    assert before <= created <= after
    assert before <= modified <= after
    assert_timestamps_match_row(body, body["pk"])


def test_create_ignores_created_and_modified_date_in_the_body(api, channel):
    payload = {
        **REQUIRED_ONLY,
        "created_date": "2000-01-01T00:00:00Z",
        "modified_date": "2000-01-02T00:00:00Z",
    }
    response = api.post(list_url(channel), payload, format="json")

    assert response.status_code == 201
    body = response.json()
    row = row_values(body["pk"])
    assert row["created_date"].year != 2000
    assert row["modified_date"].year != 2000
    assert_timestamps_match_row(body, body["pk"])


def test_create_ignores_pk_in_the_body(api, channel):
    existing = make_customer(channel, FULL)
    before = row_values(existing.pk)

    response = api.post(list_url(channel), {**REQUIRED_ONLY, "pk": existing.pk}, format="json")

    assert response.status_code == 201, response.content
    new_pk = response.json()["pk"]
    assert new_pk != existing.pk
    assert row_values(existing.pk) == before
    assert_row_holds(new_pk, REQUIRED_ONLY)
    assert Customer.objects.filter(channel=channel).count() == 2


@pytest.mark.parametrize("body_channel", ["url", None, "omitted"], ids=["same", "null", "omitted"])
def test_create_takes_channel_from_url_when_body_channel_is_same_null_or_omitted(
    api, channel, body_channel
):
    payload = dict(REQUIRED_ONLY)
    if body_channel == "url":
        payload["channel"] = channel.pk
    elif body_channel is None:
        payload["channel"] = None

    response = api.post(list_url(channel), payload, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["channel"] == channel.pk
    assert Customer.objects.get(pk=response.json()["pk"]).channel_id == channel.pk


def test_create_with_body_channel_of_another_channel_is_400_on_channel(api, channel, other_channel):
    response = api.post(
        list_url(channel), {**REQUIRED_ONLY, "channel": other_channel.pk}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"channel", "code"}
    assert body["code"] == "invalid"
    assert isinstance(body["channel"], list) and body["channel"]
    assert all(isinstance(message, str) for message in body["channel"])
    assert not Customer.objects.exists()


def test_create_in_one_channel_does_not_appear_in_another(api, channel, other_channel):
    response = api.post(list_url(other_channel), REQUIRED_ONLY, format="json")

    assert response.status_code == 201
    pk = response.json()["pk"]
    assert response.json()["channel"] == other_channel.pk
    assert api.get(detail_url(channel, pk)).status_code == 404
    assert api.get(detail_url(other_channel, pk)).status_code == 200


# --- retrieve -------------------------------------------------------------------------------


def test_retrieve_returns_200_with_the_stored_values(api, channel):
    customer = make_customer(channel, FULL)

    response = api.get(detail_url(channel, customer.pk))

    assert response.status_code == 200
    body = response.json()
    assert_matches_customer_schema(body)
    assert body["pk"] == customer.pk
    assert body["channel"] == channel.pk
    assert {name: body[name] for name in WRITABLE} == expected_api_values(FULL)
    assert_timestamps_match_row(body, customer.pk)


def test_retrieve_renders_null_optional_fields_as_null(api, channel):
    customer = make_customer(channel, REQUIRED_ONLY)

    response = api.get(detail_url(channel, customer.pk))

    assert response.status_code == 200
    body = response.json()
    assert_matches_customer_schema(body)
    assert {name: body[name] for name in OPTIONAL_DEFAULTS} == OPTIONAL_DEFAULTS


def test_retrieve_body_equals_the_create_response(api, channel):
    created = api.post(list_url(channel), FULL, format="json")

    fetched = api.get(detail_url(channel, created.json()["pk"]))

    assert fetched.status_code == 200
    assert fetched.json() == created.json()


def test_retrieve_customer_of_another_channel_is_404(api, channel, other_channel):
    customer = make_customer(other_channel, FULL)

    response = api.get(detail_url(channel, customer.pk))

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_retrieve_unknown_customer_is_404(api, channel):
    customer = make_customer(channel, FULL)

    response = api.get(detail_url(channel, customer.pk + 1000))

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


# --- PUT ------------------------------------------------------------------------------------


def test_put_replaces_every_writable_field_and_returns_200(api, channel):
    customer = make_customer(channel, FULL)
    created_date, modified_date = backdate(customer)

    response = api.put(detail_url(channel, customer.pk), FULL_OTHER, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert_matches_customer_schema(body)
    assert body["pk"] == customer.pk
    assert body["channel"] == channel.pk
    assert {name: body[name] for name in WRITABLE} == expected_api_values(FULL_OTHER)
    assert_row_holds(customer.pk, expected_db_values(FULL_OTHER))
    row = row_values(customer.pk)
    assert row["created_date"] == created_date
    assert row["modified_date"] > modified_date
    assert_timestamps_match_row(body, customer.pk)


def test_put_resets_omitted_optional_fields_to_their_defaults(api, channel):
    customer = make_customer(channel, FULL)

    response = api.put(detail_url(channel, customer.pk), REQUIRED_ONLY, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert_matches_customer_schema(body)
    assert {name: body[name] for name in WRITABLE} == {**OPTIONAL_DEFAULTS, **REQUIRED_ONLY}
    assert_row_holds(customer.pk, {**OPTIONAL_DEFAULTS, **REQUIRED_ONLY})


def test_put_ignores_created_date_modified_date_and_pk_in_the_body(api, channel):
    customer = make_customer(channel, FULL)
    other = make_customer(channel, {**REQUIRED_ONLY, "email": "x@example.com"})
    other_before = row_values(other.pk)
    created_date, modified_date = backdate(customer)
    payload = {
        **FULL_OTHER,
        "pk": other.pk,
        "created_date": "2001-01-01T00:00:00Z",
        "modified_date": "2001-01-01T00:00:00Z",
    }

    response = api.put(detail_url(channel, customer.pk), payload, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["pk"] == customer.pk
    row = row_values(customer.pk)
    assert row["created_date"] == created_date
    assert row["modified_date"] > modified_date
    assert_row_holds(customer.pk, expected_db_values(FULL_OTHER))
    assert row_values(other.pk) == other_before


def test_put_with_body_channel_of_another_channel_is_400_and_changes_nothing(
    api, channel, other_channel
):
    customer = make_customer(channel, FULL)
    before = row_values(customer.pk)

    response = api.put(
        detail_url(channel, customer.pk),
        {**FULL_OTHER, "channel": other_channel.pk},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"channel", "code"}
    assert response.json()["code"] == "invalid"
    assert row_values(customer.pk) == before


def test_put_customer_of_another_channel_is_404_and_changes_nothing(api, channel, other_channel):
    customer = make_customer(other_channel, FULL)
    before = row_values(customer.pk)

    response = api.put(detail_url(channel, customer.pk), FULL_OTHER, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert row_values(customer.pk) == before


# --- PATCH ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", WRITABLE)
def test_patch_of_one_field_writes_only_that_field_and_advances_modified_date(api, channel, field):
    customer = make_customer(channel, FULL)
    created_date, modified_date = backdate(customer)
    before = row_values(customer.pk)
    patch = {field: FULL_OTHER[field]}

    response = api.patch(detail_url(channel, customer.pk), patch, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert_matches_customer_schema(body)
    assert {name: body[name] for name in WRITABLE} == expected_api_values({**FULL, **patch})
    after = row_values(customer.pk)
    assert after[field] == expected_db_values(patch)[field]
    assert after["created_date"] == created_date
    assert after["modified_date"] > modified_date
    # Every column the API shows except the patched one (server bookkeeping may change).
    unchanged = {"id", "channel_id", "created_date", *WRITABLE} - {field}
    assert {name: after[name] for name in unchanged} == {name: before[name] for name in unchanged}
    assert_timestamps_match_row(body, customer.pk)


@pytest.mark.parametrize(
    "field", ["phone_number", "erp_code", "date_joined", "gender", "user_type", "date_of_birth"]
)
def test_patch_sets_a_nullable_field_to_null(api, channel, field):
    customer = make_customer(channel, FULL)

    response = api.patch(detail_url(channel, customer.pk), {field: None}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()[field] is None
    assert row_values(customer.pk)[field] is None


def test_patch_ignores_created_date_and_pk_in_the_body(api, channel):
    customer = make_customer(channel, FULL)
    other = make_customer(channel, {**REQUIRED_ONLY, "email": "x@example.com"})
    other_before = row_values(other.pk)
    created_date, _ = backdate(customer)

    response = api.patch(
        detail_url(channel, customer.pk),
        {"pk": other.pk, "created_date": "2001-01-01T00:00:00Z", "first_name": "Zeynep"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["pk"] == customer.pk
    row = row_values(customer.pk)
    assert row["created_date"] == created_date
    assert row["first_name"] == "Zeynep"
    assert row_values(other.pk) == other_before


@pytest.mark.parametrize("body_channel", ["url", None], ids=["same", "null"])
def test_patch_with_body_channel_same_or_null_keeps_url_channel(api, channel, body_channel):
    customer = make_customer(channel, FULL)
    value = channel.pk if body_channel == "url" else None

    response = api.patch(
        detail_url(channel, customer.pk), {"channel": value, "first_name": "Can"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["channel"] == channel.pk
    row = row_values(customer.pk)
    assert row["channel_id"] == channel.pk
    assert row["first_name"] == "Can"


def test_patch_with_body_channel_of_another_channel_is_400_and_changes_nothing(
    api, channel, other_channel
):
    customer = make_customer(channel, FULL)
    before = row_values(customer.pk)

    response = api.patch(
        detail_url(channel, customer.pk),
        {"channel": other_channel.pk, "first_name": "Can"},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"channel", "code"}
    assert response.json()["code"] == "invalid"
    assert row_values(customer.pk) == before


def test_patch_customer_of_another_channel_is_404_and_changes_nothing(api, channel, other_channel):
    customer = make_customer(other_channel, FULL)
    before = row_values(customer.pk)

    response = api.patch(detail_url(channel, customer.pk), {"first_name": "X"}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert row_values(customer.pk) == before


def test_patches_of_different_fields_in_turn_both_persist(make_client, channel):
    first, second = make_client(superuser=True), make_client(superuser=True)
    customer = make_customer(channel, FULL)

    assert first.patch(detail_url(channel, customer.pk), {"first_name": "Elif"}).status_code == 200
    assert second.patch(detail_url(channel, customer.pk), {"last_name": "Demir"}).status_code == 200

    row = row_values(customer.pk)
    assert (row["first_name"], row["last_name"]) == ("Elif", "Demir")


# --- DELETE ---------------------------------------------------------------------------------


def test_delete_returns_204_with_empty_body_and_removes_only_that_row(api, channel):
    customer = make_customer(channel, FULL)
    neighbour = make_customer(channel, {**REQUIRED_ONLY, "email": "n@example.com"})

    response = api.delete(detail_url(channel, customer.pk))

    assert response.status_code == 204
    assert response.content == b""
    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert Customer.objects.filter(pk=neighbour.pk).exists()
    assert api.get(detail_url(channel, customer.pk)).status_code == 404


def test_delete_of_an_already_deleted_customer_is_404(api, channel):
    customer = make_customer(channel, FULL)
    assert api.delete(detail_url(channel, customer.pk)).status_code == 204

    response = api.delete(detail_url(channel, customer.pk))

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_delete_customer_of_another_channel_is_404_and_keeps_it(api, channel, other_channel):
    customer = make_customer(other_channel, FULL)

    response = api.delete(detail_url(channel, customer.pk))

    assert response.status_code == 404
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_delete_customer_with_orders_is_400_protected_and_keeps_customer_and_orders(api, channel):
    customer = make_customer(channel, FULL)
    orders = OrderFactory.create_batch(2, customer=customer)
    before = row_values(customer.pk)

    response = api.delete(detail_url(channel, customer.pk))

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"non_field_errors", "code"}
    assert body["code"] == "protected"
    assert isinstance(body["non_field_errors"], list) and body["non_field_errors"]
    assert all(isinstance(message, str) for message in body["non_field_errors"])
    assert row_values(customer.pk) == before
    assert set(Order.objects.filter(customer=customer).values_list("pk", flat=True)) == {
        order.pk for order in orders
    }


def test_delete_customer_whose_orders_were_removed_succeeds(api, channel):
    customer = make_customer(channel, FULL)
    OrderFactory(customer=customer)
    assert api.delete(detail_url(channel, customer.pk)).status_code == 400
    Order.objects.filter(customer=customer).delete()

    response = api.delete(detail_url(channel, customer.pk))

    assert response.status_code == 204
    assert not Customer.objects.filter(pk=customer.pk).exists()


# --- uniqueness per channel -----------------------------------------------------------------


def assert_unique_error(response, fields: set[str]) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == fields | {"code"}
    assert body["code"] == "unique"
    for name in fields:
        assert isinstance(body[name], list) and body[name]
        assert all(isinstance(message, str) for message in body[name])


@pytest.mark.parametrize(
    ("stored", "sent"),
    [
        ("a@x.com", "a@x.com"),
        ("A@x.com", "a@x.com"),
        ("a@x.com", "A@X.COM"),
        ("Ayse.Yilmaz@Example.com", "ayse.yilmaz@example.COM"),
    ],
)
def test_create_with_email_taken_in_the_channel_in_any_case_is_400_unique(
    api, channel, stored, sent
):
    make_customer(channel, {**REQUIRED_ONLY, "email": stored, "channel_code": "OLD"})

    response = api.post(list_url(channel), {**REQUIRED_ONLY, "email": sent}, format="json")

    assert_unique_error(response, {"email"})
    assert list(Customer.objects.filter(channel=channel).values_list("email", flat=True)) == [
        stored
    ]


def test_create_with_channel_code_taken_in_the_channel_is_400_unique(api, channel):
    make_customer(channel, {**REQUIRED_ONLY, "email": "old@example.com"})

    response = api.post(list_url(channel), REQUIRED_ONLY, format="json")

    assert_unique_error(response, {"channel_code"})
    assert Customer.objects.filter(channel=channel).count() == 1


def test_create_with_email_and_channel_code_both_taken_reports_both(api, channel):
    make_customer(channel, REQUIRED_ONLY)

    response = api.post(list_url(channel), REQUIRED_ONLY, format="json")

    assert_unique_error(response, {"email", "channel_code"})
    assert Customer.objects.filter(channel=channel).count() == 1


def test_channel_code_differing_only_in_case_is_a_different_customer(api, channel):
    make_customer(channel, {**REQUIRED_ONLY, "email": "old@example.com", "channel_code": "abc"})

    response = api.post(list_url(channel), {**REQUIRED_ONLY, "channel_code": "ABC"}, format="json")

    assert response.status_code == 201, response.content
    assert sorted(
        Customer.objects.filter(channel=channel).values_list("channel_code", flat=True)
    ) == ["ABC", "abc"]


def test_same_email_and_channel_code_in_another_channel_is_allowed(api, channel, other_channel):
    make_customer(other_channel, REQUIRED_ONLY)

    response = api.post(list_url(channel), REQUIRED_ONLY, format="json")

    assert response.status_code == 201, response.content
    assert (
        Customer.objects.filter(
            email=REQUIRED_ONLY["email"], channel_code=REQUIRED_ONLY["channel_code"]
        ).count()
        == 2
    )


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_to_another_customers_email_in_other_case_is_400_unique(api, channel, method):
    make_customer(channel, {**REQUIRED_ONLY, "email": "Taken@Example.com", "channel_code": "T"})
    customer = make_customer(channel, FULL)
    before = row_values(customer.pk)
    payload = {"email": "taken@example.com"}
    if method == "put":
        payload = {**FULL, **payload}

    response = getattr(api, method)(detail_url(channel, customer.pk), payload, format="json")

    assert_unique_error(response, {"email"})
    assert row_values(customer.pk) == before


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_to_another_customers_channel_code_is_400_unique(api, channel, method):
    make_customer(channel, {**REQUIRED_ONLY, "email": "t@example.com", "channel_code": "TAKEN"})
    customer = make_customer(channel, FULL)
    before = row_values(customer.pk)
    payload = {"channel_code": "TAKEN"}
    if method == "put":
        payload = {**FULL, **payload}

    response = getattr(api, method)(detail_url(channel, customer.pk), payload, format="json")

    assert_unique_error(response, {"channel_code"})
    assert row_values(customer.pk) == before


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_keeping_own_email_and_channel_code_succeeds(api, channel, method):
    customer = make_customer(channel, FULL)
    payload = {"email": FULL["email"], "channel_code": FULL["channel_code"], "first_name": "New"}
    if method == "put":
        payload = {**FULL, **payload}

    response = getattr(api, method)(detail_url(channel, customer.pk), payload, format="json")

    assert response.status_code == 200, response.content
    assert_row_holds(customer.pk, {**expected_db_values(payload), "first_name": "New"})


def test_patch_changing_only_the_case_of_own_email_succeeds(api, channel):
    customer = make_customer(channel, FULL)
    new_email = FULL["email"].upper()

    response = api.patch(detail_url(channel, customer.pk), {"email": new_email}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["email"] == new_email
    assert row_values(customer.pk)["email"] == new_email


def test_update_to_an_email_used_only_in_another_channel_succeeds(api, channel, other_channel):
    make_customer(other_channel, {**REQUIRED_ONLY, "email": "shared@example.com"})
    customer = make_customer(channel, FULL)

    response = api.patch(
        detail_url(channel, customer.pk), {"email": "shared@example.com"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert row_values(customer.pk)["email"] == "shared@example.com"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"email": "dup@example.com"}, {"email": "DUP@example.com"}),
        ({"channel_code": "DUP"}, {"channel_code": "DUP"}),
    ],
    ids=["email-case-insensitive", "channel_code"],
)
def test_database_refuses_duplicates_in_a_channel_without_the_service(channel, first, second):
    original = {**REQUIRED_ONLY, "email": "one@example.com", "channel_code": "1"}
    make_customer(channel, original | first)
    duplicate = Customer(
        channel=channel,
        **({**REQUIRED_ONLY, "email": "two@example.com", "channel_code": "2"} | second),
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()

    assert Customer.objects.filter(channel=channel).count() == 1


@pytest.mark.parametrize(
    ("stored", "sent"),
    [("ali@ÇAĞLAR.com", "ali@çağlar.com"), ("veli@ÖZÜ.com.tr", "veli@özü.com.tr")],
)
def test_email_differing_only_in_case_of_a_non_ascii_letter_is_400_unique(
    api, channel, stored, sent
):
    assert stored.lower() == sent.lower()
    make_customer(channel, {**REQUIRED_ONLY, "email": stored, "channel_code": "OLD"})

    response = api.post(list_url(channel), {**REQUIRED_ONLY, "email": sent}, format="json")

    assert_unique_error(response, {"email"})
    assert Customer.objects.filter(channel=channel).count() == 1


@pytest.mark.parametrize("number", [0.1, 1.5e-300, -2.5, 1e18, -9.2e18, 9.2e18])
def test_json_float_inside_the_64_bit_range_round_trips_through_get(api, channel, number):
    created = api.post(
        list_url(channel), {**REQUIRED_ONLY, "attributes": {"n": number}}, format="json"
    )
    assert created.status_code == 201, created.content

    fetched = api.get(detail_url(channel, created.json()["pk"]))

    assert fetched.status_code == 200, fetched.content
    assert fetched.json()["attributes"] == {"n": number}
    assert row_values(created.json()["pk"])["attributes"] == {"n": number}


# --- property: any valid payload round-trips --------------------------------------------------

SAFE_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


def safe_text(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    return st.text(SAFE_CHARS, min_size=min_size, max_size=max_size)


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(INT64_MIN, INT64_MAX)
    # JSON fields refuse numbers outside (-2**63, 2**63) (see test_customer_validation.py).
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-9.2e18, max_value=9.2e18)
    | safe_text(20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(safe_text(8), children, max_size=3)
    ),
    max_leaves=8,
)
JSON_OBJECTS = st.dictionaries(safe_text(8), JSON_VALUES, max_size=3)


@st.composite
def valid_payloads(draw) -> dict[str, Any]:
    def optional(strategy):
        return draw(st.none() | strategy)

    date_joined = optional(st.datetimes(timezones=st.just(UTC)))
    date_of_birth = optional(st.dates())
    return {
        "email": draw(st.emails().filter(lambda email: len(email) <= 254)),
        "channel_code": draw(safe_text(64, min_size=1).filter(str.strip)),
        "first_name": draw(safe_text(255)),
        "last_name": draw(safe_text(255)),
        "phone_number": optional(safe_text(128)),
        "erp_code": optional(safe_text(64)),
        "is_active": draw(st.booleans()),
        "email_allowed": draw(st.booleans()),
        "sms_allowed": draw(st.booleans()),
        "call_allowed": draw(st.booleans()),
        "gender": optional(st.sampled_from(PROPERTIES["gender"]["enum"])),
        "user_type": optional(st.sampled_from(PROPERTIES["user_type"]["enum"])),
        "date_joined": None if date_joined is None else date_joined.isoformat(),
        "date_of_birth": None if date_of_birth is None else date_of_birth.isoformat(),
        **{name: draw(JSON_OBJECTS) for name in JSON_FIELDS},
    }


def stripped(payload: dict[str, Any]) -> dict[str, Any]:
    """DRF trims surrounding whitespace from text fields (its CharField default)."""
    text_fields = ("channel_code", "first_name", "last_name", "phone_number", "erp_code")
    return {
        name: value.strip() if name in text_fields and isinstance(value, str) else value
        for name, value in payload.items()
    }


def exact_numbers(value: Any) -> Any:
    """Numbers as exact decimals, so equal JSON numbers compare equal whatever their spelling:
    PostgreSQL's jsonb hands 1.4411518807584523e+17 back as 144115188075845230, the same number."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: exact_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [exact_numbers(item) for item in value]
    return value


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=valid_payloads())
def test_any_valid_payload_creates_201_and_round_trips_through_get(api, payload):
    channel = ChannelFactory()  # a fresh channel per example: examples share one database
    expected = stripped(payload)

    created = api.post(list_url(channel), payload, format="json")

    assert created.status_code == 201, created.content
    body = created.json()
    assert_matches_customer_schema(body)
    assert exact_numbers({name: body[name] for name in WRITABLE}) == exact_numbers(
        expected_api_values(expected)
    )
    fetched = api.get(detail_url(channel, body["pk"]))
    assert fetched.status_code == 200, fetched.content
    assert exact_numbers(fetched.json()) == exact_numbers(body)
    row = row_values(body["pk"])
    expected_row = expected_db_values(expected)
    assert exact_numbers({name: row[name] for name in expected_row}) == exact_numbers(expected_row)
