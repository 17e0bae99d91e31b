"""Detailed customer views (channel object + orders_info) and the list endpoints' query counts."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from saleschannel.channels.tests.factories import ChannelFactory
from saleschannel.customers.models import Customer
from saleschannel.customers.serializers import CUSTOMER_FIELDS
from saleschannel.customers.tests.factories import CustomerFactory
from saleschannel.orders.models import Order
from saleschannel.orders.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

EMPTY_INFO = {
    "total_order_count": 0,
    "total_order_amount": None,
    "total_discount_amount": None,
    "total_refund_amount": None,
}
CHANNEL_KEYS = [
    "id",
    "name",
    "catalog",
    "channel_type",
    "conf",
    "category_tree",
    "is_active",
    "schema",
    "created_date",
    "modified_date",
]


def base(channel) -> str:
    return f"/api/v1/channel/{channel.pk}/customers/"


def detailed_list(channel) -> str:
    return f"{base(channel)}detailed/"


def detailed_one(channel, pk: int) -> str:
    return f"{base(channel)}{pk}/detailed/"


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def expected_channel(channel) -> dict:
    channel.refresh_from_db()
    return {
        "id": channel.pk,
        "name": channel.name,
        "catalog": channel.catalog,
        "channel_type": channel.channel_type,
        "conf": channel.conf,
        "category_tree": channel.category_tree,
        "is_active": channel.is_active,
        "schema": channel.schema,
        "created_date": iso(channel.created_date),
        "modified_date": iso(channel.modified_date),
    }


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def expected_info_bytes(orders: list[tuple[str, str, str]]) -> bytes:
    """The exact JSON text of `orders_info` for (amount, discount, refund) decimal strings."""
    if not orders:
        return orjson.dumps(EMPTY_INFO)
    sums = [sum((Decimal(order[i]) for order in orders), Decimal(0)) for i in range(3)]
    return (
        f'{{"total_order_count":{len(orders)},"total_order_amount":{money(sums[0])},'
        f'"total_discount_amount":{money(sums[1])},"total_refund_amount":{money(sums[2])}}}'
    ).encode()


def info_bytes(raw: bytes) -> list[bytes]:
    """Every raw `orders_info` object in a response body, in order."""
    return re.findall(rb'"orders_info":(\{[^}]*\})', raw)


def add_orders(customer, orders: list[tuple[str, str, str]], channel=None) -> None:
    Order.objects.bulk_create(
        OrderFactory.build(
            customer=customer,
            channel=channel or customer.channel,
            amount=Decimal(amount),
            discount_amount=Decimal(discount),
            refund_amount=Decimal(refund),
        )
        for amount, discount, refund in orders
    )


@pytest.fixture
def rich_channel(db):
    return ChannelFactory(
        name="Şık Mağaza",
        conf={"api_key": "k", "region": "tr"},
        category_tree="tree-7",
        is_active=False,
        schema={"type": "object", "n": 1},
    )


# --- shape ----------------------------------------------------------------------------------


def test_detailed_retrieve_is_the_customer_plus_channel_object_and_orders_info(api, rich_channel):
    customer = CustomerFactory(
        channel=rich_channel,
        attributes={"color": "red"},
        extra_field={"x": [1, 2]},
        gender="female",
        erp_code="ERP-1",
    )
    plain = api.get(f"{base(rich_channel)}{customer.pk}/")
    response = api.get(detailed_one(rich_channel, customer.pk))
    assert response.status_code == 200, response.content
    body = response.json()
    assert list(body) == [*CUSTOMER_FIELDS, "orders_info"]
    assert list(body["channel"]) == CHANNEL_KEYS
    assert body["channel"] == expected_channel(rich_channel)
    assert plain.json()["channel"] == rich_channel.pk
    assert {k: v for k, v in body.items() if k not in ("channel", "orders_info")} == {
        k: v for k, v in plain.json().items() if k != "channel"
    }
    assert body["pk"] == customer.pk
    assert body["attributes"] == {"color": "red"}
    assert body["orders_info"] == EMPTY_INFO


def test_detailed_list_rows_match_plain_list_rows(api, rich_channel):
    customers = [CustomerFactory(channel=rich_channel) for _ in range(3)]
    plain = api.get(base(rich_channel)).json()
    response = api.get(detailed_list(rich_channel))
    assert response.status_code == 200
    rows = response.json()
    assert [row["pk"] for row in rows] == [c.pk for c in customers]
    channel_obj = expected_channel(rich_channel)
    for row, plain_row in zip(rows, plain, strict=True):
        assert list(row) == [*CUSTOMER_FIELDS, "orders_info"]
        assert row["channel"] == channel_obj
        assert {**row, "channel": plain_row["channel"], "orders_info": None} == {
            **plain_row,
            "orders_info": None,
        }
        assert row["orders_info"] == EMPTY_INFO


def test_detailed_retrieve_equals_its_detailed_list_row(api, channel):
    customers = [CustomerFactory(channel=channel) for _ in range(2)]
    add_orders(customers[1], [("10.10", "1.00", "0.00")])
    rows = api.get(detailed_list(channel)).json()
    for customer, row in zip(customers, rows, strict=True):
        assert api.get(detailed_one(channel, customer.pk)).json() == row


@pytest.mark.parametrize("suffix", ["", "/"])
def test_detailed_paths_are_served_with_and_without_trailing_slash(api, channel, suffix):
    customer = CustomerFactory(channel=channel)
    one = api.get(f"{base(channel)}{customer.pk}/detailed{suffix}")
    assert one.status_code == 200
    assert one.json()["pk"] == customer.pk
    many = api.get(f"{base(channel)}detailed{suffix}")
    assert many.status_code == 200
    assert [row["pk"] for row in many.json()] == [customer.pk]


def test_detailed_retrieve_of_a_customer_of_another_channel_is_404(api, channel, other_channel):
    foreign = CustomerFactory(channel=other_channel)
    response = api.get(detailed_one(channel, foreign.pk))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


@pytest.mark.parametrize("pk", [999_999, 2**63 - 1, 2**63])
def test_detailed_retrieve_of_a_missing_customer_is_404(api, channel, pk):
    response = api.get(detailed_one(channel, pk))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_detailed_views_of_an_ungranted_channel_are_404(make_client, channel, other_channel):
    customer = CustomerFactory(channel=other_channel)
    client = make_client(channels=[channel])
    for url in (detailed_list(other_channel), detailed_one(other_channel, customer.pk)):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert client.get(detailed_list(channel)).status_code == 200


# --- orders_info ----------------------------------------------------------------------------

ORDER_SETS = [
    pytest.param([], id="no-orders"),
    pytest.param([("12.50", "0.00", "0.00")], id="one-order"),
    pytest.param([("10.10", "0.10", "0.00"), ("20.20", "0.20", "5.05")], id="two-orders"),
    pytest.param([("0.10", "0.10", "0.10")] * 60, id="sixty-times-0.10"),
    pytest.param([("0.01", "0.00", "0.01")] * 100, id="hundred-cents"),
    pytest.param([("0.07", "0.03", "0.00")] * 33, id="thirty-three-odd-cents"),
    pytest.param([("9999999999.99", "9999999999.99", "0.01")] * 3, id="largest-amounts"),
    pytest.param([("100.00", "0.00", "0.00"), ("0.00", "0.00", "0.00")], id="whole-and-zero"),
    pytest.param([("1.10", "2.20", "3.30")] * 7, id="seven-times"),
]


@pytest.mark.parametrize("orders", ORDER_SETS)
def test_orders_info_sums_are_exact_to_two_places(api, channel, orders):
    customer = CustomerFactory(channel=channel)
    add_orders(customer, orders)
    response = api.get(detailed_one(channel, customer.pk))
    assert response.status_code == 200, response.content
    assert info_bytes(response.content) == [expected_info_bytes(orders)]
    listed = api.get(detailed_list(channel))
    assert info_bytes(listed.content) == [expected_info_bytes(orders)]
    assert listed.json()[0]["orders_info"] == response.json()["orders_info"]


def test_orders_info_with_one_order_as_json(api, channel):
    customer = CustomerFactory(channel=channel)
    add_orders(customer, [("12.50", "2.25", "1.00")])
    body = api.get(detailed_one(channel, customer.pk)).json()
    assert body["orders_info"] == {
        "total_order_count": 1,
        "total_order_amount": 12.5,
        "total_discount_amount": 2.25,
        "total_refund_amount": 1.0,
    }


def test_orders_info_raw_bytes_keep_two_places(api, channel):
    customer = CustomerFactory(channel=channel)
    add_orders(customer, [("10.10", "0.00", "1.00"), ("20.20", "0.50", "0.00")])
    raw = api.get(detailed_one(channel, customer.pk)).content
    assert b'"total_order_count":2' in raw
    assert b'"total_order_amount":30.30' in raw
    assert b'"total_discount_amount":0.50' in raw
    assert b'"total_refund_amount":1.00' in raw


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    cents=st.lists(
        st.tuples(
            st.integers(0, 10**9),
            st.integers(0, 10**6),
            st.integers(0, 10**6),
        ),
        min_size=0,
        max_size=15,
    )
)
def test_orders_info_equals_decimal_sums_for_any_amounts(api, channel, cents):
    Order.objects.filter(channel=channel).delete()
    Customer.objects.filter(channel=channel).delete()
    customer = CustomerFactory(channel=channel)
    orders = [tuple(money(Decimal(c) / 100) for c in row) for row in cents]
    add_orders(customer, orders)
    raw = api.get(detailed_one(channel, customer.pk)).content
    assert info_bytes(raw) == [expected_info_bytes(orders)]


def test_orders_of_other_customers_and_channels_are_not_counted(api, channel, other_channel):
    mine = CustomerFactory(channel=channel)
    neighbour = CustomerFactory(channel=channel)
    foreign = CustomerFactory(channel=other_channel)
    add_orders(mine, [("10.10", "1.00", "0.50")])
    add_orders(neighbour, [("500.00", "50.00", "5.00")] * 2)
    add_orders(foreign, [("700.00", "70.00", "7.00")])
    rows = api.get(detailed_list(channel)).json()
    by_pk = {row["pk"]: row["orders_info"] for row in rows}
    assert set(by_pk) == {mine.pk, neighbour.pk}
    raw = api.get(detailed_one(channel, mine.pk)).content
    assert info_bytes(raw) == [expected_info_bytes([("10.10", "1.00", "0.50")])]
    assert by_pk[neighbour.pk] == {
        "total_order_count": 2,
        "total_order_amount": 1000.0,
        "total_discount_amount": 100.0,
        "total_refund_amount": 10.0,
    }
    foreign_info = api.get(detailed_one(other_channel, foreign.pk)).json()["orders_info"]
    assert foreign_info["total_order_count"] == 1


def test_orders_recorded_in_another_channel_are_not_counted(api, channel, other_channel):
    customer = CustomerFactory(channel=channel)
    add_orders(customer, [("10.00", "0.00", "0.00")])
    # The Order model allows an order of this customer booked in another channel.
    add_orders(customer, [("990.00", "9.00", "1.00")], channel=other_channel)
    raw = api.get(detailed_one(channel, customer.pk)).content
    assert info_bytes(raw) == [expected_info_bytes([("10.00", "0.00", "0.00")])]


def test_detailed_list_gives_each_row_its_own_orders_info(api, channel):
    plan = {0: [], 1: [("1.10", "0.10", "0.00")], 2: [("2.20", "0.00", "0.20")] * 3, 3: []}
    customers = [CustomerFactory(channel=channel) for _ in plan]
    for index, orders in plan.items():
        add_orders(customers[index], orders)
    response = api.get(detailed_list(channel))
    assert [row["pk"] for row in response.json()] == [c.pk for c in customers]
    assert info_bytes(response.content) == [expected_info_bytes(plan[i]) for i in plan]


def test_detailed_list_orders_info_follows_the_page(api, channel):
    customers = [CustomerFactory(channel=channel) for _ in range(5)]
    for index, customer in enumerate(customers):
        add_orders(customer, [(f"{index}.25", "0.00", "0.00")] * (index + 1))
    response = api.get(detailed_list(channel), {"limit": 2, "page": 2})
    rows = response.json()
    assert [row["pk"] for row in rows] == [customers[2].pk, customers[3].pk]
    assert info_bytes(response.content) == [
        expected_info_bytes([(f"{i}.25", "0.00", "0.00")] * (i + 1)) for i in (2, 3)
    ]


# --- detailed list filters ------------------------------------------------------------------

ALL = ["ada", "bob", "zed"]
FILTER_CASES = [
    # (params, labels of the expected rows in order, or (parameter, code) of the expected 400)
    ({"email": "Hit@example.com"}, ["ada"]),
    ({"email__startswith": "hi"}, ["bob"]),
    ({"email__startswith": "Hi"}, ["ada"]),
    ({"erp_code": "ş"}, ["ada", "zed"]),
    ({"first_name": "Ada"}, ["ada", "zed"]),
    ({"is_active": "false"}, ["ada", "zed"]),
    ({"gender": "female"}, ["ada"]),
    ({"attributes__tier": "1"}, ["ada"]),
    ({"created_date__date__gte": "2000-01-01"}, ALL),
    ({"date_of_birth__lt": "1995-01-01"}, ["ada"]),
    ({"sort": "-email", "limit": 2}, ["zed", "bob"]),
    ({"first_name": "Ada", "attributes__tier": "1", "is_active": "false"}, ["ada"]),
    ({"unknown": "ignored"}, ALL),
    ({"gender": "unknown"}, ("gender", "invalid_choice")),
    ({"pk__in": "1,x"}, ("pk__in", "invalid")),
    ({"limit": "0"}, ("limit", "min_value")),
    ({"sort": "nope"}, ("sort", "invalid_choice")),
]


@pytest.mark.parametrize(
    ("params", "expected"),
    FILTER_CASES,
    ids=["&".join(f"{k}={v}" for k, v in params.items()) for params, _ in FILTER_CASES],
)
def test_detailed_list_filters_like_the_plain_list(api, channel, other_channel, params, expected):
    specs = {
        "ada": {
            "email": "Hit@example.com",
            "first_name": "Ada",
            "erp_code": "AŞ-1",
            "gender": "female",
            "is_active": False,
            "attributes": {"tier": 1},
            "date_of_birth": dt.date(1990, 1, 1),
        },
        "bob": {
            "email": "hit2@example.com",
            "first_name": "Bob",
            "erp_code": "AS-2",
            "gender": "male",
            "attributes": {"tier": "2"},
            "date_of_birth": dt.date(1999, 1, 1),
        },
        "zed": {
            "email": "zed@example.com",
            "first_name": "Ada",
            "erp_code": "aş-3",
            "is_active": False,
        },
    }
    customers = {label: CustomerFactory(channel=channel, **spec) for label, spec in specs.items()}
    for spec in specs.values():
        CustomerFactory(channel=other_channel, **spec)
    add_orders(customers["ada"], [("4.40", "0.40", "0.00")])
    plain = api.get(base(channel), params)
    detailed = api.get(detailed_list(channel), params)
    if isinstance(expected, tuple):
        name, code = expected
        for response in (plain, detailed):
            assert response.status_code == 400
            assert set(response.json()) == {name, "code"}
            assert response.json()["code"] == code
        assert detailed.json() == plain.json()
        return
    pks = [customers[label].pk for label in expected]
    assert [row["pk"] for row in detailed.json()] == pks
    assert [row["pk"] for row in plain.json()] == pks
    assert detailed["X-Total-Count"] == plain["X-Total-Count"]
    assert detailed.get("Link", "").replace("/detailed/", "/") == plain.get("Link", "")
    infos = {row["pk"]: row["orders_info"] for row in detailed.json()}
    for label in expected:
        count = 1 if label == "ada" else 0
        assert infos[customers[label].pk]["total_order_count"] == count


def test_detailed_list_filter_selects_exactly_the_match(api, channel):
    hit = CustomerFactory(channel=channel, erp_code="ŞEKER-9")
    CustomerFactory(channel=channel, erp_code="SEKER-9")
    add_orders(hit, [("3.30", "0.00", "0.00")] * 3)
    response = api.get(detailed_list(channel), {"erp_code": "şeker"})
    assert [row["pk"] for row in response.json()] == [hit.pk]
    assert info_bytes(response.content) == [expected_info_bytes([("3.30", "0.00", "0.00")] * 3)]


# --- query counts ---------------------------------------------------------------------------


def make_customers_with_orders(channel, count: int, orders_each: int) -> list[Customer]:
    Customer.objects.bulk_create(
        CustomerFactory.build(channel=channel, email=f"q{channel.pk}-{i}@example.com")
        for i in range(count)
    )
    customers = list(Customer.objects.filter(channel=channel).order_by("pk"))
    Order.objects.bulk_create(
        OrderFactory.build(customer=customer, channel=channel, amount=Decimal(f"{n}.10"))
        for customer in customers
        for n in range(1, orders_each + 1)
    )
    return customers


def count_queries(api, url: str, params: dict) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url, params)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response


def check_orders_info(response, orders_each: int) -> None:
    orders = [(f"{n}.10", "0.00", "0.00") for n in range(1, orders_each + 1)]
    assert info_bytes(response.content) == [expected_info_bytes(orders)] * len(response.json())


@pytest.mark.parametrize(
    ("endpoint", "bound"), [("", 5), ("detailed/", 6)], ids=["list", "detailed-list"]
)
@pytest.mark.parametrize(
    ("params", "small", "large", "rows"),
    [
        ({"limit": 1000}, 1, 100, 100),
        ({"limit": 1}, 2, 100, 1),
        ({"limit": 10, "page": 3}, 31, 300, 10),
    ],
    ids=["one-page", "has-next", "middle-page"],
)
def test_list_query_count_does_not_grow_with_customers_or_orders(
    api, channel, django_assert_max_num_queries, endpoint, bound, params, small, large, rows
):
    """The count measured on `small` customers with 2 orders each bounds `large` with 5 each."""
    url = f"{base(channel)}{endpoint}"
    make_customers_with_orders(channel, small, 2)
    api.get(url, params)  # warm-up: per-connection set-up is not the view's work
    baseline, response = count_queries(api, url, params)
    assert baseline <= bound
    if endpoint:
        check_orders_info(response, 2)

    Order.objects.filter(channel=channel).delete()
    Customer.objects.filter(channel=channel).delete()
    make_customers_with_orders(channel, large, 5)
    with django_assert_max_num_queries(baseline):
        response = api.get(url, params)
    assert response.status_code == 200
    assert len(response.json()) == rows
    if endpoint:
        check_orders_info(response, 5)


def test_detailed_retrieve_query_count_does_not_grow_with_orders(
    api, channel, django_assert_max_num_queries
):
    [one] = make_customers_with_orders(channel, 1, 1)
    url = detailed_one(channel, one.pk)
    api.get(url)
    baseline, response = count_queries(api, url, {})
    assert baseline <= 5
    assert info_bytes(response.content) == [expected_info_bytes([("1.10", "0.00", "0.00")])]

    add_orders(one, [("1.10", "0.00", "0.00")] * 99)
    others = [CustomerFactory(channel=channel) for _ in range(20)]
    for other in others:
        add_orders(other, [("5.00", "0.00", "0.00")] * 3)
    with django_assert_max_num_queries(baseline):
        response = api.get(url)
    assert info_bytes(response.content) == [expected_info_bytes([("1.10", "0.00", "0.00")] * 100)]


def test_orders_info_sum_past_15_significant_digits_stays_exact(api, channel):
    customer = CustomerFactory(channel=channel)
    orders = [("9999999999.99", "0.00", "0.01")] * 1001
    add_orders(customer, orders)
    raw = api.get(detailed_one(channel, customer.pk)).content
    assert info_bytes(raw) == [expected_info_bytes(orders)]
