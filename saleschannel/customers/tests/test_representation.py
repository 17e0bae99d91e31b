"""The read path's fast representation equals the reference serializer, field for field."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saleschannel.channels.tests.factories import ChannelFactory
from saleschannel.core.model_fields import load_json
from saleschannel.core.renderers import dumps
from saleschannel.customers.models import Customer, Gender, UserType
from saleschannel.customers.representation import customer_representation, customer_values
from saleschannel.customers.serializers import CustomerSerializer

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
json_scalars = (
    st.none()
    | st.booleans()
    # Integers past 64 bits and extreme floats take load_json's json.loads fallback.
    | st.integers(-(2**53), 2**53)
    | st.integers()
    | st.floats(-1e15, 1e15, allow_nan=False)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_objects = st.dictionaries(
    text.filter(bool),
    st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=5),
    max_size=3,
)
aware_datetimes = st.datetimes(
    min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first_name=text.map(lambda value: value[:255]),
    phone_number=st.none() | text.map(lambda value: value[:128]),
    erp_code=st.none() | text.map(lambda value: value[:64]),
    attributes=json_objects,
    extra_field=json_objects,
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()),
    date_joined=st.none() | aware_datetimes,
    date_of_birth=st.none() | st.dates(min_value=dt.date(1900, 1, 1)),
    gender=st.none() | st.sampled_from(Gender.values),
    user_type=st.none() | st.sampled_from(UserType.values),
)
def test_fast_representation_equals_the_serializer(
    first_name,
    phone_number,
    erp_code,
    attributes,
    extra_field,
    flags,
    date_joined,
    date_of_birth,
    gender,
    user_type,
):
    channel = ChannelFactory()
    customer = Customer.objects.create(
        channel=channel,
        email="person@example.com",
        channel_code="CODE",
        first_name=first_name,
        phone_number=phone_number,
        erp_code=erp_code,
        attributes=attributes,
        extra_field=extra_field,
        is_active=flags[0],
        email_allowed=flags[1],
        sms_allowed=flags[2],
        call_allowed=flags[3],
        date_joined=date_joined,
        date_of_birth=date_of_birth,
        gender=gender,
        user_type=user_type,
    )
    stored = Customer.objects.get(pk=customer.pk)
    row = customer_values(Customer.objects.filter(pk=customer.pk)).get()

    fast = customer_representation(row)
    reference = CustomerSerializer(stored).data

    assert fast == dict(reference)
    assert list(fast) == list(reference)
    assert dumps(fast) == dumps(reference)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "b": [1.5, null, true, "x"]}',
        '{"big": 1000000000000000000000000000000000000000000000}',
        '{"i64": 9223372036854775807, "u64": 18446744073709551615, "neg": -9223372036854775809}',
        '{"tiny": 1e-7, "huge": 1.7976931348623157e308, "exp": 2E+5}',
        '{"nan": NaN}',  # SQLite holds what json.dumps wrote
        '{"s": "\\ud800"}',  # a lone surrogate escape: orjson refuses it
        '"caf\\u00e9 \\u2603"',
        "[]",
        "null",
    ],
)
def test_load_json_decodes_as_json_loads(text):
    expected = json.loads(text)
    decoded = load_json(text)
    assert json.dumps(decoded) == json.dumps(expected)
    assert type(decoded) is type(expected)


@given(json_objects)
@settings(max_examples=200)
def test_load_json_equals_json_loads_on_any_document(document):
    text = json.dumps(document)
    assert json.dumps(load_json(text)) == json.dumps(json.loads(text))
