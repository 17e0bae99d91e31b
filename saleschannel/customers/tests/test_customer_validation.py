"""Every validation rule of a customer write: each failing value gives 400 with the field's list
of messages and the DRF error `code`, on create, PUT and PATCH, and leaves the database as it
was; boundary values and nulls that the spec allows are accepted."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest

from saleschannel.customers.models import Customer
from saleschannel.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

REQUIRED = ("email", "channel_code", "is_active", "email_allowed", "sms_allowed", "call_allowed")
BOOLEANS = ("is_active", "email_allowed", "sms_allowed", "call_allowed")
JSON_FIELDS = (
    "attributes",
    "attribute_kwargs",
    "localized_attributes",
    "localized_attribute_kwargs",
    "extra_field",
)
VALID = {
    "email": "valid@example.com",
    "channel_code": "VALID-1",
    "is_active": True,
    "email_allowed": False,
    "sms_allowed": True,
    "call_allowed": False,
}
STORED = {
    **VALID,
    "email": "stored@example.com",
    "channel_code": "STORED-1",
    "first_name": "Deniz",
    "last_name": "Aydın",
    "phone_number": "+90 555 000 11 22",
    "erp_code": "ERP-1",
    "gender": "male",
    "user_type": "registered",
    "date_of_birth": date(1985, 5, 17),
    "date_joined": datetime(2020, 3, 4, 5, 6, 7, tzinfo=UTC),
    **{name: {"kept": name} for name in JSON_FIELDS},
}
LONG_DOMAIN = ".".join(["d" * 63] * 3) + ".com"  # 195 characters, every label valid


def deeply_nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


def case(field: str, value: Any, code: str, label: str):
    return pytest.param(field, value, code, id=f"{field}-{label}")


FIELD_RULES = [
    # email: required, a valid address, not blank, not null, at most 254 characters
    case("email", "not-an-email", "invalid", "no-at"),
    case("email", "user@", "invalid", "no-domain"),
    case("email", "@example.com", "invalid", "no-local-part"),
    case("email", "a b@example.com", "invalid", "space"),
    case("email", "", "blank", "empty"),
    case("email", "   ", "blank", "whitespace-only"),
    case("email", None, "null", "null"),
    case("email", ["a@example.com"], "invalid", "list"),
    case("email", "x" * 60 + "@" + LONG_DOMAIN, "max_length", "255-chars"),
    case("email", "a\x00b@example.com", "null_characters_not_allowed", "nul"),
    # channel_code: not blank, at most 64
    case("channel_code", "", "blank", "empty"),
    case("channel_code", "  \t ", "blank", "whitespace-only"),
    case("channel_code", None, "null", "null"),
    case("channel_code", "C" * 65, "max_length", "65-chars"),
    case("channel_code", "A\x00B", "null_characters_not_allowed", "nul"),
    case("channel_code", {"code": "x"}, "invalid", "object"),
    # first_name / last_name: strings of at most 255, not null
    case("first_name", "F" * 256, "max_length", "256-chars"),
    case("first_name", None, "null", "null"),
    case("first_name", "Al\x00i", "null_characters_not_allowed", "nul"),
    case("first_name", ["Ali"], "invalid", "list"),
    case("first_name", True, "invalid", "boolean"),
    case("last_name", "L" * 256, "max_length", "256-chars"),
    case("last_name", None, "null", "null"),
    case("last_name", "Y\x00", "null_characters_not_allowed", "nul"),
    case("last_name", {"a": 1}, "invalid", "object"),
    # phone_number: at most 128 (nullable)
    case("phone_number", "5" * 129, "max_length", "129-chars"),
    case("phone_number", "555\x00", "null_characters_not_allowed", "nul"),
    case("phone_number", ["555"], "invalid", "list"),
    # erp_code: at most 64 (nullable)
    case("erp_code", "E" * 65, "max_length", "65-chars"),
    case("erp_code", "E\x00", "null_characters_not_allowed", "nul"),
    case("erp_code", ["E"], "invalid", "list"),
    # gender / user_type: the spec's enums, case-sensitive (null allowed)
    case("gender", "other", "invalid_choice", "unknown"),
    case("gender", "MALE", "invalid_choice", "upper-case"),
    case("gender", "male\x00", "invalid_choice", "nul"),
    case("gender", 1, "invalid_choice", "number"),
    case("gender", "", "invalid_choice", "empty"),
    case("user_type", "admin", "invalid_choice", "unknown"),
    case("user_type", "Guest", "invalid_choice", "capitalised"),
    case("user_type", ["guest"], "invalid_choice", "list"),
    case("user_type", "", "invalid_choice", "empty"),
    # date_of_birth: an ISO 8601 date that exists
    case("date_of_birth", "2021-02-30", "invalid", "impossible-date"),
    case("date_of_birth", "2021-13-01", "invalid", "month-13"),
    case("date_of_birth", "30.01.2000", "invalid", "dotted-format"),
    case("date_of_birth", "01/30/2000", "invalid", "us-format"),
    case("date_of_birth", "0000-01-01", "invalid", "year-zero"),
    case("date_of_birth", "2000-01-01T00:00:00Z", "invalid", "datetime"),
    case("date_of_birth", 20000101, "invalid", "number"),
    case("date_of_birth", "", "invalid", "empty"),
    # date_joined: an ISO 8601 datetime that exists and fits after conversion to UTC
    case("date_joined", "yesterday", "invalid", "not-a-datetime"),
    case("date_joined", "2021-02-30T10:00:00Z", "invalid", "impossible-date"),
    case("date_joined", "2021-01-01T25:00:00Z", "invalid", "hour-25"),
    case("date_joined", "01/01/2021 10:00", "invalid", "us-format"),
    case("date_joined", 1609459200, "invalid", "unix-timestamp"),
    case("date_joined", "", "invalid", "empty"),
    case("date_joined", "9999-12-31T23:59:59-05:00", "overflow", "past-year-9999-in-utc"),
    case("date_joined", "0001-01-01T00:00:00+01:00", "overflow", "before-year-1-in-utc"),
    # booleans: JSON booleans (DRF also takes "true"/"false"/1/0), never anything else
    *[case(name, "maybe", "invalid", "word") for name in BOOLEANS],
    *[case(name, 2, "invalid", "number-2") for name in BOOLEANS],
    *[case(name, [True], "invalid", "list") for name in BOOLEANS],
    *[case(name, {"value": True}, "invalid", "object") for name in BOOLEANS],
    *[case(name, None, "null", "null") for name in BOOLEANS],
    # JSON fields: JSON objects only; null refused; no NUL anywhere; bounded depth
    *[case(name, [], "not_an_object", "empty-list") for name in JSON_FIELDS],
    *[case(name, [{"a": 1}], "not_an_object", "list") for name in JSON_FIELDS],
    *[case(name, "text", "not_an_object", "string") for name in JSON_FIELDS],
    *[case(name, '{"a": 1}', "not_an_object", "json-text") for name in JSON_FIELDS],
    *[case(name, 42, "not_an_object", "integer") for name in JSON_FIELDS],
    *[case(name, 1.5, "not_an_object", "float") for name in JSON_FIELDS],
    *[case(name, True, "not_an_object", "boolean") for name in JSON_FIELDS],
    *[case(name, None, "null", "null") for name in JSON_FIELDS],
    *[case(name, {"k": "a\x00b"}, "unstorable", "nul-in-value") for name in JSON_FIELDS],
    *[case(name, {"k\x00": 1}, "unstorable", "nul-in-key") for name in JSON_FIELDS],
    case("attributes", {"a": [{"b": ["\x00"]}]}, "unstorable", "nul-deep-in-list"),
    case("extra_field", deeply_nested(33), "unstorable", "33-levels"),
    case("attributes", {"n": 1e20}, "unstorable", "float-past-2**63"),
    case("localized_attributes", {"n": [-9.3e18]}, "unstorable", "float-below-minus-2**63"),
    case("extra_field", {"n": 2.0**63}, "unstorable", "float-equal-2**63"),
    # channel: an integer equal to the URL's channel (or null / omitted)
    case("channel", "abc", "invalid", "not-an-integer"),
    case("channel", 1.5, "invalid", "fraction"),
    case("channel", -1, "invalid", "another-id"),
]


def customers_url(channel) -> str:
    return f"/api/v1/channel/{channel.pk}/customers/"


def customer_url(channel, pk: int) -> str:
    return f"/api/v1/channel/{channel.pk}/customers/{pk}/"


def row_values(pk: int) -> dict[str, Any]:
    row = Customer.objects.get(pk=pk)
    return {field.attname: getattr(row, field.attname) for field in Customer._meta.concrete_fields}


def assert_field_error(response, field: str, code: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {field, "code"}, body
    assert body["code"] == code, body
    assert isinstance(body[field], list) and body[field], body
    assert all(isinstance(message, str) and message for message in body[field]), body


@pytest.fixture
def stored(channel) -> Customer:
    return CustomerFactory(channel=channel, **copy.deepcopy(STORED))


def send(api, method: str, channel, stored: Customer, body: Any):
    if method == "post":
        return api.post(customers_url(channel), body, format="json")
    return getattr(api, method)(customer_url(channel, stored.pk), body, format="json")


def full_body(field: str, value: Any, method: str) -> dict[str, Any]:
    """A body valid except for one field: all of VALID for create/PUT, the field alone for PATCH."""
    return {field: value} if method == "patch" else {**VALID, field: value}


@pytest.mark.parametrize("method", ["post", "put", "patch"])
@pytest.mark.parametrize(("field", "value", "code"), FIELD_RULES)
def test_invalid_field_value_is_400_with_field_messages_and_code_and_writes_nothing(
    api, channel, stored, method, field, value, code
):
    before = row_values(stored.pk)

    response = send(api, method, channel, stored, full_body(field, value, method))

    assert_field_error(response, field, code)
    assert list(Customer.objects.values_list("pk", flat=True)) == [stored.pk]
    assert row_values(stored.pk) == before


@pytest.mark.parametrize("method", ["post", "put"])
@pytest.mark.parametrize("missing", REQUIRED)
def test_missing_required_field_is_400_required(api, channel, stored, method, missing):
    before = row_values(stored.pk)
    body = {name: value for name, value in VALID.items() if name != missing}

    response = send(api, method, channel, stored, body)

    assert_field_error(response, missing, "required")
    assert response.json()[missing] == ["This field is required."]
    assert list(Customer.objects.values_list("pk", flat=True)) == [stored.pk]
    assert row_values(stored.pk) == before


@pytest.mark.parametrize("method", ["post", "put"])
def test_empty_object_reports_every_required_field(api, channel, stored, method):
    response = send(api, method, channel, stored, {})

    assert response.status_code == 400
    assert response.json() == {
        **{name: ["This field is required."] for name in REQUIRED},
        "code": "required",
    }


def test_patch_with_empty_object_is_200_and_changes_no_field(api, channel, stored):
    before = row_values(stored.pk)

    response = api.patch(customer_url(channel, stored.pk), {}, format="json")

    assert response.status_code == 200, response.content
    after = row_values(stored.pk)
    client_columns = {"id", "channel_id", "created_date", *STORED}
    assert {name: after[name] for name in client_columns} == {
        name: before[name] for name in client_columns
    }


@pytest.mark.parametrize("method", ["post", "put", "patch"])
@pytest.mark.parametrize(
    ("raw", "type_name"),
    [
        (b"[]", "list"),
        (b'[{"email": "a@example.com"}]', "list"),
        (b'"text"', "str"),
        (b"42", "int"),
        (b"true", "bool"),
    ],
    ids=["empty-list", "list-of-objects", "string", "number", "boolean"],
)
def test_body_that_is_not_a_json_object_is_400_non_field_error(
    api, channel, stored, method, raw, type_name
):
    before = row_values(stored.pk)
    url = customers_url(channel) if method == "post" else customer_url(channel, stored.pk)

    response = getattr(api, method)(url, raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": [f"Invalid data. Expected a dictionary, but got {type_name}."],
        "code": "invalid",
    }
    assert list(Customer.objects.values_list("pk", flat=True)) == [stored.pk]
    assert row_values(stored.pk) == before


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_json_null_body_is_400_no_data_provided(api, channel, stored, method):
    before = row_values(stored.pk)
    url = customers_url(channel) if method == "post" else customer_url(channel, stored.pk)

    response = getattr(api, method)(url, b"null", content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["No data provided"], "code": "null"}
    assert row_values(stored.pk) == before


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_integer_past_64_bits_inside_a_json_field_is_400_parse_error(api, channel, stored, method):
    before = row_values(stored.pk)

    response = send(api, method, channel, stored, full_body("attributes", {"n": 2**63}, method))

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "parse_error"
    assert row_values(stored.pk) == before


# --- values the rules allow -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "x" * 58 + "@" + LONG_DOMAIN),  # 254 characters
        ("channel_code", "C" * 64),
        ("first_name", "F" * 255),
        ("last_name", "Ş" * 255),
        ("phone_number", "5" * 128),
        ("erp_code", "E" * 64),
    ],
    ids=["email-254", "channel_code-64", "first_name-255", "last_name-255", "phone-128", "erp-64"],
)
def test_text_at_its_maximum_length_is_accepted_and_stored(api, channel, field, value):
    assert len(value) in {254, 255, 128, 64}

    response = api.post(customers_url(channel), {**VALID, field: value}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()[field] == value
    assert row_values(response.json()["pk"])[field] == value


@pytest.mark.parametrize(
    "field",
    ["phone_number", "erp_code", "gender", "user_type", "date_of_birth", "date_joined", "channel"],
)
def test_nullable_field_accepts_null_on_create(api, channel, field):
    response = api.post(customers_url(channel), {**VALID, field: None}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    if field == "channel":
        assert body["channel"] == channel.pk
        assert row_values(body["pk"])["channel_id"] == channel.pk
    else:
        assert body[field] is None
        assert row_values(body["pk"])[field] is None


@pytest.mark.parametrize("field", BOOLEANS)
@pytest.mark.parametrize("value", [True, False])
def test_boolean_field_stores_the_json_boolean_sent(api, channel, field, value):
    response = api.post(customers_url(channel), {**VALID, field: value}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()[field] is value
    assert row_values(response.json()["pk"])[field] is value


@pytest.mark.parametrize(
    "text",
    [
        "2021-06-01T12:30:45Z",
        "2021-06-01T12:30:45+03:00",
        "2021-06-01T12:30:45.250-04:30",
        "2021-06-01T12:30:45.123456+00:00",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
    ],
)
def test_date_joined_with_an_offset_is_stored_as_that_instant_and_rendered_in_utc(
    api, channel, text
):
    instant = datetime.fromisoformat(text)

    response = api.post(customers_url(channel), {**VALID, "date_joined": text}, format="json")

    assert response.status_code == 201, response.content
    rendered = response.json()["date_joined"]
    assert rendered.endswith("Z")
    assert datetime.fromisoformat(rendered) == instant
    assert row_values(response.json()["pk"])["date_joined"] == instant


def test_date_joined_without_offset_is_read_in_utc(api, channel):
    response = api.post(
        customers_url(channel), {**VALID, "date_joined": "2021-06-01T12:30:45"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["date_joined"] == "2021-06-01T12:30:45Z"
    assert row_values(response.json()["pk"])["date_joined"] == datetime(
        2021, 6, 1, 12, 30, 45, tzinfo=UTC
    )


@pytest.mark.parametrize("text", ["2024-02-29", "0001-01-01", "9999-12-31"])
def test_date_of_birth_that_exists_is_accepted_and_stored(api, channel, text):
    response = api.post(customers_url(channel), {**VALID, "date_of_birth": text}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["date_of_birth"] == text
    assert row_values(response.json()["pk"])["date_of_birth"] == date.fromisoformat(text)


@pytest.mark.parametrize("field", JSON_FIELDS)
def test_json_field_keeps_a_nested_object_as_sent(api, channel, field):
    value = {"s": "ü", "n": -(2**63), "f": 0.125, "b": False, "z": None, "l": [1, {"x": []}]}

    response = api.post(customers_url(channel), {**VALID, field: value}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()[field] == value
    assert row_values(response.json()["pk"])[field] == value
    assert api.get(customer_url(channel, response.json()["pk"])).json()[field] == value


def test_unknown_fields_in_the_body_are_ignored(api, channel):
    response = api.post(
        customers_url(channel), {**VALID, "nickname": "x", "orders_info": {}}, format="json"
    )

    assert response.status_code == 201, response.content
    assert "nickname" not in response.json()
    assert "orders_info" not in response.json()


def test_surrounding_whitespace_of_text_fields_is_trimmed(api, channel):
    response = api.post(
        customers_url(channel),
        {**VALID, "email": "  trim@example.com ", "channel_code": " C-1\t", "first_name": " Ali "},
        format="json",
    )

    assert response.status_code == 201, response.content
    row = row_values(response.json()["pk"])
    assert (row["email"], row["channel_code"], row["first_name"]) == (
        "trim@example.com",
        "C-1",
        "Ali",
    )
