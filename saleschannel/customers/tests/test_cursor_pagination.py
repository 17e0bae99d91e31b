"""`cursor` pages by keyset: every row exactly once, in the requested order, at any depth."""

from __future__ import annotations

import datetime as dt

import pytest

from saleschannel.customers.models import Customer
from saleschannel.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def url(channel) -> str:
    return f"/api/v1/channel/{channel.pk}/customers/"


def walk(api, first_url: str, params: dict) -> tuple[list[int], list]:
    pks, responses = [], []
    response = api.get(first_url, params)
    while True:
        assert response.status_code == 200, response.content
        responses.append(response)
        pks.extend(row["pk"] for row in response.json())
        link = response.get("Link")
        if not link:
            return pks, responses
        assert 'rel="prev"' not in link
        next_url = link.split(">")[0].lstrip("<")
        assert "cursor=" in next_url
        assert "page=" not in next_url
        response = api.get(next_url)


def expected(queryset, ordering: list) -> list[int]:
    return list(queryset.order_by(*ordering).values_list("pk", flat=True))


@pytest.fixture
def customers(channel):
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    made = []
    for index in range(23):
        made.append(
            CustomerFactory(
                channel=channel,
                first_name=["Ann", "Bob", "Cem"][index % 3],
                email=f"user{index % 7:02d}.{index}@example.com",
                date_joined=None if index % 4 == 0 else base + dt.timedelta(days=index % 5),
            )
        )
    return made


@pytest.mark.parametrize(
    ("sort", "ordering"),
    [
        (None, ["pk"]),
        ("pk", ["pk"]),
        ("-pk", ["-pk"]),
        ("first_name", ["first_name", "pk"]),
        ("-first_name", ["-first_name", "-pk"]),
        ("email", ["email", "pk"]),
        ("-created_date", ["-created_date", "-pk"]),
    ],
)
@pytest.mark.parametrize("limit", [1, 4, 10])
def test_cursor_walk_returns_every_row_once_in_order(
    api, channel, customers, sort, ordering, limit
):
    params = {"cursor": "", "limit": limit}
    if sort:
        params["sort"] = sort

    pks, responses = walk(api, url(channel), params)

    assert pks == expected(Customer.objects.filter(channel=channel), ordering)
    assert all(len(r.json()) <= limit for r in responses)
    assert all(r["X-Total-Count"] == "23" for r in responses)


@pytest.mark.parametrize("sort", ["date_joined", "-date_joined"])
def test_cursor_walk_over_a_column_with_nulls(api, channel, customers, sort):
    pks, _ = walk(api, url(channel), {"cursor": "", "limit": 3, "sort": sort})

    joined = {c.pk: c.date_joined for c in customers}
    assert sorted(pks) == sorted(joined)
    assert len(pks) == len(set(pks))
    nulls = [pk for pk in pks if joined[pk] is None]
    values = [joined[pk] for pk in pks if joined[pk] is not None]
    if sort == "date_joined":
        assert pks[-len(nulls) :] == sorted(nulls)  # NULLs last, by pk
        assert values == sorted(values)
    else:
        assert pks[: len(nulls)] == sorted(nulls, reverse=True)  # NULLs first, by -pk
        assert values == sorted(values, reverse=True)


def test_cursor_walk_honours_filters(api, channel, customers, other_channel):
    CustomerFactory(channel=other_channel, first_name="Ann")

    pks, _ = walk(api, url(channel), {"cursor": "", "limit": 2, "first_name": "Ann"})

    assert pks == expected(Customer.objects.filter(channel=channel, first_name="Ann"), ["pk"])


def test_cursor_pages_and_page_pages_agree(api, channel, customers):
    by_cursor, _ = walk(api, url(channel), {"cursor": "", "limit": 5, "sort": "-first_name"})
    by_page = []
    for page in range(1, 6):
        by_page.extend(
            row["pk"]
            for row in api.get(
                url(channel), {"page": page, "limit": 5, "sort": "-first_name"}
            ).json()
        )
    assert by_cursor == by_page


def test_detailed_list_supports_the_cursor(api, channel, customers):
    pks, _ = walk(api, url(channel) + "detailed/", {"cursor": "", "limit": 6})

    assert pks == expected(Customer.objects.filter(channel=channel), ["pk"])


@pytest.mark.parametrize(
    "cursor", ["%%%", "bm90LWpzb24", "WzEsMl0", "WyJ4Il0", "Wzk5OTk5OTk5OTk5OTk5OTk5OTk5XQ"]
)
def test_a_forged_cursor_is_a_400_naming_it(api, channel, customers, cursor):
    response = api.get(url(channel), {"cursor": cursor})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body) == ["cursor", "code"]


def test_cursor_condition_on_not_null_columns_has_no_null_branch(channel):
    """`OR id IS NULL` would stop PostgreSQL reading the pk index as a range (a deep page
    would then scan from the start); NULL branches belong to nullable columns only."""
    from saleschannel.core.pagination import _after

    by_pk = Customer.objects.filter(_after([("pk", False)], [5], set()))
    by_joined = Customer.objects.filter(
        _after(
            [("date_joined", False), ("pk", False)],
            [dt.datetime(2024, 1, 1, tzinfo=dt.UTC), 5],
            {"date_joined"},
        )
    )

    assert "IS NULL" not in str(by_pk.query)
    assert '"date_joined" IS NULL' in str(by_joined.query)
    assert '"id" IS NULL' not in str(by_joined.query)
