"""Customer list filters (DESIGN.md "Filters"): each filter's matches, ANDing, and its 400s."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from saleschannel.customers.models import Customer
from saleschannel.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def list_url(channel) -> str:
    return f"/api/v1/channel/{channel.pk}/customers/"


def make_customers(channel, specs: dict[str, dict]) -> dict[str, Customer]:
    return {label: CustomerFactory(channel=channel, **attrs) for label, attrs in specs.items()}


def returned_labels(api, channel, params: dict, customers: dict[str, Customer]) -> set[str]:
    response = api.get(list_url(channel), {**params, "limit": 1000})
    assert response.status_code == 200, response.content
    by_pk = {customer.pk: label for label, customer in customers.items()}
    returned = [row["pk"] for row in response.json()]
    assert len(returned) == len(set(returned))
    assert set(returned) <= set(by_pk), "a customer outside the test's channel was returned"
    assert response["X-Total-Count"] == str(len(returned))
    return {by_pk[pk] for pk in returned}


def assert_field_error(response, name: str, code: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {name, "code"}
    assert body["code"] == code
    assert isinstance(body[name], list) and body[name]
    assert all(isinstance(message, str) and message for message in body[name])


# --- text filters -------------------------------------------------------------------------

TEXT_CASES = [
    pytest.param(
        {"hit": {"email": "Ann.Lee@Example.com"}, "miss": {"email": "ann.leex@example.com"}},
        {"email": "Ann.Lee@Example.com"},
        {"hit"},
        id="email-exact",
    ),
    pytest.param(
        {"other": {"email": "Ann.Lee@Example.com"}},
        {"email": "ann.lee@example.com"},
        set(),
        id="email-is-case-sensitive",
    ),
    pytest.param(
        {"hit": {"email": "ann@example.com"}, "miss": {"email": "ann@example.co"}},
        {"email": "ann@example.com"},
        {"hit"},
        id="email-not-a-prefix-match",
    ),
    pytest.param(
        {"hit": {"email": "Abcdef@example.com"}, "miss": {"email": "abcdef2@example.com"}},
        {"email__startswith": "Abc"},
        {"hit"},
        id="email-startswith-case-sensitive-upper",
    ),
    pytest.param(
        {"miss": {"email": "Abcdef@example.com"}, "hit": {"email": "abcdef2@example.com"}},
        {"email__startswith": "abc"},
        {"hit"},
        id="email-startswith-case-sensitive-lower",
    ),
    pytest.param(
        {"hit": {"email": "a_c@example.com"}, "miss": {"email": "abc@example.com"}},
        {"email__startswith": "a_"},
        {"hit"},
        id="email-startswith-underscore-literal",
    ),
    pytest.param(
        {"hit": {"email": "a%c@example.com"}, "miss": {"email": "abc@example.com"}},
        {"email__startswith": "a%"},
        {"hit"},
        id="email-startswith-percent-literal",
    ),
    pytest.param(
        {"hit": {"email": "zed@example.com"}, "miss": {"email": "xzed@example.com"}},
        {"email__startswith": "zed"},
        {"hit"},
        id="email-startswith-only-at-start",
    ),
    pytest.param(
        {"hit": {"channel_code": "MP-100"}, "miss": {"channel_code": "MP-1000"}},
        {"channel_code": "MP-100"},
        {"hit"},
        id="channel_code-exact",
    ),
    pytest.param(
        {"hit": {"channel_code": "mp-7"}, "miss": {"channel_code": "MP-7"}},
        {"channel_code": "mp-7"},
        {"hit"},
        id="channel_code-case-sensitive",
    ),
    pytest.param(
        {"hit": {"phone_number": "+905551112233"}, "miss": {"phone_number": "905551112233"}},
        {"phone_number": "+905551112233"},
        {"hit"},
        id="phone_number-exact",
    ),
    pytest.param(
        {
            "hit": {"first_name": "Ali"},
            "miss": {"first_name": "Alice"},
            "low": {"first_name": "ali"},
        },
        {"first_name": "Ali"},
        {"hit"},
        id="first_name-exact",
    ),
    pytest.param(
        {
            "hit": {"last_name": "Şahin"},
            "miss": {"last_name": "şahin"},
            "x": {"last_name": "Sahin"},
        },
        {"last_name": "Şahin"},
        {"hit"},
        id="last_name-exact-non-ascii",
    ),
    pytest.param(
        {"hit": {"erp_code": "ERP-ABC-01"}, "miss": {"erp_code": "ERP-XYZ-01"}, "none": {}},
        {"erp_code": "abc"},
        {"hit"},
        id="erp_code-substring-case-insensitive",
    ),
    pytest.param(
        {"hit": {"erp_code": "erp-abc-01"}, "miss": {"erp_code": "ERP-AB-01"}},
        {"erp_code": "P-ABC-0"},
        {"hit"},
        id="erp_code-upper-param-lower-value",
    ),
    pytest.param(
        {"hit": {"erp_code": "ŞEKER-1"}, "miss": {"erp_code": "SEKER-1"}},
        {"erp_code": "şeker"},
        {"hit"},
        id="erp_code-non-ascii-lower-param",
    ),
    pytest.param(
        {"hit": {"erp_code": "şeker-1"}, "miss": {"erp_code": "seker-1"}},
        {"erp_code": "ŞEK"},
        {"hit"},
        id="erp_code-non-ascii-upper-param",
    ),
    pytest.param(
        {"hit": {"erp_code": "ÇİĞ-ÖĞÜ"}, "miss": {"erp_code": "CIG-OGU"}},
        {"erp_code": "öğü"},
        {"hit"},
        id="erp_code-non-ascii-turkish-letters",
    ),
    pytest.param(
        {"hit": {"erp_code": "A%B"}, "miss": {"erp_code": "AXXB"}, "m2": {"erp_code": "AB"}},
        {"erp_code": "a%b"},
        {"hit"},
        id="erp_code-percent-literal",
    ),
    pytest.param(
        {"hit": {"erp_code": "A_B"}, "miss": {"erp_code": "AXB"}},
        {"erp_code": "a_b"},
        {"hit"},
        id="erp_code-underscore-literal",
    ),
    pytest.param(
        {"hit": {"erp_code": "x\\y"}, "miss": {"erp_code": "xy"}},
        {"erp_code": "X\\Y"},
        {"hit"},
        id="erp_code-backslash-literal",
    ),
    pytest.param(
        {"a": {"first_name": "Ada"}, "b": {"first_name": "Bob"}},
        {"first_name": ""},
        {"a", "b"},
        id="empty-value-is-no-filter",
    ),
]


@pytest.mark.parametrize(("specs", "params", "expected"), TEXT_CASES)
def test_text_filter_returns_exactly_the_matching_customers(
    api, channel, other_channel, specs, params, expected
):
    customers = make_customers(channel, specs)
    # The same data in another channel is never returned.
    make_customers(other_channel, specs)
    assert returned_labels(api, channel, params, customers) == expected


ERP_ALPHABET = "aAbBşŞçÇöÖüÜğĞıI%_\\-1"


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    codes=st.lists(st.text(ERP_ALPHABET, min_size=1, max_size=6), min_size=1, max_size=5),
    needle=st.text(ERP_ALPHABET, min_size=1, max_size=3),
)
def test_erp_code_filter_is_unicode_case_insensitive_substring(api, channel, codes, needle):
    Customer.objects.filter(channel=channel).delete()
    customers = make_customers(channel, {str(i): {"erp_code": c} for i, c in enumerate(codes)})
    expected = {str(i) for i, code in enumerate(codes) if needle.upper() in code.upper()}
    assert returned_labels(api, channel, {"erp_code": needle}, customers) == expected


def test_channel_filter_with_url_channel_returns_all_and_other_id_returns_none(
    api, channel, other_channel
):
    customers = make_customers(channel, {"a": {}, "b": {}})
    make_customers(other_channel, {"c": {}})
    assert returned_labels(api, channel, {"channel": channel.pk}, customers) == {"a", "b"}
    assert returned_labels(api, channel, {"channel": other_channel.pk}, customers) == set()
    assert returned_labels(api, channel, {"channel": 2**63 - 1}, customers) == set()


@pytest.mark.parametrize(
    ("value", "code"),
    [("abc", "invalid"), ("1.0", "invalid"), ("1,2", "invalid"), (str(2**63), "max_value")],
)
def test_channel_filter_bad_value_is_400(api, channel, value, code):
    assert_field_error(api.get(list_url(channel), {"channel": value}), "channel", code)


# --- pk__in ---------------------------------------------------------------------------------


def test_pk_in_returns_exactly_the_listed_customers_of_the_channel(api, channel, other_channel):
    customers = make_customers(channel, {"a": {}, "b": {}, "c": {}})
    foreign = CustomerFactory(channel=other_channel)
    params = {"pk__in": f"{customers['a'].pk},{customers['c'].pk},{foreign.pk},{2**63 - 1}"}
    assert returned_labels(api, channel, params, customers) == {"a", "c"}


def test_pk_in_accepts_spaces_around_values(api, channel):
    customers = make_customers(channel, {"a": {}, "b": {}, "c": {}})
    params = {"pk__in": f" {customers['b'].pk} ,  {customers['c'].pk} "}
    assert returned_labels(api, channel, params, customers) == {"b", "c"}


def test_pk_in_with_a_single_value(api, channel):
    customers = make_customers(channel, {"a": {}, "b": {}})
    params = {"pk__in": str(customers["b"].pk)}
    assert returned_labels(api, channel, params, customers) == {"b"}


def test_pk_in_accepts_1000_values(api, channel):
    customers = make_customers(channel, {"a": {}, "b": {}})
    values = [customers["a"].pk, *range(10**9, 10**9 + 999)]
    params = {"pk__in": ",".join(map(str, values))}
    assert returned_labels(api, channel, params, customers) == {"a"}


@pytest.mark.parametrize(
    ("value", "code"),
    [
        pytest.param(str(2**63), "max_value", id="past-int64"),
        pytest.param(f"1,{-(2**63) - 1}", "max_value", id="below-int64"),
        pytest.param(",".join(str(n) for n in range(1, 1002)), "max_length", id="1001-values"),
        pytest.param("1,abc", "invalid", id="non-integer"),
        pytest.param("1.5", "invalid", id="decimal"),
        pytest.param("1,,2", "invalid", id="empty-item"),
    ],
)
def test_pk_in_bad_value_is_400_naming_pk_in(api, channel, value, code):
    CustomerFactory(channel=channel)
    assert_field_error(api.get(list_url(channel), {"pk__in": value}), "pk__in", code)


# --- dates and times ------------------------------------------------------------------------

DOB = {"early": dt.date(1990, 5, 4), "mid": dt.date(1990, 5, 5), "late": dt.date(1990, 5, 6)}


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        ("date_of_birth", "1990-05-05", {"mid"}),
        ("date_of_birth__gt", "1990-05-05", {"late"}),
        ("date_of_birth__gte", "1990-05-05", {"mid", "late"}),
        ("date_of_birth__lt", "1990-05-05", {"early"}),
        ("date_of_birth__lte", "1990-05-05", {"early", "mid"}),
        ("date_of_birth", "2000-01-01", set()),
    ],
)
def test_date_of_birth_filters(api, channel, param, value, expected):
    customers = make_customers(
        channel, {**{k: {"date_of_birth": v} for k, v in DOB.items()}, "unset": {}}
    )
    assert returned_labels(api, channel, {param: value}, customers) == expected


JOINED = {
    "early": dt.datetime(2023, 1, 1, 9, 0, 0, tzinfo=UTC),
    "mid": dt.datetime(2023, 1, 1, 12, 0, 0, 500000, tzinfo=UTC),
    "late": dt.datetime(2023, 1, 2, 0, 0, 0, tzinfo=UTC),
}


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        ("date_joined", "2023-01-01T12:00:00.500000Z", {"mid"}),
        ("date_joined", "2023-01-01T15:00:00.500000+03:00", {"mid"}),
        ("date_joined", "2023-01-01T12:00:00Z", set()),
        ("date_joined__gt", "2023-01-01T12:00:00.500000Z", {"late"}),
        ("date_joined__gte", "2023-01-01T12:00:00.500000Z", {"mid", "late"}),
        ("date_joined__lt", "2023-01-01T12:00:00.500000Z", {"early"}),
        ("date_joined__lte", "2023-01-01T12:00:00.500000Z", {"early", "mid"}),
        ("date_joined__gte", "2023-01-02T03:00:00+03:00", {"late"}),
        ("date_joined__lt", "2023-01-01T09:00:00Z", set()),
    ],
)
def test_date_joined_filters(api, channel, param, value, expected):
    customers = make_customers(
        channel, {**{k: {"date_joined": v} for k, v in JOINED.items()}, "unset": {}}
    )
    assert returned_labels(api, channel, {param: value}, customers) == expected


# Boundary instants around the UTC day 2024-03-10.
STAMPS = {
    "prev_end": dt.datetime(2024, 3, 9, 23, 59, 59, 999999, tzinfo=UTC),
    "start": dt.datetime(2024, 3, 10, 0, 0, 0, tzinfo=UTC),
    "end": dt.datetime(2024, 3, 10, 23, 59, 59, 999999, tzinfo=UTC),
    "next_start": dt.datetime(2024, 3, 11, 0, 0, 0, tzinfo=UTC),
}


def make_stamped(channel, field: str) -> dict[str, Customer]:
    customers = make_customers(channel, {label: {} for label in STAMPS})
    for label, stamp in STAMPS.items():
        Customer.objects.filter(pk=customers[label].pk).update(**{field: stamp})
    return customers


@pytest.mark.parametrize("field", ["created_date", "modified_date"])
@pytest.mark.parametrize(
    ("suffix", "value", "expected"),
    [
        ("", "2024-03-10T00:00:00Z", {"start"}),
        ("", "2024-03-10T23:59:59.999999Z", {"end"}),
        ("", "2024-03-11T02:00:00+02:00", {"next_start"}),
        ("", "2024-03-10T00:00:00.000001Z", set()),
        ("__gt", "2024-03-10T00:00:00Z", {"end", "next_start"}),
        ("__gte", "2024-03-10T00:00:00Z", {"start", "end", "next_start"}),
        ("__lt", "2024-03-10T23:59:59.999999Z", {"prev_end", "start"}),
        ("__lte", "2024-03-10T23:59:59.999999Z", {"prev_end", "start", "end"}),
        ("__date", "2024-03-10", {"start", "end"}),
        ("__date", "2024-03-09", {"prev_end"}),
        ("__date", "2024-03-12", set()),
        ("__date__gt", "2024-03-10", {"next_start"}),
        ("__date__gte", "2024-03-10", {"start", "end", "next_start"}),
        ("__date__lt", "2024-03-10", {"prev_end"}),
        ("__date__lte", "2024-03-10", {"prev_end", "start", "end"}),
        ("__date__gt", "2024-03-09", {"start", "end", "next_start"}),
        ("__date__lte", "2024-03-09", {"prev_end"}),
    ],
)
def test_timestamp_filters_use_utc_days_and_exact_instants(
    api, channel, field, suffix, value, expected
):
    customers = make_stamped(channel, field)
    assert returned_labels(api, channel, {f"{field}{suffix}": value}, customers) == expected


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("created_date", "yesterday"),
        ("created_date__gt", "2024-13-01T00:00:00Z"),
        ("modified_date__lte", "2024-02-30T00:00:00Z"),
        ("created_date__date", "2024-02-30"),
        ("modified_date__date__gte", "not-a-date"),
        ("date_joined__lt", "2024-01-01T25:00:00Z"),
        ("date_of_birth", "1990-02-30"),
        ("date_of_birth__gte", "1990-05-05x"),
    ],
)
def test_bad_date_value_is_400_naming_the_parameter(api, channel, param, value):
    assert_field_error(api.get(list_url(channel), {param: value}), param, "invalid")


@pytest.mark.parametrize(
    "param", ["created_date__date", "created_date__date__gt", "date_of_birth__lte"]
)
@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01"])
def test_extreme_dates_are_never_a_server_error(api, channel, param, value):
    CustomerFactory(channel=channel, date_of_birth=dt.date(1990, 1, 1))
    response = api.get(list_url(channel), {param: value})
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert "code" in response.json()


@pytest.mark.parametrize("param", ["created_date", "date_joined__gt", "modified_date__lte"])
@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_datetime_out_of_utc_range_is_400_not_500(api, channel, param, value):
    assert_field_error(api.get(list_url(channel), {param: value}), param, "overflow")


# --- booleans and enums -------------------------------------------------------------------

BOOLEAN_FIELDS = ["email_allowed", "sms_allowed", "call_allowed", "is_active"]


@pytest.mark.parametrize("field", BOOLEAN_FIELDS)
@pytest.mark.parametrize(
    ("value", "wanted"),
    [("true", True), ("True", True), ("1", True), ("false", False), ("False", False), ("0", False)],
)
def test_boolean_filter_accepts_its_spellings(api, channel, field, value, wanted):
    customers = make_customers(channel, {"yes": {field: True}, "no": {field: False}})
    expected = {"yes"} if wanted else {"no"}
    assert returned_labels(api, channel, {field: value}, customers) == expected


@pytest.mark.parametrize("field", BOOLEAN_FIELDS)
@pytest.mark.parametrize("value", ["yes", "2", "tru", "null"])
def test_boolean_filter_bad_value_is_400(api, channel, field, value):
    assert_field_error(api.get(list_url(channel), {field: value}), field, "invalid")


@pytest.mark.parametrize(
    ("field", "value", "other"),
    [
        ("gender", "female", "male"),
        ("gender", "male", "female"),
        ("user_type", "guest", "registered"),
        ("user_type", "registered", "guest"),
    ],
)
def test_enum_filter_returns_exactly_that_value(api, channel, field, value, other):
    customers = make_customers(channel, {"hit": {field: value}, "miss": {field: other}, "null": {}})
    assert returned_labels(api, channel, {field: value}, customers) == {"hit"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("gender", "other"), ("gender", "Female"), ("user_type", "admin"), ("user_type", "GUEST")],
)
def test_enum_filter_bad_value_is_400_invalid_choice(api, channel, field, value):
    response = api.get(list_url(channel), {field: value})
    assert_field_error(response, field, "invalid_choice")
    assert response.json()[field] == [
        f"Select a valid choice. {value} is not one of the available choices."
    ]


# --- JSON key filters -----------------------------------------------------------------------

JSON_CASES = [
    pytest.param(
        {"hit": {"color": "red"}, "miss": {"color": "blue"}, "other_key": {"colour": "red"}},
        "color",
        "red",
        {"hit"},
        id="string",
    ),
    pytest.param(
        {"hit": {"color": "red"}, "upper": {"color": "Red"}},
        "color",
        "red",
        {"hit"},
        id="string-case-sensitive",
    ),
    pytest.param(
        {
            "num": {"size": 100},
            "text": {"size": "100"},
            "big": {"size": 1000},
            "bigs": {"size": "1000"},
        },
        "size",
        "100",
        {"num", "text"},
        id="number-matches-its-text",
    ),
    pytest.param(
        {"num": {"size": 1000}, "small": {"size": 100}},
        "size",
        "1000",
        {"num"},
        id="100-does-not-match-1000",
    ),
    pytest.param(
        {"num": {"score": 1.5}, "other": {"score": 15}},
        "score",
        "1.5",
        {"num"},
        id="float",
    ),
    pytest.param(
        {
            "bool": {"vip": True},
            "text": {"vip": "true"},
            "false": {"vip": False},
            "one": {"vip": 1},
        },
        "vip",
        "true",
        {"bool", "text"},
        id="boolean-true",
    ),
    pytest.param(
        {"bool": {"vip": False}, "true": {"vip": True}, "zero": {"vip": 0}},
        "vip",
        "false",
        {"bool"},
        id="boolean-false",
    ),
    pytest.param(
        {"hit": {"a": {"b": 5}}, "miss": {"a": {"b": 6}}, "flat": {"a": 5}, "flatkey": {"b": 5}},
        "a__b",
        "5",
        {"hit"},
        id="nested-path",
    ),
    pytest.param(
        {"deep": {"a": {"b": {"c": "x"}}}, "shallow": {"a": {"b": "x"}}},
        "a__b__c",
        "x",
        {"deep"},
        id="three-level-path",
    ),
    pytest.param(
        {"a": {"color": "red"}, "b": {}},
        "missing",
        "red",
        set(),
        id="missing-key-matches-nothing",
    ),
    pytest.param(
        {"null": {"k": None}, "text": {"k": "none"}},
        "k",
        "null",
        set(),
        id="json-null-matches-nothing",
    ),
    pytest.param(
        {"hit": {"name": "Şule"}, "miss": {"name": "şule"}},
        "name",
        "Şule",
        {"hit"},
        id="non-ascii-string",
    ),
    pytest.param(
        {"hit": {"k": "a%"}, "miss": {"k": "abc"}},
        "k",
        "a%",
        {"hit"},
        id="percent-literal",
    ),
    pytest.param(
        {"list": {"k": [1, 2]}, "num": {"k": 1}},
        "k",
        "1",
        {"num"},
        id="array-does-not-match-element",
    ),
]


@pytest.mark.parametrize("field", ["attributes", "extra_field"])
@pytest.mark.parametrize(("values", "path", "param_value", "expected"), JSON_CASES)
def test_json_key_filter_compares_value_as_text(
    api, channel, field, values, path, param_value, expected
):
    customers = make_customers(channel, {label: {field: v} for label, v in values.items()})
    params = {f"{field}__{path}": param_value}
    assert returned_labels(api, channel, params, customers) == expected


@pytest.mark.parametrize("key", ["a.b", "a b", "[0]", "$", "a'b", "*", "0", "ölçü", "ş", "a\\b"])
def test_json_key_filter_matches_keys_of_any_text(api, channel, key):
    customers = make_customers(
        channel,
        {
            "top": {"attributes": {key: "x"}, "extra_field": {"a": {key: 1}}},
            "other": {"attributes": {"k": "x"}, "extra_field": {"a": {"k": 1}}},
        },
    )
    assert returned_labels(api, channel, {f"attributes__{key}": "x"}, customers) == {"top"}
    assert returned_labels(api, channel, {f"extra_field__a__{key}": "1"}, customers) == {"top"}


@pytest.mark.parametrize(
    ("value", "param", "matches"),
    [
        pytest.param(0.30000000000000004, "0.30000000000000004", True, id="17-digit-float"),
        pytest.param(10**20, "100000000000000000000", True, id="int-past-int64"),
        pytest.param(2**53 + 1, str(2**53 + 1), True, id="int64-past-float-precision"),
        pytest.param(-7, "-7", True, id="negative-int"),
        pytest.param([1, 2], "[1,2]", False, id="array"),
        pytest.param({"x": 1}, '{"x":1}', False, id="object"),
    ],
)
def test_json_key_filter_value_text_is_the_same_on_both_databases(
    api, channel, value, param, matches
):
    customers = make_customers(channel, {"hit": {"attributes": {"k": value}}})
    expected = {"hit"} if matches else set()
    assert returned_labels(api, channel, {"attributes__k": param}, customers) == expected


def test_json_key_filter_does_not_look_into_the_other_json_field(api, channel):
    customers = make_customers(
        channel, {"attr": {"attributes": {"k": "v"}}, "extra": {"extra_field": {"k": "v"}}}
    )
    assert returned_labels(api, channel, {"attributes__k": "v"}, customers) == {"attr"}
    assert returned_labels(api, channel, {"extra_field__k": "v"}, customers) == {"extra"}


def test_two_json_key_filters_are_anded(api, channel):
    customers = make_customers(
        channel,
        {
            "both": {"attributes": {"color": "red", "size": 1}},
            "color": {"attributes": {"color": "red", "size": 2}},
            "size": {"attributes": {"color": "blue", "size": 1}},
        },
    )
    params = {"attributes__color": "red", "attributes__size": "1"}
    assert returned_labels(api, channel, params, customers) == {"both"}


@pytest.mark.parametrize(
    "param", ["attributes__", "attributes__a____b", 'attributes__a"b', "extra_field__x__"]
)
def test_json_key_filter_with_bad_key_path_is_400(api, channel, param):
    assert_field_error(api.get(list_url(channel), {param: "x"}), param, "invalid")


def test_json_key_filter_with_nul_in_value_is_400(api, channel):
    response = api.get(list_url(channel), {"attributes__k": "a\x00b"})
    assert_field_error(response, "attributes__k", "invalid")


# --- combination and unknown parameters ---------------------------------------------------


def test_filters_of_different_kinds_are_anded(api, channel):
    base = {"email_allowed": True, "gender": "female", "attributes": {"tier": "gold"}}
    customers = make_customers(
        channel,
        {
            "all": {**base, "erp_code": "ERP-Ş-1", "date_of_birth": dt.date(1990, 1, 1)},
            "no_email_ok": {**base, "email_allowed": False, "erp_code": "ERP-Ş-2"},
            "male": {**base, "gender": "male", "erp_code": "ERP-Ş-3"},
            "silver": {**base, "attributes": {"tier": "silver"}, "erp_code": "ERP-Ş-4"},
            "other_erp": {**base, "erp_code": "OTHER"},
            "too_young": {**base, "erp_code": "ERP-Ş-5", "date_of_birth": dt.date(2001, 1, 1)},
        },
    )
    params = {
        "email_allowed": "true",
        "gender": "female",
        "attributes__tier": "gold",
        "erp_code": "erp-ş",
        "date_of_birth__lt": "2000-01-01",
    }
    assert returned_labels(api, channel, params, customers) == {"all"}
    # Dropping one filter widens the result by exactly the customers it excluded.
    params.pop("date_of_birth__lt")
    assert returned_labels(api, channel, params, customers) == {"all", "too_young"}
    params.pop("gender")
    assert returned_labels(api, channel, params, customers) == {"all", "too_young", "male"}


def test_unknown_parameters_are_ignored(api, channel):
    customers = make_customers(channel, {"a": {}, "b": {}})
    params = {"foo": "bar", "ordering": "-pk", "search": "x", "email__contains": "zzz"}
    assert returned_labels(api, channel, params, customers) == {"a", "b"}


def test_several_bad_parameters_are_all_named(api, channel):
    response = api.get(list_url(channel), {"gender": "x", "is_active": "maybe"})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"gender", "is_active", "code"}
    assert body["code"] in {"invalid", "invalid_choice"}
