"""Range filters in pk order (core.pagination.RangeOrderHint) and the filterset subset.

On PostgreSQL a customer list in pk order with a range condition on created_date,
modified_date, date_joined or date_of_birth counts first and then reads the page's ids through
the range's own `(channel_id, column, id)` index, ordered by `id + 0`. Every answer (rows, total,
links, 404s) must be the one the plain `ORDER BY id LIMIT/OFFSET` gives, on both databases:

1. A small channel whose dates rise with the id (matches bunched at the end of the pk order, the
   case the hint exists for) is paged through the API and compared with the ORM.
2. PostgreSQL only: a committed, ANALYZEd table of 40,000 customers checks that the page is read
   through the range's index (never a pk walk filtering on the date column), the query count,
   and the estimate branch (most of the channel matches, count past the cap).
3. `customer_filterset` (only the named filters) answers exactly like the full CustomerFilter.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.db.models import F, Q
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from saleschannel.channels.models import Channel
from saleschannel.channels.tests.factories import ChannelFactory
from saleschannel.core import pagination
from saleschannel.customers.filters import CustomerFilter, customer_filterset
from saleschannel.customers.models import Customer
from saleschannel.customers.representation import customer_values
from saleschannel.customers.selectors import customer_list
from saleschannel.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
INVALID_PAGE = {"detail": "Invalid page.", "code": "not_found"}
LINK_RE = re.compile(r'<([^>]*)>; rel="([^"]+)"')
# The hinted page query orders by `id + 0` (the pk index cannot serve that expression).
PLUS_ZERO_RE = re.compile(r'"customers_customer"\."id" \+ 0')


DEFAULT_PROBE_FACTOR = pagination.RANGE_PROBE_FACTOR  # read before the autouse fixture sets 0


@pytest.fixture(autouse=True)
def no_pk_window_probe(monkeypatch):
    """Most tests here check the count-first branch, so the pk window probe is off; the probe
    tests turn it back on (test_pk_window_probe_*)."""
    monkeypatch.setattr(pagination, "RANGE_PROBE_FACTOR", 0)


def list_path(channel, endpoint: str = "customers/") -> str:
    return f"/api/v1/channel/{channel.pk}/{endpoint}"


def link_rels(response) -> set[str]:
    return {rel for _, rel in LINK_RE.findall(response.headers.get("Link", ""))}


def iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def uses_range_hint(queries) -> bool:
    return any(PLUS_ZERO_RE.search(query["sql"]) for query in queries)


# --- 1. the small dataset, on both databases ------------------------------------------------

T0 = dt.datetime(2025, 3, 1, tzinfo=UTC)
JOINED0 = dt.datetime(2019, 1, 1, 12, tzinfo=UTC)
BIRTH0 = dt.date(1970, 1, 1)
ROWS = 70  # creation order k = 0..69; every 7th (k % 7 == 3) belongs to other_channel


def created_at(k: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=5 * k)  # rises with the id: ~5 rows a day


def modified_at(k: int) -> dt.datetime:
    return created_at(k) + dt.timedelta(days=k % 4, minutes=7)


def joined_at(k: int) -> dt.datetime | None:
    return None if k % 9 == 0 else JOINED0 + dt.timedelta(days=k)


def born_on(k: int) -> dt.date | None:
    return None if k % 8 == 5 else BIRTH0 + dt.timedelta(days=211 * k)


@pytest.fixture(scope="module")
def dataset(django_db_setup, django_db_blocker) -> Channel:
    """70 customers, pks interleaved across two channels; every date rises with the id, so a
    lower bound's matches are the last rows in pk order. The other channel's rows have the same
    dates and so would match every condition. Committed once for the module (both databases),
    removed after."""
    with django_db_blocker.unblock():
        channel, other_channel = ChannelFactory(), ChannelFactory()
        try:
            _fill_dataset(channel, other_channel)
            yield channel
        finally:
            Customer.objects.filter(channel__in=[channel, other_channel]).delete()
            Channel.objects.filter(pk__in=[channel.pk, other_channel.pk]).delete()


def _fill_dataset(channel, other_channel) -> None:
    Customer.objects.bulk_create(
        CustomerFactory.build(
            channel=other_channel if k % 7 == 3 else channel,
            email=f"r{k}@example.com",
            channel_code=f"R-{k}",
            is_active=k % 3 != 0,
            erp_code=f"erp-{k % 4}",
            attributes={"segment": ["gold", "silver"][k % 2]},
            date_joined=joined_at(k),
            date_of_birth=born_on(k),
        )
        for k in range(ROWS)
    )
    created = list(Customer.objects.filter(channel__in=[channel, other_channel]).order_by("pk"))
    assert [customer.email for customer in created] == [f"r{k}@example.com" for k in range(ROWS)]
    for k, customer in enumerate(created):
        customer.created_date = created_at(k)
        customer.modified_date = modified_at(k)
    # bulk_update writes the values given (auto_now/auto_now_add apply on save() only).
    Customer.objects.bulk_update(created, ["created_date", "modified_date"])


@pytest.fixture
def api(make_client):
    """A superuser client (sees every channel)."""
    return make_client(superuser=True)


@dataclass(frozen=True)
class Case:
    params: dict[str, str]
    condition: Q  # the same condition in plain ORM lookups (computed independently)
    hinted: bool = True  # a range on one of the hint's columns (PostgreSQL takes the hint path)

    def expected(self, channel, sort: str | None) -> list[int]:
        order = "-pk" if sort == "-pk" else "pk"
        return list(
            Customer.objects.filter(channel=channel)
            .filter(self.condition)
            .order_by(order)
            .values_list("pk", flat=True)
        )


def day(k: int) -> dt.date:
    return created_at(k).date()


CASES = {
    "created_gte": Case(
        {"created_date__gte": iso(created_at(55))}, Q(created_date__gte=created_at(55))
    ),
    "created_gt": Case(
        {"created_date__gt": iso(created_at(55))}, Q(created_date__gt=created_at(55))
    ),
    "created_lt": Case(
        {"created_date__lt": iso(created_at(12))}, Q(created_date__lt=created_at(12))
    ),
    "created_lte": Case(
        {"created_date__lte": iso(created_at(12))}, Q(created_date__lte=created_at(12))
    ),
    "created_gte_and_lt": Case(
        {"created_date__gte": iso(created_at(30)), "created_date__lt": iso(created_at(45))},
        Q(created_date__gte=created_at(30), created_date__lt=created_at(45)),
    ),
    "created_date": Case(
        {"created_date__date": day(60).isoformat()}, Q(created_date__date=day(60))
    ),
    "created_date_gte": Case(
        {"created_date__date__gte": day(50).isoformat()}, Q(created_date__date__gte=day(50))
    ),
    "created_date_gt": Case(
        {"created_date__date__gt": day(50).isoformat()}, Q(created_date__date__gt=day(50))
    ),
    "created_date_lte": Case(
        {"created_date__date__lte": day(20).isoformat()}, Q(created_date__date__lte=day(20))
    ),
    "modified_gt": Case(
        {"modified_date__gt": iso(created_at(58))}, Q(modified_date__gt=created_at(58))
    ),
    "modified_date_lt": Case(
        {"modified_date__date__lt": day(20).isoformat()}, Q(modified_date__date__lt=day(20))
    ),
    "joined_lte": Case(
        {"date_joined__lte": iso(JOINED0 + dt.timedelta(days=20))},
        Q(date_joined__lte=JOINED0 + dt.timedelta(days=20)),
    ),
    "joined_gte": Case(
        {"date_joined__gte": iso(JOINED0 + dt.timedelta(days=48))},
        Q(date_joined__gte=JOINED0 + dt.timedelta(days=48)),
    ),
    "birth_gte": Case(
        {"date_of_birth__gte": (BIRTH0 + dt.timedelta(days=211 * 50)).isoformat()},
        Q(date_of_birth__gte=BIRTH0 + dt.timedelta(days=211 * 50)),
    ),
    "birth_lt": Case(
        {"date_of_birth__lt": (BIRTH0 + dt.timedelta(days=211 * 9)).isoformat()},
        Q(date_of_birth__lt=BIRTH0 + dt.timedelta(days=211 * 9)),
    ),
    "created_gte_inactive": Case(
        {"created_date__gte": iso(created_at(40)), "is_active": "false"},
        Q(created_date__gte=created_at(40), is_active=False),
    ),
    "created_gte_erp_json": Case(
        # A trigram/UPPER annotation and a JSON key filter inside the ids subquery.
        {
            "created_date__gte": iso(created_at(20)),
            "erp_code": "ERP-1",
            "attributes__segment": "silver",
        },
        Q(created_date__gte=created_at(20), erp_code="erp-1", attributes__segment="silver"),
    ),
    # A prefix is a range on the pattern_ops index: r1, r10-r19 and r6, r60-r69.
    "email_prefix_r1": Case({"email__startswith": "r1"}, Q(email__startswith="r1")),
    "email_prefix_r6": Case({"email__startswith": "r6"}, Q(email__startswith="r6")),
    "created_gte_nothing": Case(
        {"created_date__gte": iso(created_at(1000))}, Q(created_date__gte=created_at(1000))
    ),
    # Controls: no range on a hint column, so the plain pk walk runs everywhere.
    "created_exact": Case(
        {"created_date": iso(created_at(60))}, Q(created_date=created_at(60)), hinted=False
    ),
    "birth_exact": Case(
        {"date_of_birth": born_on(44).isoformat()}, Q(date_of_birth=born_on(44)), hinted=False
    ),
    "inactive_only": Case({"is_active": "false"}, Q(is_active=False), hinted=False),
}
SORTS = [None, "pk", "-pk"]


def request_params(case: Case, sort: str | None, limit: int, page: int) -> dict[str, Any]:
    params: dict[str, Any] = {**case.params, "limit": limit, "page": page}
    if sort is not None:
        params["sort"] = sort
    return params


def pages_to_check(total: int, limit: int) -> list[int]:
    """Page 1, 2, the last and the first past the end (as a set: they may coincide)."""
    last = max(1, -(-total // limit))
    return sorted({1, min(2, last), last, last + 1})


def get(api, channel, params, endpoint: str = "customers/"):
    with CaptureQueriesContext(connection) as queries:
        response = api.get(list_path(channel, endpoint), params)
    return response, queries.captured_queries


@pytest.mark.parametrize(
    ("sort", "limit"), [(None, 4), ("pk", 4), ("-pk", 4), (None, 1000), ("-pk", 1000)]
)
@pytest.mark.parametrize("name", list(CASES))
def test_range_pages_equal_the_orm(api, dataset, on_postgres, name, sort, limit):
    case = CASES[name]
    expected = case.expected(dataset, sort)
    for page in pages_to_check(len(expected), limit):
        response, queries = get(api, dataset, request_params(case, sort, limit, page))
        offset = (page - 1) * limit
        if page > 1 and offset >= len(expected):
            assert response.status_code == 404, (page, response.content)
            assert response.json() == INVALID_PAGE
            continue
        assert response.status_code == 200, (page, response.content)
        assert [row["pk"] for row in response.json()] == expected[offset : offset + limit], page
        assert response["X-Total-Count"] == str(len(expected))
        assert "X-Total-Count-Estimate" not in response.headers
        assert ("next" in link_rels(response)) is (offset + limit < len(expected))
        assert ("prev" in link_rels(response)) is (page > 1)
        if expected[offset : offset + limit]:
            # The hint is taken on PostgreSQL only, and only for a range on a hint column.
            assert uses_range_hint(queries) is (on_postgres and case.hinted), page


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case.hinted])
def test_the_other_channels_rows_meet_the_same_conditions(dataset, name):
    """So that the equality with the ORM's channel-scoped answer also checks the scope."""
    case = CASES[name]
    if case.expected(dataset, None):
        assert Customer.objects.filter(case.condition).exclude(channel=dataset).exists()


@pytest.mark.parametrize("sort", ["created_date", "-created_date", "date_joined"])
def test_sorting_by_another_column_never_takes_the_hint(api, dataset, sort):
    case = CASES["created_gte"]
    response, queries = get(api, dataset, {**case.params, "sort": sort, "limit": 5})
    descending = sort.startswith("-")
    column = sort.lstrip("-")
    rows = Customer.objects.filter(channel=dataset).filter(case.condition)
    key = F(column).desc(nulls_first=True) if descending else F(column).asc(nulls_last=True)
    expected = list(rows.order_by(key, "-pk" if descending else "pk").values_list("pk", flat=True))
    assert response.status_code == 200, response.content
    assert [row["pk"] for row in response.json()] == expected[:5]
    assert response["X-Total-Count"] == str(len(expected))
    assert not uses_range_hint(queries)


# Cases with more matches than the small cap below.
CAPPED = [
    "created_gte",
    "created_date_gte",
    "modified_gt",
    "joined_gte",
    "birth_gte",
    "created_lt",
    "email_prefix_r1",
]
CAP = 5


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("name", CAPPED)
@pytest.mark.parametrize("probe_factor", [0, 1])
def test_past_a_small_cap_rows_stay_exact(
    api, dataset, settings, monkeypatch, on_postgres, name, sort, probe_factor
):
    """probe_factor 1: past the cap the pk window probe runs, walking 1 row per row wanted, so
    that this small channel is larger than the window and both outcomes of the probe happen."""
    monkeypatch.setattr(pagination, "RANGE_PROBE_FACTOR", probe_factor)
    settings.LIST_EXACT_COUNT_CAP = CAP
    case = CASES[name]
    expected = case.expected(dataset, sort)
    assert len(expected) > CAP
    limit = 3
    for page in pages_to_check(len(expected), limit):
        response, _ = get(api, dataset, request_params(case, sort, limit, page))
        offset = (page - 1) * limit
        if offset >= len(expected):
            assert response.status_code == 404, (page, response.content)
            assert response.json() == INVALID_PAGE
            continue
        assert response.status_code == 200, (page, response.content)
        rows = [row["pk"] for row in response.json()]
        assert rows == expected[offset : offset + limit], page
        has_next = offset + limit < len(expected)
        assert ("next" in link_rels(response)) is has_next
        if not on_postgres:
            # SQLite has no planner estimate: its count stays exact (pagination.py).
            assert response["X-Total-Count"] == str(len(expected))
            assert "X-Total-Count-Estimate" not in response.headers
        elif has_next:  # (the last page: test_past_a_small_cap_last_page_count_is_exact)
            assert "X-Total-Count" not in response.headers
            estimate = int(response["X-Total-Count-Estimate"])
            # Never below the rows the bounded count saw, nor those this page has shown.
            assert estimate >= CAP + 1
            assert estimate >= offset + len(rows) + 1


@pytest.mark.parametrize("sort", SORTS)
def test_past_a_small_cap_last_page_count_is_exact(api, dataset, settings, sort):
    """The last page knows the total (offset + its rows): the pk walk sends it as an exact
    X-Total-Count past the cap (test_pagination.py); a range in pk order must as well."""
    settings.LIST_EXACT_COUNT_CAP = CAP
    case = CASES["created_gte"]
    expected = case.expected(dataset, sort)
    limit = 4
    last = -(-len(expected) // limit)
    response, _ = get(api, dataset, request_params(case, sort, limit, last))
    # created_date rises with the id, so sorting by it gives the same rows without the hint.
    unhinted_sort = "-created_date" if sort == "-pk" else "created_date"
    unhinted, queries = get(api, dataset, request_params(case, unhinted_sort, limit, last))
    assert not uses_range_hint(queries)
    assert [row["pk"] for row in unhinted.json()] == expected[(last - 1) * limit :]
    assert unhinted["X-Total-Count"] == str(len(expected))

    assert [row["pk"] for row in response.json()] == expected[(last - 1) * limit :]
    assert "next" not in link_rels(response)
    assert response.headers.get("X-Total-Count-Estimate") is None
    assert response["X-Total-Count"] == str(len(expected))


def test_detailed_list_pages_a_range_like_the_orm(api, dataset, on_postgres):
    case = CASES["created_gte"]
    expected = case.expected(dataset, "-pk")
    response, queries = get(
        api, dataset, request_params(case, "-pk", 4, 2), endpoint="customers/detailed/"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [row["pk"] for row in body] == expected[4:8]
    assert all(row["channel"]["id"] == dataset.pk for row in body)
    assert all(row["orders_info"]["total_order_count"] == 0 for row in body)
    assert response["X-Total-Count"] == str(len(expected))
    assert link_rels(response) == {"next", "prev"}
    assert uses_range_hint(queries) is on_postgres


# --- 2. PostgreSQL plans on a committed, ANALYZEd table -------------------------------------

BIG_ROWS = 40_000  # one in 20 goes to a small second channel
BIG_T0 = dt.datetime(2022, 1, 1, tzinfo=UTC)
BIG_JOINED0 = dt.datetime(2015, 1, 1, tzinfo=UTC)


def big_created(g: int) -> dt.datetime:
    return BIG_T0 + dt.timedelta(minutes=30 * g)


def big_joined(g: int) -> dt.datetime:
    return BIG_JOINED0 + dt.timedelta(hours=2 * g)


@pytest.fixture(scope="module")
def big_channel(django_db_setup, django_db_blocker):
    """Committed for the module's plan tests, removed after. Dates rise with the id."""
    if connection.vendor != "postgresql":
        pytest.skip("query plans are checked on PostgreSQL only")
    with django_db_blocker.unblock():
        channel = ChannelFactory()
        small = ChannelFactory()
        try:
            _fill_big(channel, small)
            yield channel
        finally:
            with connection.cursor() as cursor:  # raw: the ORM would load the rows to delete
                cursor.execute(
                    "DELETE FROM customers_customer WHERE channel_id IN (%s, %s)",
                    [channel.pk, small.pk],
                )
            Channel.objects.filter(pk__in=[channel.pk, small.pk]).delete()


def _fill_big(channel, small) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO customers_customer (
                channel_id, email, first_name, last_name, is_active, channel_code,
                attributes, attribute_kwargs, localized_attributes,
                localized_attribute_kwargs, extra_field, email_allowed, sms_allowed,
                call_allowed, date_joined, date_of_birth, created_date, modified_date, version
            )
            SELECT CASE WHEN g %% 20 = 0 THEN %s ELSE %s END,
                   'b' || g || '@example.com', 'First', 'Last', g %% 3 <> 0, 'B' || g,
                   jsonb_build_object('segment', (ARRAY['gold','silver','bronze'])[g %% 3 + 1]),
                   '{}', '{}', '{}', '{}', false, false, false,
                   %s + g * interval '2 hours', date '1950-01-01' + (g %% 20000),
                   %s + g * interval '30 minutes', %s + g * interval '30 minutes', 1
            FROM generate_series(1, %s) AS g
            """,
            [small.pk, channel.pk, BIG_JOINED0, BIG_T0, BIG_T0, BIG_ROWS],
        )
        cursor.execute("ANALYZE customers_customer")


def plan_of(sql: str, params: Any = None) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        return cursor.fetchone()[0][0]["Plan"]


def plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def customer_selects(queries) -> list[str]:
    """The captured reads of customer rows: not the count, not the planner estimate."""
    return [
        query["sql"]
        for query in queries
        if query["sql"].startswith("SELECT")
        and '"customers_customer"' in query["sql"]
        and "COUNT(" not in query["sql"]
    ]


PK_INDEXES = {"customers_customer_pkey", "cust_ch_pk_idx"}
ID_LOOKUP_RE = re.compile(r"\bid = ")  # `id = u0.id`, `id = ANY (...)`; not `channel_id = `


def walks_the_pk_filtering_on(plan: dict, column: str) -> bool:
    """Whether the plan reads a pk-ordered index, dropping rows by `column` as it goes.

    Fetching rows by id through it (`Index Cond: ... id = u0.id`) is not a walk."""
    return any(
        node.get("Index Name") in PK_INDEXES
        and column in node.get("Filter", "")
        and not ID_LOOKUP_RE.search(node.get("Index Cond", ""))
        for node in plan_nodes(plan)
    )


PLAN_CASES = [
    pytest.param(
        {"created_date__gte": iso(big_created(36_000))},
        Q(created_date__gte=big_created(36_000)),
        "created_date",
        "cust_ch_created_idx",
        True,
        id="created_gte_newest_10pct",
    ),
    pytest.param(
        {"created_date__date": big_created(39_000).date().isoformat()},
        Q(created_date__date=big_created(39_000).date()),
        "created_date",
        "cust_ch_created_idx",
        False,  # one day's rows are few enough for the planner to pick the index anyway
        id="created_date_one_day",
    ),
    pytest.param(
        # b399, b3990-b3999, b39900-b39999: a prefix is a range of the pattern_ops index
        {"email__startswith": "b399"},
        Q(email__startswith="b399"),
        "email",
        "cust_ch_email_prefix_idx",
        False,
        id="email_prefix",
    ),
    pytest.param(
        {"date_joined__gte": iso(big_joined(38_000)), "sort": "-pk"},
        Q(date_joined__gte=big_joined(38_000)),
        "date_joined",
        "cust_ch_joined_idx",
        True,
        id="joined_gte_desc",
    ),
]


@pytest.mark.postgres
@pytest.mark.parametrize(("params", "condition", "column", "index", "plain_walks"), PLAN_CASES)
def test_range_page_reads_the_range_index(
    big_channel, make_client, params, condition, column, index, plain_walks
):
    api = make_client(superuser=True)
    descending = params.get("sort") == "-pk"
    expected = list(
        Customer.objects.filter(channel=big_channel)
        .filter(condition)
        .order_by("-pk" if descending else "pk")
        .values_list("pk", flat=True)
    )
    assert 10 < len(expected) <= BIG_ROWS // 8  # few matches, all at the end of the pk order
    with CaptureQueriesContext(connection) as queries:
        response = api.get(list_path(big_channel), {**params, "page": 2})
    assert response.status_code == 200, response.content
    assert [row["pk"] for row in response.json()] == expected[10:20]
    assert response["X-Total-Count"] == str(len(expected))

    selects = customer_selects(queries.captured_queries)
    assert len(selects) == 1, selects  # the page: ids through the index, then those rows
    assert PLUS_ZERO_RE.search(selects[0]), selects[0]
    plan = plan_of(selects[0])
    # The range's index is read once, for the ids; the page's rows are then fetched by pk
    # (the outer query does not repeat the filters, which would read every match again).
    assert [node.get("Index Name") for node in plan_nodes(plan)].count(index) == 1, plan
    assert not walks_the_pk_filtering_on(plan, column), plan

    if not plain_walks:
        return
    # The case the hint exists for: the plain `ORDER BY id LIMIT` page walks the pk index.
    plain = customer_values(customer_list(channel=big_channel, params=QueryDict(urlencode(params))))
    assert walks_the_pk_filtering_on(plan_of(*plain[10:21].query.sql_with_params()), column)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("params", "condition", "walk_answers"),
    [
        # newest 10 %, pk ascending: the matches are at the far end of the walk
        ({"created_date__gte": iso(big_created(36_000))}, "newest", False),
        # the same rows descending: the walk starts among them
        ({"created_date__gte": iso(big_created(36_000)), "sort": "-pk"}, "newest", True),
        # oldest 10 %: at the start of the walk
        ({"created_date__lt": iso(big_created(4_000))}, "oldest", True),
    ],
    ids=["newest_asc", "newest_desc", "oldest_asc"],
)
def test_pk_window_probe_answers_only_when_the_page_is_near_the_walks_start(
    big_channel, make_client, monkeypatch, settings, params, condition, walk_answers
):
    monkeypatch.setattr(pagination, "RANGE_PROBE_FACTOR", DEFAULT_PROBE_FACTOR)
    settings.LIST_EXACT_COUNT_CAP = 1000  # the probe runs for more matches than the cap
    api = make_client(superuser=True)
    descending = params.get("sort") == "-pk"
    q = (
        Q(created_date__gte=big_created(36_000))
        if condition == "newest"
        else Q(created_date__lt=big_created(4_000))
    )
    expected = list(
        Customer.objects.filter(channel=big_channel)
        .filter(q)
        .order_by("-pk" if descending else "pk")
        .values_list("pk", flat=True)
    )
    with CaptureQueriesContext(connection) as queries:
        response = api.get(list_path(big_channel), params)

    assert response.status_code == 200, response.content
    assert [row["pk"] for row in response.json()] == expected[:10]
    assert len(expected) > 1000
    assert int(response["X-Total-Count-Estimate"]) >= 1001
    # The probe answered (no `id + 0` page through the range's index), or it did not.
    assert uses_range_hint(queries.captured_queries) is not walk_answers


@pytest.mark.postgres
def test_hinted_request_query_count(big_channel, make_client):
    api = make_client(superuser=True)
    params = {"created_date__gte": iso(big_created(36_000))}
    with CaptureQueriesContext(connection) as queries:
        response = api.get(list_path(big_channel), params)
    assert response.status_code == 200, response.content
    sqls = [query["sql"] for query in queries.captured_queries]
    # 1. the token (with its user), 2. the channel, 3. the bounded count,
    # 4. the page (ids through cust_ch_created_idx, then those rows by pk).
    # No planner estimate: the count was exact.
    assert len(sqls) == 4, sqls
    assert "accounts_apitoken" in sqls[0]
    assert "channels_channel" in sqls[1]
    assert "COUNT(" in sqls[2]
    assert PLUS_ZERO_RE.search(sqls[3])
    assert not any(sql.startswith("EXPLAIN") for sql in sqls)


@pytest.mark.postgres
@pytest.mark.parametrize("sort", [None, "-pk"])
def test_most_of_the_channel_matching_takes_the_pk_walk_and_sends_an_estimate(
    big_channel, make_client, settings, sort
):
    settings.LIST_EXACT_COUNT_CAP = 1000
    api = make_client(superuser=True)
    params = {"created_date__gte": iso(BIG_T0 - dt.timedelta(days=3650)), "page": 3}
    if sort:
        params["sort"] = sort
    expected = list(
        Customer.objects.filter(channel=big_channel)
        .order_by(sort or "pk")
        .values_list("pk", flat=True)[20:30]
    )
    with CaptureQueriesContext(connection) as queries:
        response = api.get(list_path(big_channel), params)
    assert response.status_code == 200, response.content
    assert [row["pk"] for row in response.json()] == expected
    assert "X-Total-Count" not in response.headers
    assert int(response["X-Total-Count-Estimate"]) >= 1001
    assert "next" in link_rels(response)
    # The count passed the cap and the estimate says most of the channel matches: pk walk.
    assert not uses_range_hint(queries.captured_queries)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({}, id="json-only"),
        pytest.param({"created_date__gte": "2000-01-01T00:00:00Z"}, id="json-and-range"),
    ],
)
def test_past_the_cap_the_estimate_is_never_below_what_the_count_saw(
    big_channel, make_client, settings, extra
):
    """jsonb containment is estimated at ~0.1 % of the rows: a third of the channel matches."""
    settings.LIST_EXACT_COUNT_CAP = 1000
    api = make_client(superuser=True)
    matches = Customer.objects.filter(channel=big_channel, attributes__segment="gold")
    assert matches.count() > 1001
    response = api.get(list_path(big_channel), {"attributes__segment": "gold", **extra})
    assert response.status_code == 200, response.content
    assert [row["pk"] for row in response.json()] == list(
        matches.order_by("pk").values_list("pk", flat=True)[:10]
    )
    assert int(response["X-Total-Count-Estimate"]) >= 1001


# --- 3. the filterset subset answers like the full CustomerFilter ---------------------------

SUBSET_QUERIES = [
    "",
    "is_active=true",
    "is_active=maybe",
    "is_active=",
    "is_active=true&is_active=false",
    "created_date__gte=notadate",
    "created_date__gte=2025-03-05T00:00:00Z",
    "created_date__date=2025-03-10",
    "created_date__date=2025-13-40",
    "modified_date__lt=2025-03-10T00:00:00%2B03:00",
    "date_joined__lte=2019-01-20T00:00:00Z&date_joined__gt=2019-01-05T00:00:00Z",
    "date_of_birth__gte=1990-01-01&is_active=false",
    "date_of_birth=nope",
    "pk__in=1,x",
    "pk__in=1,2,3",
    "pk__in={pk3},{pk0},{pk7}&sort=-pk",
    "pk__in={pk3}&pk__in={pk0}",
    "sort=nope",
    "sort=-created_date",
    "sort=-pk&created_date__gte=2025-03-05T00:00:00Z",
    "unknown=1&limit=5&page=2",
    "attributes__segment=gold&is_active=true",
    "email__startswith=r1&sort=email",
    "erp_code=ERP-2&gender=female&user_type=guest",
    "gender=robot&pk__in=1,x&is_active=maybe&sort=nope",
    "channel=abc",
    "channel={channel}&created_date__lt=2025-03-05T00:00:00Z",
    "created_date__gte=2025-03-05T00:00:00Z&created_date__gte=2025-03-12T00:00:00Z",
]


@pytest.mark.parametrize("query", SUBSET_QUERIES)
def test_filterset_subset_answers_like_the_full_filterset(dataset, query):
    base = Customer.objects.filter(channel=dataset).order_by("pk")
    pks = list(base.values_list("pk", flat=True))
    query = query.format(channel=dataset.pk, **{f"pk{i}": pk for i, pk in enumerate(pks[:8])})
    subset = customer_filterset(QueryDict(query), queryset=base)
    full = CustomerFilter(QueryDict(query), queryset=base)
    assert subset.is_valid() is full.is_valid()
    assert list(subset.errors) == list(full.errors)
    assert subset.errors.get_json_data() == full.errors.get_json_data()
    if full.is_valid():
        answer = list(full.qs.values_list("pk", flat=True))
        assert list(subset.qs.values_list("pk", flat=True)) == answer


def test_filterset_subset_of_an_unbound_filterset(dataset):
    base = Customer.objects.filter(channel=dataset).order_by("pk")
    subset = customer_filterset(None, queryset=base)
    full = CustomerFilter(None, queryset=base)
    assert subset.is_bound is full.is_bound is False
    assert list(subset.qs.values_list("pk", flat=True)) == list(
        full.qs.values_list("pk", flat=True)
    )


def test_filterset_subset_holds_only_the_named_filters_and_is_cached(db):
    base = Customer.objects.none()
    first = customer_filterset(QueryDict("is_active=true"), queryset=base)
    again = customer_filterset(QueryDict("is_active=false&limit=3"), queryset=base)
    assert list(type(first).base_filters) == ["is_active"]
    assert list(first.filters) == ["is_active"]
    assert type(again) is type(first)
    assert type(again).get_form_class(again) is type(first).get_form_class(first)
    assert list(first.form.fields) == ["is_active"]
    assert issubclass(type(first), CustomerFilter)

    # The set of names is the key: order does not matter, another set is another class.
    both = customer_filterset(QueryDict("sort=pk&is_active=true"), queryset=base)
    both_reversed = customer_filterset(QueryDict("is_active=true&sort=pk"), queryset=base)
    assert type(both) is type(both_reversed)
    assert type(both) is not type(first)
    assert set(type(both).base_filters) == {"is_active", "sort"}
    # The full filterset is untouched by the subsets.
    assert len(CustomerFilter.base_filters) > 40
