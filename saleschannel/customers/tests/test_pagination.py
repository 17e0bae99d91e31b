"""List pagination (DESIGN.md "Lists"): page/limit, Link, X-Total-Count, envelope, count cap."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from saleschannel.core.pagination import DEFERRED_JOIN_OFFSET
from saleschannel.customers.models import Customer
from saleschannel.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ENDPOINTS = ["customers/", "customers/detailed/"]
LINK_RE = re.compile(r'<([^>]*)>; rel="([^"]+)"')


def path(channel, endpoint: str = "customers/") -> str:
    return f"/api/v1/channel/{channel.pk}/{endpoint}"


def absolute(channel, endpoint: str, params: dict) -> str:
    """The URL the service must put in a Link: its query parameters sorted (DRF's style)."""
    query = urlencode(sorted((k, str(v)) for k, v in params.items()))
    url = f"http://testserver{path(channel, endpoint)}"
    return f"{url}?{query}" if query else url


def links(response) -> dict[str, str]:
    header = response.headers.get("Link")
    if header is None:
        return {}
    found = {rel: url for url, rel in LINK_RE.findall(header)}
    assert ", ".join(f'<{url}>; rel="{rel}"' for rel, url in found.items()) == header
    return found


def make_many(channel, count: int) -> list[int]:
    """`count` customers of `channel`, returned as their pks in ascending order."""
    Customer.objects.bulk_create(
        CustomerFactory.build(channel=channel, email=f"p{channel.pk}-{i}@example.com")
        for i in range(count)
    )
    return list(
        Customer.objects.filter(channel=channel).order_by("pk").values_list("pk", flat=True)
    )


def page_pks(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["pk"] for row in response.json()]


def assert_field_error(response, name: str, code: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {name, "code"}
    assert body["code"] == code
    assert isinstance(body[name], list) and len(body[name]) == 1
    assert isinstance(body[name][0], str) and body[name][0]


@pytest.fixture
def pks(channel, other_channel) -> list[int]:
    make_many(other_channel, 4)  # never seen through `channel`
    return make_many(channel, 25)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_first_page_has_default_limit_10_and_only_a_next_link(api, channel, pks, endpoint):
    response = api.get(path(channel, endpoint))
    assert page_pks(response) == pks[:10]
    assert response["X-Total-Count"] == "25"
    assert "X-Total-Count-Estimate" not in response.headers
    assert links(response) == {"next": absolute(channel, endpoint, {"page": 2})}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_middle_page_has_next_and_prev_links(api, channel, pks, endpoint):
    response = api.get(path(channel, endpoint), {"page": 2})
    assert page_pks(response) == pks[10:20]
    assert response["X-Total-Count"] == "25"
    # Page 1's link drops `page` altogether.
    assert links(response) == {
        "next": absolute(channel, endpoint, {"page": 3}),
        "prev": absolute(channel, endpoint, {}),
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_last_page_has_the_rest_and_no_next_link(api, channel, pks, endpoint):
    response = api.get(path(channel, endpoint), {"page": 3})
    assert page_pks(response) == pks[20:]
    assert response["X-Total-Count"] == "25"
    assert links(response) == {"prev": absolute(channel, endpoint, {"page": 2})}


def test_exactly_full_last_page_has_no_next_link(api, channel):
    pks = make_many(channel, 20)
    response = api.get(path(channel), {"page": 2})
    assert page_pks(response) == pks[10:]
    assert response["X-Total-Count"] == "20"
    assert links(response) == {"prev": absolute(channel, "customers/", {})}


def test_single_page_result_has_no_link_header(api, channel):
    pks = make_many(channel, 3)
    response = api.get(path(channel))
    assert page_pks(response) == pks
    assert response["X-Total-Count"] == "3"
    assert "Link" not in response.headers


def test_links_keep_every_other_query_parameter(api, channel):
    pks = make_many(channel, 12)
    Customer.objects.filter(pk__in=pks[:9]).update(first_name="Same")
    params = {"first_name": "Same", "limit": 3, "page": 2, "foo": "bar baz", "sort": "-pk"}
    response = api.get(path(channel), params)
    assert page_pks(response) == sorted(pks[:9], reverse=True)[3:6]
    assert response["X-Total-Count"] == "9"
    assert links(response) == {
        "next": absolute(channel, "customers/", {**params, "page": 3}),
        "prev": absolute(channel, "customers/", {k: v for k, v in params.items() if k != "page"}),
    }


def test_link_urls_fetch_the_neighbouring_pages(api, channel):
    pks = make_many(channel, 9)
    response = api.get(path(channel), {"limit": 3, "page": 2})
    found = links(response)
    assert page_pks(api.get(found["next"])) == pks[6:9]
    assert page_pks(api.get(found["prev"])) == pks[0:3]


def test_x_total_count_counts_the_filtered_result(api, channel):
    pks = make_many(channel, 15)
    Customer.objects.filter(pk__in=pks[::2]).update(is_active=False)
    response = api.get(path(channel), {"is_active": "false", "limit": 3})
    assert page_pks(response) == pks[::2][:3]
    assert response["X-Total-Count"] == str(len(pks[::2]))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("page", [4, 5, 1000])
def test_page_past_the_last_is_404_invalid_page(api, channel, pks, endpoint, page):
    response = api.get(path(channel, endpoint), {"page": page})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page.", "code": "not_found"}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_page_one_of_an_empty_result_is_200_empty_list(api, channel, other_channel, endpoint):
    make_many(other_channel, 3)
    response = api.get(path(channel, endpoint))
    assert response.status_code == 200
    assert response.json() == []
    assert response["X-Total-Count"] == "0"
    assert "Link" not in response.headers


def test_page_two_of_an_empty_result_is_404(api, channel):
    response = api.get(path(channel), {"page": 2})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page.", "code": "not_found"}


def test_page_one_of_an_empty_filtered_result_is_200_empty_list(api, channel, pks):
    response = api.get(path(channel), {"email": "nobody@example.com"})
    assert response.status_code == 200
    assert response.json() == []
    assert response["X-Total-Count"] == "0"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("limit", "code"),
    [
        ("0", "min_value"),
        ("-1", "min_value"),
        ("abc", "invalid"),
        ("1.5", "invalid"),
        ("1001", "max_value"),
        (str(10**30), "max_value"),
    ],
)
def test_bad_limit_is_400_naming_limit(api, channel, endpoint, limit, code):
    assert_field_error(api.get(path(channel, endpoint), {"limit": limit}), "limit", code)


@pytest.mark.parametrize(
    ("page", "code"),
    [("0", "min_value"), ("-3", "min_value"), ("abc", "invalid"), ("2.0", "invalid")],
)
def test_bad_page_is_400_naming_page(api, channel, page, code):
    make_many(channel, 3)
    assert_field_error(api.get(path(channel), {"page": page}), "page", code)


@pytest.mark.parametrize("page", [str(10**30), str(2**63), str(2**63 // 10), str(10**18)])
@pytest.mark.parametrize("limit", ["1", "1000"])
def test_huge_page_is_404_never_500(api, channel, page, limit):
    make_many(channel, 3)
    response = api.get(path(channel), {"page": page, "limit": limit})
    assert response.status_code == 404, response.content
    assert response.json() == {"detail": "Invalid page.", "code": "not_found"}


def test_limit_1000_returns_1000_rows_and_a_next_link(api, channel):
    pks = make_many(channel, 1001)
    response = api.get(path(channel), {"limit": 1000})
    assert page_pks(response) == pks[:1000]
    assert response["X-Total-Count"] == "1001"
    assert links(response) == {"next": absolute(channel, "customers/", {"limit": 1000, "page": 2})}
    last = api.get(path(channel), {"limit": 1000, "page": 2})
    assert page_pks(last) == pks[1000:]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("page", "has_prev", "has_next"), [(1, False, True), (2, True, True), (3, True, False)]
)
def test_envelope_mode_wraps_the_same_page(
    api, channel, pks, settings, endpoint, page, has_prev, has_next
):
    bare = api.get(path(channel, endpoint), {"page": page, "limit": 10})
    settings.LIST_ENVELOPE = True
    response = api.get(path(channel, endpoint), {"page": page, "limit": 10})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["count", "next", "previous", "results"]
    assert body["results"] == bare.json()
    assert body["count"] == 25
    expected_links = links(bare)
    assert body["next"] == expected_links.get("next")
    assert body["previous"] == expected_links.get("prev")
    assert (body["next"] is not None) is has_next
    assert (body["previous"] is not None) is has_prev
    assert response["X-Total-Count"] == "25"


def test_envelope_mode_empty_result(api, channel, settings):
    settings.LIST_ENVELOPE = True
    response = api.get(path(channel))
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_envelope_mode_page_past_the_last_is_still_404(api, channel, settings):
    settings.LIST_ENVELOPE = True
    make_many(channel, 2)
    response = api.get(path(channel), {"page": 2})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page.", "code": "not_found"}


def follow_all_pages(api, first_url: str, params: dict) -> tuple[list[int], int]:
    collected: list[int] = []
    response = api.get(first_url, params)
    requests = 1
    while True:
        collected.extend(page_pks(response))
        next_url = links(response).get("next")
        if next_url is None:
            return collected, requests
        response = api.get(next_url)
        requests += 1


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("limit", [1, 7, 10, 25, 26])
def test_following_next_links_visits_every_customer_once(api, channel, pks, endpoint, limit):
    collected, requests = follow_all_pages(api, path(channel, endpoint), {"limit": limit})
    assert collected == pks
    assert requests == -(-len(pks) // limit)


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(count=st.integers(0, 30), limit=st.integers(1, 12), descending=st.booleans())
def test_pages_partition_the_result(api, channel, count, limit, descending):
    Customer.objects.filter(channel=channel).delete()
    pks = make_many(channel, count)
    params = {"limit": limit, "sort": "-pk" if descending else "pk"}
    collected, requests = follow_all_pages(api, path(channel), params)
    assert collected == (pks[::-1] if descending else pks)
    assert requests == max(1, -(-count // limit))
    # Every page reports the same exact total.
    last_page = max(1, -(-count // limit))
    response = api.get(path(channel), {**params, "page": last_page})
    assert response["X-Total-Count"] == str(count)
    past = api.get(path(channel), {**params, "page": last_page + 1})
    assert past.status_code == 404


# --- the exact-count cap --------------------------------------------------------------------


@pytest.mark.parametrize(("limit", "page"), [(2, 1), (2, 2), (3, 2), (4, 1)])
def test_past_the_cap_postgres_sends_an_estimate(api, channel, settings, on_postgres, limit, page):
    if not on_postgres:
        pytest.skip("the planner estimate exists on PostgreSQL only")
    settings.LIST_EXACT_COUNT_CAP = 5
    pks = make_many(channel, 12)
    response = api.get(path(channel), {"limit": limit, "page": page})
    offset = (page - 1) * limit
    assert page_pks(response) == pks[offset : offset + limit]
    assert "X-Total-Count" not in response.headers
    # A next page exists, so at least one more row than those seen so far.
    assert int(response["X-Total-Count-Estimate"]) >= offset + limit + 1
    assert "next" in links(response)


def test_past_the_cap_envelope_count_is_the_estimate(api, channel, settings, on_postgres):
    if not on_postgres:
        pytest.skip("the planner estimate exists on PostgreSQL only")
    settings.LIST_EXACT_COUNT_CAP = 5
    settings.LIST_ENVELOPE = True
    make_many(channel, 12)
    response = api.get(path(channel), {"limit": 2})
    body = response.json()
    assert body["count"] == int(response["X-Total-Count-Estimate"])
    assert body["count"] >= 3


@pytest.mark.parametrize("count", [5, 4])
def test_within_the_cap_count_is_exact_on_both_databases(api, channel, settings, count):
    settings.LIST_EXACT_COUNT_CAP = 5
    make_many(channel, count)
    response = api.get(path(channel), {"limit": 2})
    assert response["X-Total-Count"] == str(count)
    assert "X-Total-Count-Estimate" not in response.headers


def test_last_page_past_the_cap_is_exact_on_both_databases(api, channel, settings):
    settings.LIST_EXACT_COUNT_CAP = 5
    make_many(channel, 12)
    response = api.get(path(channel), {"limit": 5, "page": 3})
    assert len(page_pks(response)) == 2
    assert response["X-Total-Count"] == "12"
    assert "X-Total-Count-Estimate" not in response.headers


def test_past_the_cap_sqlite_count_stays_exact(api, channel, settings, on_postgres):
    if on_postgres:
        pytest.skip("SQLite keeps exact counts")
    settings.LIST_EXACT_COUNT_CAP = 5
    make_many(channel, 12)
    response = api.get(path(channel), {"limit": 2})
    assert response["X-Total-Count"] == "12"
    assert "X-Total-Count-Estimate" not in response.headers


@pytest.fixture
def deep(channel, other_channel) -> list[int]:
    """1,250 customers: `limit=500&page=3` starts at offset 1,000, where the paginator pages by
    ids first (pagination.DEFERRED_JOIN_OFFSET)."""
    make_many(other_channel, 30)
    return make_many(channel, 1_250)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("query", "ordering"),
    [
        ({}, ["pk"]),
        ({"sort": "-email"}, ["-email", "-pk"]),
        ({"sort": "first_name"}, ["first_name", "pk"]),  # ties broken by pk
    ],
)
def test_deep_offset_pages_equal_the_ordered_result(api, channel, deep, endpoint, query, ordering):
    assert DEFERRED_JOIN_OFFSET <= 1_000
    expected = list(
        Customer.objects.filter(channel=channel).order_by(*ordering).values_list("pk", flat=True)
    )
    before = api.get(path(channel, endpoint), {**query, "limit": 500, "page": 2})
    deep_page = api.get(path(channel, endpoint), {**query, "limit": 500, "page": 3})

    assert page_pks(before) == expected[500:1_000]
    assert page_pks(deep_page) == expected[1_000:]
    assert deep_page.headers["X-Total-Count"] == "1250"
    assert set(links(deep_page)) == {"prev"}
    assert api.get(path(channel, endpoint), {**query, "limit": 500, "page": 4}).status_code == 404
