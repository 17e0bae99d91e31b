"""The benchmark data set generator: exact channel sizes, valid and unique rows, and a COPY load
into PostgreSQL that leaves every index and constraint as the migrations made them."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import os
import random
import re
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.perf import dataset
from saleschannel.channels.models import Channel
from saleschannel.customers.models import Customer, Gender, UserType
from saleschannel.customers.serializers import CustomerSerializer
from saleschannel.orders.models import Order

ROOT = Path(__file__).resolve().parents[3]
START = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
SPAN_S = 3 * 365.25 * 86400


def generate(big: int, small: int, n_small: int, seed: int = 7):
    layout = dataset.Layout(big, small, n_small)
    channel_ids = [100 + k for k in range(n_small + 1)]
    rows = list(dataset.customers(random.Random(seed), layout, channel_ids, 5000, START, SPAN_S))
    return layout, channel_ids, rows


def as_dicts(rows) -> list[dict]:
    return [dict(zip(dataset.CUSTOMER_COLUMNS, row, strict=True)) for row in rows]


@settings(max_examples=50, deadline=None)
@given(
    small=st.integers(min_value=1, max_value=40),
    factor=st.integers(min_value=1, max_value=12),
    n_small=st.integers(min_value=0, max_value=9),
)
def test_layout_gives_each_channel_exactly_its_size(small, factor, n_small):
    big = small * factor
    layout = dataset.Layout(big, small, n_small)
    counts = Counter(layout.channel_index(p) for p in range(layout.total))
    assert layout.total == big + small * n_small
    assert counts[0] == big
    assert all(counts[k] == small for k in range(1, n_small + 1))
    assert set(counts) == set(range(n_small + 1))


def test_layout_interleaves_the_small_channels_over_the_whole_table():
    layout = dataset.Layout(1000, 100, 9)
    positions = [p for p in range(layout.total) if layout.channel_index(p) == 3]
    # One row of the channel in every block of 19: spread from the start to the end.
    assert positions[0] < 19
    assert positions[-1] >= layout.total - 19
    assert all(b - a == 19 for a, b in itertools.pairwise(positions))


def test_copy_columns_cover_every_not_null_column_of_both_models():
    for model, columns in ((Customer, dataset.CUSTOMER_COLUMNS), (Order, dataset.ORDER_COLUMNS)):
        fields = model._meta.concrete_fields
        assert set(columns) <= {f.column for f in fields}
        assert {f.column for f in fields if not f.null} <= set(columns), model


def test_generated_customers_have_each_channel_size_and_consecutive_ids():
    _layout, _channel_ids, rows = generate(300, 30, 3)
    customers = as_dicts(rows)
    assert [c["id"] for c in customers] == list(range(5000, 5000 + 390))
    counts = Counter(c["channel_id"] for c in customers)
    assert counts == {100: 300, 101: 30, 102: 30, 103: 30}


def test_generated_emails_and_channel_codes_are_unique_per_channel():
    _, _, rows = generate(400, 40, 2)
    customers = as_dicts(rows)
    emails = Counter((c["channel_id"], c["email"].lower()) for c in customers)
    codes = Counter((c["channel_id"], c["channel_code"]) for c in customers)
    assert max(emails.values()) == 1
    assert max(codes.values()) == 1
    assert all(c["email"] == c["email"].lower() for c in customers)


def test_generated_fields_follow_their_formats_and_ranges():
    _, _, rows = generate(300, 30, 3)
    customers = as_dicts(rows)
    genders = {None, *Gender.values}
    user_types = {None, *UserType.values}
    for c in customers:
        assert c["first_name"] in dataset.FIRST_NAMES
        assert c["last_name"] in dataset.LAST_NAMES
        assert c["erp_code"] is None or re.fullmatch(r"ERP-\d{6}", c["erp_code"])
        assert c["phone_number"] is None or re.fullmatch(
            r"\+90 5\d\d \d{3} \d\d \d\d", c["phone_number"]
        )
        attributes = json.loads(c["attributes"])
        assert set(attributes) == {"segment", "visits", "city"}
        assert attributes["segment"] in {"gold", "silver", "bronze"}
        assert 0 <= attributes["visits"] <= 500
        assert attributes["city"] in dataset.CITIES
        extra = json.loads(c["extra_field"])
        assert extra["source"] in dataset.SOURCES
        assert isinstance(extra["newsletter"], bool)
        for column in ("attribute_kwargs", "localized_attributes", "localized_attribute_kwargs"):
            assert isinstance(json.loads(c[column]), dict)
        assert c["gender"] in genders
        assert c["user_type"] in user_types
        assert START <= c["created_date"] <= START + dt.timedelta(seconds=SPAN_S)
        assert c["created_date"] <= c["modified_date"] <= START + dt.timedelta(seconds=SPAN_S)
        assert c["date_joined"] is None or c["date_joined"] <= c["created_date"]
        assert c["date_of_birth"] is None or (
            dt.date(1950, 1, 1) <= c["date_of_birth"] <= dt.date(2006, 12, 31)
        )
        assert c["version"] == 1


def test_generated_customers_rise_in_created_date_with_the_id():
    _, _, rows = generate(300, 30, 3)
    created = [c["created_date"] for c in as_dicts(rows)]
    # Each row is the previous one's time plus one step, give or take up to an hour of jitter.
    assert all(b - a > -dt.timedelta(hours=1) for a, b in itertools.pairwise(created))
    assert created[-1] - created[0] > dt.timedelta(days=3 * 365 - 10)


def test_generated_customers_are_valid_api_input():
    _, _, rows = generate(100, 10, 2)
    channel = Channel(pk=100)
    for c in as_dicts(rows)[:60]:
        body = {
            name: c[name]
            for name in (
                "email",
                "first_name",
                "last_name",
                "phone_number",
                "is_active",
                "channel_code",
                "erp_code",
                "email_allowed",
                "sms_allowed",
                "call_allowed",
                "gender",
                "user_type",
            )
        }
        for name in ("attributes", "attribute_kwargs", "localized_attributes", "extra_field"):
            body[name] = json.loads(c[name])
        body["date_joined"] = c["date_joined"] and c["date_joined"].isoformat()
        body["date_of_birth"] = c["date_of_birth"] and c["date_of_birth"].isoformat()
        serializer = CustomerSerializer(data=body, context={"channel": channel})
        assert serializer.is_valid(), (body, serializer.errors)


@pytest.mark.parametrize("total", [19, 390, 190_000, 1_090_000])
def test_order_rank_to_customer_map_is_a_bijection(total):
    stride = next(p for p in dataset.STRIDES if math.gcd(p, total) == 1)
    assert len({(k * stride) % total for k in range(total)}) == total


def test_generated_orders_belong_to_a_customer_of_their_own_channel():
    layout = dataset.Layout(300, 30, 3)
    channel_ids = [100, 101, 102, 103]
    step = SPAN_S / layout.total
    orders = [
        dict(zip(dataset.ORDER_COLUMNS, row, strict=True))
        for row in dataset.orders(
            random.Random(3), 3000, layout, channel_ids, 5000, 90, START, SPAN_S
        )
    ]
    assert [o["id"] for o in orders] == list(range(90, 90 + 3000))
    assert len({o["number"] for o in orders}) == 3000
    for o in orders:
        position = o["customer_id"] - 5000
        assert 0 <= position < layout.total
        assert o["channel_id"] == channel_ids[layout.channel_index(position)]
        amount, discount, refund = (
            Decimal(o[k]) for k in ("amount", "discount_amount", "refund_amount")
        )
        assert all(re.fullmatch(r"\d+\.\d\d", o[k]) for k in ("amount", "discount_amount"))
        assert Decimal("10.00") <= amount <= Decimal("5000.00")
        assert discount + refund <= amount
        assert o["status"] in dataset.ORDER_STATUSES
        assert o["currency"] in {"TRY", "USD", "EUR", "GBP"}
        assert o["created_date"] >= START + dt.timedelta(seconds=position * step - 1)
    per_customer = Counter(o["customer_id"] for o in orders)
    # Skewed: someone buys far more than the mean (7.7), and some never buy.
    assert max(per_customer.values()) > 3 * 3000 / layout.total
    assert len(per_customer) < layout.total


# --- the load itself (PostgreSQL only: COPY) ------------------------------------------------


def database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    host = f"{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
    return f"postgres://{s['USER']}{password}@{host}/{s['NAME']}"


def run_dataset(*args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"DATABASE_URL": database_url()}
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "perf" / "dataset.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def schema_of(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY 1", [table]
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass ORDER BY 1",
            [table],
        )
        return indexes + cursor.fetchall()


SIZES = ["--big", "300", "--small", "30", "--small-channels", "3", "--orders", "1000"]


@pytest.mark.django_db(transaction=True)
def test_load_fills_postgres_keeps_the_schema_and_the_api_serves_the_data(make_client):
    if connection.vendor != "postgresql":
        pytest.skip("the data set is loaded with PostgreSQL COPY")
    before = {t: schema_of(t) for t in ("customers_customer", "orders_order")}

    result = run_dataset(*SIZES)

    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout.strip().splitlines()[-1])
    sizes = {c["name"]: c["customers"] for c in manifest["channels"]}
    assert sizes == {"perf-big": 300, "perf-small-1": 30, "perf-small-2": 30, "perf-small-3": 30}
    for entry in manifest["channels"]:
        assert Customer.objects.filter(channel_id=entry["id"]).count() == entry["customers"]
    assert Order.objects.count() == 1000
    assert {t: schema_of(t) for t in before} == before
    # The id sequences were moved past the loaded rows: the API can create more.
    api = make_client(superuser=True)
    small = next(c["id"] for c in manifest["channels"] if c["name"] == "perf-small-2")
    created = api.post(
        f"/api/v1/channel/{small}/customers/",
        {
            "email": "new@perf.example.com",
            "channel_code": "NEW-1",
            "is_active": True,
            "email_allowed": False,
            "sms_allowed": False,
            "call_allowed": False,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["pk"] > Customer.objects.exclude(pk=created.json()["pk"]).latest("pk").pk

    response = api.get(f"/api/v1/channel/{small}/customers/detailed/?limit=100")
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 31
    for row in rows:
        orders = Order.objects.filter(channel_id=small, customer_id=row["pk"])
        assert row["orders_info"]["total_order_count"] == orders.count()
        if orders:
            expected = sum(o.amount for o in orders)
            assert Decimal(str(row["orders_info"]["total_order_amount"])) == expected


@pytest.mark.django_db(transaction=True)
def test_load_refuses_a_database_with_data_unless_reset():
    if connection.vendor != "postgresql":
        pytest.skip("the data set is loaded with PostgreSQL COPY")
    assert run_dataset(*SIZES).returncode == 0
    first_ids = set(Channel.objects.values_list("pk", flat=True))

    refused = run_dataset(*SIZES)

    assert refused.returncode != 0
    assert "pass --reset" in refused.stderr
    assert set(Channel.objects.values_list("pk", flat=True)) == first_ids

    reloaded = run_dataset(*SIZES, "--reset")

    assert reloaded.returncode == 0, reloaded.stderr
    assert Channel.objects.count() == 4
    assert Customer.objects.count() == 390
    assert Order.objects.count() == 1000
