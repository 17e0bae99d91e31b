"""List sorting (DESIGN.md "Lists"): `sort=<field>`/`-<field>`, ties broken by pk, stable paging."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from saleschannel.customers.models import Customer
from saleschannel.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

SORTABLE = [
    "pk",
    "email",
    "first_name",
    "last_name",
    "date_joined",
    "created_date",
    "modified_date",
]
BASE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
COUNT = 11


def path(channel, endpoint: str = "customers/") -> str:
    return f"/api/v1/channel/{channel.pk}/{endpoint}"


def value_for(field: str, i: int):
    """Value number `i` of `field`: only 3 distinct values (many ties), except unique `email`."""
    tie = (i * 7) % 3  # not monotonic in i, so value order differs from insertion (pk) order
    if field == "email":
        return f"e{(i * 7) % COUNT:03d}@example.com"
    if field in ("first_name", "last_name"):
        return ["bravo", "alpha", "charlie"][tie]
    return BASE + dt.timedelta(days=tie, microseconds=tie)


def make_sorted_data(channel, field: str) -> dict[int, object]:
    """COUNT customers of `channel`; returns pk -> that customer's value of `field`."""
    values: dict[int, object] = {}
    for i in range(COUNT):
        attrs = {}
        if field in ("email", "first_name", "last_name", "date_joined"):
            attrs[field] = value_for(field, i)
        customer = CustomerFactory(channel=channel, **attrs)
        if field in ("created_date", "modified_date"):
            Customer.objects.filter(pk=customer.pk).update(**{field: value_for(field, i)})
        values[customer.pk] = customer.pk if field == "pk" else value_for(field, i)
    return values


def expected_order(values: dict[int, object], descending: bool) -> list[int]:
    """By (value, pk): `sort=-f` is the exact reverse of `sort=f` (the pk tie-break follows the
    sort's direction, so one index scan serves both, see filters.SortFilter)."""
    return sorted(values, key=lambda pk: (values[pk], pk), reverse=descending)


def collect(api, channel, params: dict, limit: int, endpoint: str = "customers/") -> list[int]:
    collected: list[int] = []
    page = 1
    while True:
        response = api.get(path(channel, endpoint), {**params, "limit": limit, "page": page})
        assert response.status_code == 200, response.content
        collected.extend(row["pk"] for row in response.json())
        if 'rel="next"' not in response.headers.get("Link", ""):
            return collected
        page += 1


@pytest.mark.parametrize("endpoint", ["customers/", "customers/detailed/"])
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("field", SORTABLE)
def test_sort_pages_concatenate_to_the_total_order(
    api, channel, other_channel, field, descending, endpoint
):
    values = make_sorted_data(channel, field)
    make_sorted_data(other_channel, field)
    sort = f"-{field}" if descending else field
    expected = expected_order(values, descending)
    if field != "pk" or descending:
        assert expected != sorted(values)  # the data really exercises the sort
    collected = collect(api, channel, {"sort": sort}, limit=2, endpoint=endpoint)
    assert collected == expected
    assert len(set(collected)) == len(collected) == COUNT
    # One big page agrees with the paged walk.
    whole = api.get(path(channel, endpoint), {"sort": sort, "limit": 1000})
    assert [row["pk"] for row in whole.json()] == expected


def test_sort_by_pk_descending_is_reverse_pk(api, channel):
    pks = sorted(make_sorted_data(channel, "first_name"))
    assert collect(api, channel, {"sort": "-pk"}, limit=3) == pks[::-1]


def test_default_order_is_ascending_pk(api, channel):
    customers = [CustomerFactory(channel=channel) for _ in range(7)]
    random.Random(1).shuffle(customers)
    # Make every other sortable field disagree with pk order.
    for rank, customer in enumerate(customers):
        Customer.objects.filter(pk=customer.pk).update(
            first_name=f"n{rank:02d}",
            email=f"m{rank:02d}@example.com",
            created_date=BASE - dt.timedelta(days=rank),
        )
    expected = sorted(c.pk for c in customers)
    assert collect(api, channel, {}, limit=2) == expected
    assert collect(api, channel, {"sort": ""}, limit=2) == expected


def test_sort_combines_with_filters(api, channel):
    values = make_sorted_data(channel, "first_name")
    keep = [pk for pk in values if values[pk] != "alpha"]
    collected = collect(
        api, channel, {"sort": "-first_name", "pk__in": ",".join(map(str, keep))}, 2
    )
    assert collected == expected_order({pk: values[pk] for pk in keep}, descending=True)


def test_sort_with_null_values_still_pages_without_repeats_or_skips(api, channel):
    joined = [None, BASE, None, BASE, BASE + dt.timedelta(days=1), None, BASE]
    pks = [CustomerFactory(channel=channel, date_joined=value).pk for value in joined]
    for sort in ("date_joined", "-date_joined"):
        whole = api.get(path(channel), {"sort": sort, "limit": 1000}).json()
        order = [row["pk"] for row in whole]
        assert collect(api, channel, {"sort": sort}, limit=2) == order
        assert sorted(order) == sorted(pks)
        # Non-null values: by value then pk, wherever the database puts nulls.
        by_pk = dict(zip(pks, joined, strict=True))
        non_null = [pk for pk in order if by_pk[pk] is not None]
        assert non_null == expected_order(
            {pk: by_pk[pk] for pk in non_null}, descending=sort.startswith("-")
        )
        # Nulls come as one block (all first or all last), tied, so ordered by pk.
        nulls = [pk for pk in order if by_pk[pk] is None]
        assert order in (nulls + non_null, non_null + nulls)
        assert nulls == sorted(nulls, reverse=sort.startswith("-"))


@pytest.mark.parametrize(
    "sort", ["password", "channel_code", "-erp_code", "attributes", "--pk", "first_name,-", "id"]
)
def test_unknown_sort_field_is_400_naming_sort(api, channel, sort):
    CustomerFactory(channel=channel)
    response = api.get(path(channel), {"sort": sort})
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"sort", "code"}
    assert body["code"] == "invalid_choice"
    assert isinstance(body["sort"], list) and body["sort"]


@pytest.mark.parametrize("endpoint", ["customers/", "customers/detailed/"])
def test_unknown_sort_field_is_400_on_both_lists(api, channel, endpoint):
    response = api.get(path(channel, endpoint), {"sort": "nope"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_choice"
    assert "sort" in response.json()


NAMES = st.sampled_from(["ann", "bob", "cem", "dan", "ece"])


@hypothesis_settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    names=st.lists(NAMES, min_size=0, max_size=12),
    limit=st.integers(1, 5),
    field=st.sampled_from(["first_name", "last_name"]),
    descending=st.booleans(),
)
def test_any_name_data_pages_in_total_order(api, channel, names, limit, field, descending):
    Customer.objects.filter(channel=channel).delete()
    values = {CustomerFactory(channel=channel, **{field: name}).pk: name for name in names}
    sort = f"-{field}" if descending else field
    assert collect(api, channel, {"sort": sort}, limit) == expected_order(values, descending)


@pytest.mark.parametrize("field", ["first_name", "last_name", "date_joined"])
def test_all_equal_values_page_in_pk_order(api, channel, field):
    value = BASE if field == "date_joined" else "same"
    pks = [CustomerFactory(channel=channel, **{field: value}).pk for _ in range(7)]
    assert collect(api, channel, {"sort": field}, limit=2) == sorted(pks)
    assert collect(api, channel, {"sort": f"-{field}"}, limit=2) == sorted(pks, reverse=True)
