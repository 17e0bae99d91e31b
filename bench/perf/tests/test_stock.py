"""The stock DRF build answers every benchmark request with the same customers, totals and
orders_info as this app, so the benchmark compares equal work."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal

import pytest
from django.test import override_settings

from bench.perf import dataset, run
from saleschannel.channels.tests.factories import ChannelFactory
from saleschannel.customers.models import Customer
from saleschannel.orders.models import Order

pytestmark = pytest.mark.django_db

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SPAN_S = 3 * 365.25 * 86400
START = NOW - dt.timedelta(seconds=SPAN_S)
JSON_COLUMNS = {
    "attributes",
    "attribute_kwargs",
    "localized_attributes",
    "localized_attribute_kwargs",
    "extra_field",
}
FIRST_ID = 7_000_000
PLACEHOLDER = run.ChannelProbe(
    id=1,
    label="big",
    size=1,
    customer={
        "id": 1,
        "email": "a.b.1@example.com",
        "channel_code": "1",
        "phone_number": "+90 555 000 00 00",
        "first_name": "A",
        "last_name": "B",
        "erp_code": "ERP-000001",
        "created_date": NOW,
        "date_joined": NOW,
    },
    created_q90=NOW,
    modified_q10=NOW,
    pk_sample=[1],
)
FILTER_NAMES = [name for name, _ in run.filter_params(PLACEHOLDER)]


@pytest.fixture
def data():
    """Two channels of generated customers (interleaved, 120 + 30) and generated orders."""
    channels = [ChannelFactory(), ChannelFactory()]
    ids = [c.pk for c in channels]
    layout = dataset.Layout(120, 30, 1)
    rng = random.Random(11)
    customers = []
    for row in dataset.customers(rng, layout, ids, FIRST_ID, START, SPAN_S):
        values = dict(zip(dataset.CUSTOMER_COLUMNS, row, strict=True))
        for column in JSON_COLUMNS:
            values[column] = json.loads(values[column])
        customers.append(Customer(**values))
    Customer.objects.bulk_create(customers)
    # bulk_create stamps auto_now(_add) fields with the current time; put the generated ones back.
    Customer.objects.bulk_update(customers, ["created_date", "modified_date"])
    orders = []
    for row in dataset.orders(rng, 600, layout, ids, FIRST_ID, 1, START, SPAN_S):
        values = dict(zip(dataset.ORDER_COLUMNS, row, strict=True))
        for column in ("amount", "discount_amount", "refund_amount"):
            values[column] = Decimal(values[column])
        orders.append(Order(**values))
    Order.objects.bulk_create(orders)
    return channels


def probe(channel) -> run.ChannelProbe:
    """What run.py's probe_channel reads from PostgreSQL, read through the ORM."""
    rows = list(Customer.objects.filter(channel=channel).order_by("pk"))
    middle = next(
        c
        for c in rows[len(rows) // 2 :]
        if c.phone_number and c.erp_code and c.date_joined is not None
    )
    created = sorted(c.created_date for c in rows)
    modified = sorted(c.modified_date for c in rows)
    return run.ChannelProbe(
        id=channel.pk,
        label=str(channel.pk),
        size=len(rows),
        customer={
            "id": middle.pk,
            "email": middle.email,
            "channel_code": middle.channel_code,
            "phone_number": middle.phone_number,
            "first_name": middle.first_name,
            "last_name": middle.last_name,
            "erp_code": middle.erp_code,
            "created_date": middle.created_date,
            "date_joined": middle.date_joined,
        },
        created_q90=created[int(len(rows) * 0.9)],
        modified_q10=modified[int(len(rows) * 0.1)],
        pk_sample=[rows[len(rows) * k // 10].pk for k in range(10)],
    )


def get_both(client, path: str):
    ours = client.get(path)
    with override_settings(ROOT_URLCONF="bench.perf.stock.urls"):
        stock = client.get(path)
    return ours, stock


@pytest.mark.parametrize("name", FILTER_NAMES)
@pytest.mark.parametrize("which", [0, 1], ids=["big channel", "small channel"])
def test_stock_lists_the_same_customers_as_ours_for_each_benchmark_filter(
    make_client, data, name, which
):
    client = make_client(superuser=True)
    params = dict(run.filter_params(probe(data[which])))[name]
    path = run.customers_path(data[which].pk, params={**params, "limit": 1000})

    ours, stock = get_both(client, path)

    assert ours.status_code == 200, ours.json()
    assert stock.status_code == 200, stock.content[:300]
    ours_pks = run.pks(ours.content)
    assert ours_pks, f"{name} matches no customer: the benchmark would measure an empty page"
    assert run.pks(stock.content) == ours_pks
    assert stock.json()["count"] == int(ours["X-Total-Count"]) == len(ours_pks)
    expected = Customer.objects.filter(channel=data[which], pk__in=ours_pks).count()
    assert expected == len(ours_pks)


@pytest.mark.parametrize("suffix", ["?limit=100", "?limit=10&page=2"])
def test_stock_pages_hold_the_same_customers_as_ours(make_client, data, suffix):
    client = make_client(superuser=True)
    path = run.customers_path(data[0].pk) + suffix

    ours, stock = get_both(client, path)

    assert ours.status_code == stock.status_code == 200
    assert run.pks(ours.content) == run.pks(stock.content)
    assert len(run.pks(ours.content)) == (100 if "100" in suffix else 10)


def test_stock_detailed_list_has_the_same_orders_info_as_ours(make_client, data):
    client = make_client(superuser=True)
    path = run.customers_path(data[0].pk, "detailed/", {"limit": 100})

    ours, stock = get_both(client, path)

    assert ours.status_code == stock.status_code == 200
    info = run.orders_info(ours.content)
    assert len(info) == 100
    assert info == run.orders_info(stock.content)
    first = run.pks(ours.content)[0]
    amounts = [o.amount for o in Order.objects.filter(customer_id=first)]
    assert info[0]["total_order_count"] == len(amounts)
    assert info[0]["total_order_amount"] == (float(sum(amounts)) if amounts else None)
    assert stock.json()["results"][0]["channel"]["id"] == data[0].pk


def test_stock_retrieve_and_detailed_retrieve_match_ours(make_client, data):
    client = make_client(superuser=True)
    customer = probe(data[1]).customer["id"]

    for suffix in (f"{customer}/", f"{customer}/detailed/"):
        ours, stock = get_both(client, run.customers_path(data[1].pk, suffix))
        assert ours.status_code == stock.status_code == 200
        assert run.pks(ours.content) == run.pks(stock.content) == customer
        assert run.orders_info(ours.content) == run.orders_info(stock.content)
        assert set(stock.json()) == set(ours.json())


def test_stock_creates_and_patches_like_the_benchmark_scripts_do(make_client, data):
    client = make_client(superuser=True)
    body = {
        "email": "bench-1@perf.example.com",
        "channel_code": "bench-1",
        "first_name": "Perf",
        "is_active": True,
        "email_allowed": True,
        "sms_allowed": False,
        "call_allowed": False,
        "channel": data[0].pk,
        "attributes": {"segment": "silver", "visits": 1, "city": "Izmir"},
        "date_of_birth": "1990-05-17",
    }
    target = probe(data[0]).customer["id"]
    with override_settings(ROOT_URLCONF="bench.perf.stock.urls"):
        created = client.post(run.customers_path(data[0].pk), body, format="json")
        patched = client.patch(
            run.customers_path(data[0].pk, f"{target}/"),
            {"phone_number": "+90 555 123 45 67"},
            format="json",
        )

    assert created.status_code == 201, created.content
    new = Customer.objects.get(pk=created.json()["pk"])
    assert (new.channel_id, new.email, new.attributes) == (
        data[0].pk,
        "bench-1@perf.example.com",
        {"segment": "silver", "visits": 1, "city": "Izmir"},
    )
    assert patched.status_code == 200, patched.content
    assert Customer.objects.get(pk=target).phone_number == "+90 555 123 45 67"


def test_stock_answers_404_for_an_unknown_channel(make_client, data):
    client = make_client(superuser=True)
    with override_settings(ROOT_URLCONF="bench.perf.stock.urls"):
        response = client.get(run.customers_path(999_999))
    assert response.status_code == 404
