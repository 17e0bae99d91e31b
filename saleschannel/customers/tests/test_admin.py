"""The Django admin at /admin/ through the test client as a superuser: changelists with bounded
queries and capped counts, customer search and filters, the customer change page (orders inline,
`orders_info` totals), per-channel uniqueness as form errors, protected deletes, and the order,
channel, API token and channel grant admins."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from saleschannel.accounts.models import ApiToken, ChannelGrant, hash_token
from saleschannel.channels.models import Channel
from saleschannel.channels.tests.factories import ChannelFactory
from saleschannel.core.admin_utils import CappedCount, CappedCountPaginator
from saleschannel.customers import services
from saleschannel.customers.admin import INLINE_ORDERS, CustomerAdmin
from saleschannel.customers.models import Customer, CustomerHistory
from saleschannel.customers.tests.factories import CustomerFactory
from saleschannel.orders.models import Order
from saleschannel.orders.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

MAX_CHANGELIST_QUERIES = 8
CUSTOMERS_URL = "/admin/customers/customer/"
ORDERS_URL = "/admin/orders/order/"
JSON_FIELDS = (
    "attributes",
    "attribute_kwargs",
    "localized_attributes",
    "localized_attribute_kwargs",
    "extra_field",
)
ORDERS_PREFIX = "orders"  # the inline formset's prefix (Order.customer's related_name)


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser("root", "root@example.com", "a-password-1")


@pytest.fixture
def client(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def changelist_pks(response) -> list[int]:
    return [obj.pk for obj in response.context["cl"].result_list]


def form_errors(response) -> dict[str, list[str]]:
    errors = response.context["adminform"].form.errors
    return {name: list(messages) for name, messages in errors.items()}


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def customer_form_data(channel: Channel | None, **overrides) -> dict[str, str]:
    data = {
        "email": "new@example.com",
        "channel_code": "NEW-1",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone_number": "",
        "erp_code": "",
        "is_active": "on",
        "user_type": "registered",
        "gender": "",
        "date_of_birth": "",
        "date_joined_0": "",
        "date_joined_1": "",
        "attributes": "{}",
        "attribute_kwargs": "{}",
        "localized_attributes": "{}",
        "localized_attribute_kwargs": "{}",
        "extra_field": "{}",
        f"{ORDERS_PREFIX}-TOTAL_FORMS": "0",
        f"{ORDERS_PREFIX}-INITIAL_FORMS": "0",
        f"{ORDERS_PREFIX}-MIN_NUM_FORMS": "0",
        f"{ORDERS_PREFIX}-MAX_NUM_FORMS": "0",
    }
    if channel is not None:
        data["channel"] = str(channel.pk)
    data.update(overrides)
    return data


def customer_change_data(customer: Customer, **overrides) -> dict[str, str]:
    """The change form as the page sends it back unchanged (the channel is read-only there)."""
    orders = list(customer.orders.order_by("-pk")[:INLINE_ORDERS])
    data = customer_form_data(
        None,
        **{
            name: "" if getattr(customer, name) is None else str(getattr(customer, name))
            for name in (
                "email",
                "channel_code",
                "first_name",
                "last_name",
                "phone_number",
                "erp_code",
                "user_type",
                "gender",
                "date_of_birth",
            )
        },
        **{name: json.dumps(getattr(customer, name)) for name in JSON_FIELDS},
        loaded_version=str(customer.version),
        **{
            f"{ORDERS_PREFIX}-TOTAL_FORMS": str(len(orders)),
            f"{ORDERS_PREFIX}-INITIAL_FORMS": str(len(orders)),
        },
    )
    for flag in ("is_active", "email_allowed", "sms_allowed", "call_allowed"):
        data.pop(flag, None)
        if getattr(customer, flag):
            data[flag] = "on"
    if customer.date_joined is not None:
        joined = timezone.localtime(customer.date_joined)
        data["date_joined_0"] = joined.date().isoformat()
        data["date_joined_1"] = joined.time().isoformat()
    for index, order in enumerate(orders):
        data[f"{ORDERS_PREFIX}-{index}-id"] = str(order.pk)
        data[f"{ORDERS_PREFIX}-{index}-customer"] = str(customer.pk)
    data.update(overrides)
    return data


# --- changelists ----------------------------------------------------------------------------


def _make_channels(n):
    ChannelFactory.create_batch(n)


def _make_customers(n):
    CustomerFactory.create_batch(n, channel=ChannelFactory())


def _make_orders(n):
    customer = CustomerFactory()
    OrderFactory.create_batch(n, customer=customer)


def _make_tokens(n):
    user = get_user_model().objects.create_user("api-user")
    for index in range(n):
        ApiToken.objects.issue(user=user, name=f"token {index}")


def _make_grants(n):
    user = get_user_model().objects.create_user("api-user")
    for channel in ChannelFactory.create_batch(n):
        ChannelGrant.objects.create(user=user, channel=channel)


CHANGELISTS = [
    ("/admin/channels/channel/", Channel, _make_channels),
    (CUSTOMERS_URL, Customer, _make_customers),
    (ORDERS_URL, Order, _make_orders),
    ("/admin/accounts/apitoken/", ApiToken, _make_tokens),
    ("/admin/accounts/channelgrant/", ChannelGrant, _make_grants),
]


@pytest.mark.parametrize("rows", [1, 60])
@pytest.mark.parametrize(("url", "model", "make"), CHANGELISTS)
def test_changelist_shows_newest_rows_first_with_bounded_queries(
    client, django_assert_max_num_queries, url, model, make, rows
):
    make(rows)
    with django_assert_max_num_queries(MAX_CHANGELIST_QUERIES):
        response = client.get(url)
    assert response.status_code == 200
    per_page = response.context["cl"].list_per_page
    newest = list(model.objects.order_by("-pk").values_list("pk", flat=True)[:per_page])
    assert changelist_pks(response) == newest


@pytest.mark.parametrize("url", [CUSTOMERS_URL, ORDERS_URL])
def test_large_table_changelists_never_count_without_a_limit(client, url):
    _make_orders(3)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the changelist counted nothing"
    assert all(" LIMIT " in sql.upper() for sql in counts), counts


def _bulk_customers(channel: Channel, n: int) -> None:
    Customer.objects.bulk_create(
        Customer(channel=channel, email=f"bulk{i}@example.com", channel_code=f"B{i}")
        for i in range(n)
    )


def test_customer_changelist_reports_capped_count_and_reaches_pages_past_the_cap(client, channel):
    per_page, cap = CustomerAdmin.list_per_page, CustomerAdmin.count_cap
    total = per_page + cap + per_page + 1  # one row past the last page within page 1's horizon
    _bulk_customers(channel, total)

    first = client.get(CUSTOMERS_URL)
    assert first.status_code == 200
    horizon = per_page + cap
    assert first.context["cl"].result_count == horizon + 1
    assert f"{horizon}+ customers" in first.content.decode()
    last_linked = first.context["cl"].paginator.num_pages
    assert last_linked == -(-(horizon + 1) // per_page)

    # The last linked page exists; from there the horizon moves on and the count is exact.
    deeper = client.get(CUSTOMERS_URL, {"p": last_linked + 1})
    assert deeper.status_code == 200
    assert deeper.context["cl"].result_count == total
    assert f"{total} customers" in deeper.content.decode()
    oldest = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:1])
    assert changelist_pks(deeper) == oldest


@pytest.fixture
def twelve_customers(channel):
    _bulk_customers(channel, 12)
    return Customer.objects.filter(channel=channel).order_by("-pk")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    per_page=st.integers(min_value=1, max_value=5),
    cap=st.integers(min_value=0, max_value=15),
    page=st.integers(min_value=1, max_value=8),
)
def test_capped_paginator_is_exact_within_its_horizon_and_every_linked_page_has_rows(
    twelve_customers, per_page, cap, page
):
    paginator = CappedCountPaginator(twelve_customers, per_page, page_hint=page, cap=cap)
    horizon = page * per_page + cap
    if horizon < 12:
        assert isinstance(paginator.count, CappedCount)
        assert (int(paginator.count), str(paginator.count)) == (horizon + 1, f"{horizon}+")
    else:
        assert (paginator.count, str(paginator.count)) == (12, "12")
    assert len(paginator.page(paginator.num_pages).object_list) > 0
    if page <= paginator.num_pages:
        expected = list(twelve_customers[(page - 1) * per_page : page * per_page])
        assert list(paginator.page(page).object_list) == expected


# --- search and filters ---------------------------------------------------------------------


@pytest.fixture
def searchable(channel):
    target = CustomerFactory(
        channel=channel,
        email="Zeynep.Kaya@example.com",
        first_name="Zeynep",
        last_name="Kaya",
        phone_number="+905551112233",
        channel_code="MP-778899",
        erp_code="ERP-ABC-42",
    )
    CustomerFactory(
        channel=channel,
        email="ali@example.com",
        first_name="Ali",
        last_name="Yilmaz",
        phone_number="+905559998877",
        channel_code="MP-111111",
        erp_code="ERP-XYZ-7",
    )
    CustomerFactory(email="mehmet@example.org", first_name="Mehmet", last_name="Demir")
    return target


@pytest.mark.parametrize(
    ("term", "why"),
    [
        ("zeynep.kaya@example.com", "whole email, other case"),
        ("Zeynep.K", "email prefix"),
        ("zeyn", "first name prefix"),
        ("kay", "last name prefix"),
        ("+905551112233", "phone number"),
        ("MP-778899", "channel_code"),
        ("abc-4", "erp_code substring"),
    ],
)
def test_customer_search_finds_only_the_matching_customer(client, searchable, term, why):
    response = client.get(CUSTOMERS_URL, {"q": term})
    assert response.status_code == 200
    assert changelist_pks(response) == [searchable.pk], why


def test_customer_search_with_few_matches_reads_the_table_once(client, searchable):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CUSTOMERS_URL, {"q": "zeyn"})
    assert changelist_pks(response) == [searchable.pk]
    searches = [q["sql"] for q in queries.captured_queries if " LIKE " in q["sql"].upper()]
    assert len(searches) == 1, searches


def test_customer_search_with_more_matches_than_the_id_limit_counts_and_pages_them(client, channel):
    matching = CustomerAdmin.search_id_limit + 10
    _bulk_customers(channel, matching)
    CustomerFactory(channel=channel, email="other@example.com")
    response = client.get(CUSTOMERS_URL, {"q": "BULK"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == matching
    newest = Customer.objects.filter(email__startswith="bulk").order_by("-pk")
    per_page = CustomerAdmin.list_per_page
    assert changelist_pks(response) == list(newest.values_list("pk", flat=True)[:per_page])


@pytest.fixture
def filterable(channel, other_channel):
    return {
        "a": CustomerFactory(
            channel=channel, is_active=True, user_type="registered", gender="male"
        ),
        "b": CustomerFactory(channel=channel, is_active=False, user_type="guest", gender="female"),
        "c": CustomerFactory(
            channel=other_channel, is_active=True, user_type="guest", gender="female"
        ),
        "d": CustomerFactory(channel=other_channel, is_active=False, user_type=None, gender=None),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (lambda ch, other: {"channel__id__exact": ch.pk}, "ab"),
        (lambda ch, other: {"channel__id__exact": other.pk}, "cd"),
        (lambda ch, other: {"is_active__exact": "0"}, "bd"),
        (lambda ch, other: {"is_active__exact": "1"}, "ac"),
        (lambda ch, other: {"user_type__exact": "guest"}, "bc"),
        (lambda ch, other: {"gender__exact": "female"}, "bc"),
        (lambda ch, other: {"gender__exact": "female", "is_active__exact": "1"}, "c"),
        (lambda ch, other: {"channel__id__exact": ch.pk, "user_type__exact": "guest"}, "b"),
    ],
)
def test_customer_list_filters_select_matching_customers(
    client, filterable, channel, other_channel, params, expected
):
    response = client.get(CUSTOMERS_URL, params(channel, other_channel))
    assert response.status_code == 200
    wanted = sorted((filterable[key].pk for key in expected), reverse=True)
    assert changelist_pks(response) == wanted


# --- customer change page -------------------------------------------------------------------


def test_customer_change_page_shows_orders_inline_and_orders_info_totals(client, channel):
    customer = CustomerFactory(channel=channel)
    amounts = [
        (Decimal("10.50"), Decimal("1.25"), Decimal("0.00")),
        (Decimal("20.25"), Decimal("0.00"), Decimal("5.10")),
        (Decimal("30.00"), Decimal("2.00"), Decimal("0.05")),
    ]
    orders = [
        OrderFactory(customer=customer, amount=a, discount_amount=d, refund_amount=r)
        for a, d, r in amounts
    ]
    OrderFactory(channel=channel)  # another customer's order: not counted

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{CUSTOMERS_URL}{customer.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    inline = response.context["inline_admin_formsets"][0].formset
    assert [form.instance.pk for form in inline.forms] == [o.pk for o in reversed(orders)]
    for order in orders:
        assert order.number in html
    totals = [sum(column, Decimal("0")) for column in zip(*amounts, strict=True)]
    for label, value in zip(
        ["Total order count", "Total order amount", "Total discount amount", "Total refund amount"],
        [len(orders), *totals],
        strict=True,
    ):
        assert re.search(rf"{label}:</label>\s*<div class=\"readonly\">{value}</div>", html), label
    assert f"View all {len(orders)} orders" in html
    sums = [q for q in queries.captured_queries if "SUM(" in q["sql"].upper()]
    assert len(sums) == 1


def test_customer_change_page_without_orders_shows_zero_and_empty_totals(client, channel):
    customer = CustomerFactory(channel=channel)
    response = client.get(f"{CUSTOMERS_URL}{customer.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r"Total order count:</label>\s*<div class=\"readonly\">0</div>", html)
    assert re.search(r"Total order amount:</label>\s*<div class=\"readonly\">-</div>", html)
    assert "No orders." in html
    assert response.context["inline_admin_formsets"][0].formset.forms == []


def test_customer_change_page_inlines_only_the_latest_orders(client, channel):
    customer = CustomerFactory(channel=channel)
    orders = OrderFactory.create_batch(INLINE_ORDERS + 2, customer=customer)
    response = client.get(f"{CUSTOMERS_URL}{customer.pk}/change/")
    inline = response.context["inline_admin_formsets"][0].formset
    latest = [o.pk for o in reversed(orders)][:INLINE_ORDERS]
    assert [form.instance.pk for form in inline.forms] == latest
    html = response.content.decode()
    assert f"View all {len(orders)} orders" in html
    assert f"?customer__id__exact={customer.pk}" in html


def test_customer_edit_saves_fields_and_keeps_orders(client, channel):
    customer = CustomerFactory(channel=channel, first_name="Old")
    orders = OrderFactory.create_batch(2, customer=customer)
    response = client.post(
        f"{CUSTOMERS_URL}{customer.pk}/change/",
        customer_change_data(customer, first_name="New", attributes='{"tier": "gold"}'),
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.first_name, customer.attributes) == ("New", {"tier": "gold"})
    assert set(customer.orders.values_list("pk", flat=True)) == {o.pk for o in orders}


def test_customer_channel_cannot_be_changed_once_created(client, channel, other_channel):
    customer = CustomerFactory(channel=channel)
    response = client.post(
        f"{CUSTOMERS_URL}{customer.pk}/change/",
        customer_change_data(customer, channel=str(other_channel.pk)),
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.channel_id == channel.pk


def test_customer_change_page_carries_the_version_it_was_opened_at(client, channel):
    customer = CustomerFactory(channel=channel)
    Customer.objects.filter(pk=customer.pk).update(version=7)
    response = client.get(f"{CUSTOMERS_URL}{customer.pk}/change/")
    assert '<input type="hidden" name="loaded_version" value="7"' in response.content.decode()


def test_admin_edit_bumps_the_version_and_records_history_with_the_admin_as_actor(
    client, superuser, channel
):
    customer = CustomerFactory(channel=channel, first_name="Old", last_name="Same")
    response = client.post(
        f"{CUSTOMERS_URL}{customer.pk}/change/", customer_change_data(customer, first_name="New")
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name, customer.version) == ("New", "Same", 2)
    history = CustomerHistory.objects.get(customer_id=customer.pk)
    assert (history.action, history.actor_id, history.actor_username, history.changes) == (
        "update",
        superuser.pk,
        "root",
        {"first_name": ["Old", "New"]},
    )


def test_admin_save_without_changes_writes_nothing(client, channel):
    customer = CustomerFactory(channel=channel)
    modified = customer.modified_date
    response = client.post(f"{CUSTOMERS_URL}{customer.pk}/change/", customer_change_data(customer))
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.version, customer.modified_date) == (1, modified)
    assert not CustomerHistory.objects.exists()


def test_admin_add_and_delete_record_history(client, superuser, channel):
    response = client.post(f"{CUSTOMERS_URL}add/", customer_form_data(channel))
    assert response.status_code == 302
    created = Customer.objects.get()
    assert client.post(f"{CUSTOMERS_URL}{created.pk}/delete/", {"post": "yes"}).status_code == 302
    actions = list(
        CustomerHistory.objects.filter(customer_id=created.pk)
        .order_by("pk")
        .values_list("action", "actor_id")
    )
    assert actions == [("create", superuser.pk), ("delete", superuser.pk)]


def test_admin_edit_of_a_page_opened_before_another_change_is_refused(client, channel):
    customer = CustomerFactory(channel=channel, first_name="Opened")
    stale_form = customer_change_data(customer, first_name="From the admin")
    services.customer_update(
        channel=channel, customer_id=customer.pk, data={"first_name": "From the API"}, partial=True
    )
    response = client.post(f"{CUSTOMERS_URL}{customer.pk}/change/", stale_form)
    assert response.status_code == 200
    assert list(form_errors(response)) == ["loaded_version"]
    assert "changed by someone else" in response.content.decode()
    customer.refresh_from_db()
    assert (customer.first_name, customer.version) == ("From the API", 2)


def test_api_if_match_with_the_etag_from_before_an_admin_edit_fails(client, api, channel):
    customer = CustomerFactory(channel=channel)
    url = f"/api/v1/channel/{channel.pk}/customers/{customer.pk}/"
    etag = api.get(url)["ETag"]
    client.post(
        f"{CUSTOMERS_URL}{customer.pk}/change/", customer_change_data(customer, last_name="Admin")
    )
    response = api.patch(url, {"last_name": "API"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 412
    customer.refresh_from_db()
    assert customer.last_name == "Admin"


# --- per-channel uniqueness -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "make_value"),
    [
        ("email", lambda existing: existing.email.upper()),
        ("email", lambda existing: existing.email.title()),
        ("channel_code", lambda existing: existing.channel_code),
    ],
)
def test_admin_add_refuses_a_duplicate_in_the_same_channel_with_a_field_error(
    client, channel, field, make_value
):
    existing = CustomerFactory(channel=channel)
    before = Customer.objects.count()
    response = client.post(
        f"{CUSTOMERS_URL}add/", customer_form_data(channel, **{field: make_value(existing)})
    )
    assert response.status_code == 200
    assert form_errors(response) == {field: [services.UNIQUE_MESSAGES[field]]}
    assert services.UNIQUE_MESSAGES[field] in response.content.decode()
    assert Customer.objects.count() == before


def test_admin_add_accepts_the_same_email_and_channel_code_in_another_channel(
    client, channel, other_channel
):
    existing = CustomerFactory(channel=channel)
    response = client.post(
        f"{CUSTOMERS_URL}add/",
        customer_form_data(
            other_channel, email=existing.email.upper(), channel_code=existing.channel_code
        ),
    )
    assert response.status_code == 302
    created = Customer.objects.get(channel=other_channel)
    assert (created.email, created.channel_code) == (existing.email.upper(), existing.channel_code)
    assert (created.attributes, created.phone_number, created.erp_code) == ({}, None, None)


@pytest.mark.parametrize("field", ["email", "channel_code"])
def test_admin_edit_refuses_another_customers_value_in_the_channel(client, channel, field):
    taken = CustomerFactory(channel=channel)
    customer = CustomerFactory(channel=channel)
    original = getattr(customer, field)
    response = client.post(
        f"{CUSTOMERS_URL}{customer.pk}/change/",
        customer_change_data(customer, **{field: getattr(taken, field).upper()}),
    )
    assert response.status_code == 200
    assert form_errors(response) == {field: [services.UNIQUE_MESSAGES[field]]}
    customer.refresh_from_db()
    assert getattr(customer, field) == original


def test_admin_edit_keeps_own_email_in_another_case(client, channel):
    customer = CustomerFactory(channel=channel, email="own@example.com")
    response = client.post(
        f"{CUSTOMERS_URL}{customer.pk}/change/",
        customer_change_data(customer, email="OWN@example.com"),
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.email == "OWN@example.com"


@pytest.mark.parametrize(
    ("raw", "error"),
    [("[1, 2]", "Enter a JSON object."), ('"text"', "Enter a JSON object."), ("{", None)],
)
def test_admin_refuses_json_fields_that_are_not_objects(client, channel, raw, error):
    response = client.post(f"{CUSTOMERS_URL}add/", customer_form_data(channel, attributes=raw))
    assert response.status_code == 200
    errors = form_errors(response)
    assert list(errors) == ["attributes"]
    if error:
        assert errors["attributes"] == [error]
    assert not Customer.objects.exists()


def test_admin_stores_an_empty_json_field_as_an_empty_object(client, channel):
    response = client.post(
        f"{CUSTOMERS_URL}add/", customer_form_data(channel, extra_field="", attributes="null")
    )
    assert response.status_code == 302
    created = Customer.objects.get()
    assert (created.extra_field, created.attributes) == ({}, {})


# --- deletes --------------------------------------------------------------------------------


def test_admin_refuses_to_delete_a_customer_with_orders(client, channel):
    customer = CustomerFactory(channel=channel)
    order = OrderFactory(customer=customer)
    url = f"{CUSTOMERS_URL}{customer.pk}/delete/"
    page = client.get(url)
    assert page.status_code == 200
    assert "would require deleting the following protected related objects" in (
        page.content.decode()
    )
    assert order.number in page.content.decode()
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 200
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert Order.objects.filter(pk=order.pk).exists()


def test_admin_deletes_a_customer_without_orders(client, channel):
    customer = CustomerFactory(channel=channel)
    response = client.post(f"{CUSTOMERS_URL}{customer.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Customer.objects.filter(pk=customer.pk).exists()


# --- orders ---------------------------------------------------------------------------------


def order_form_data(channel: Channel, customer: Customer, **overrides) -> dict[str, str]:
    data = {
        "channel": str(channel.pk),
        "customer": str(customer.pk),
        "number": "ADM-1",
        "status": "400",
        "currency": "try",
        "amount": "12.34",
        "discount_amount": "0",
        "refund_amount": "0",
        "created_date_0": "2025-01-02",
        "created_date_1": "03:04:05",
    }
    data.update(overrides)
    return data


def test_order_admin_stores_currency_in_upper_case(client, channel):
    customer = CustomerFactory(channel=channel)
    response = client.post(f"{ORDERS_URL}add/", order_form_data(channel, customer))
    assert response.status_code == 302
    order = Order.objects.get()
    assert (order.currency, order.amount) == ("TRY", Decimal("12.34"))
    assert (order.channel_id, order.customer_id) == (channel.pk, customer.pk)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "TR"}, "currency"),
        ({"currency": "T1Y"}, "currency"),
        ({"amount": "-1.00"}, "amount"),
        ({"refund_amount": "-0.01"}, "refund_amount"),
    ],
)
def test_order_admin_refuses_invalid_values(client, channel, overrides, field):
    customer = CustomerFactory(channel=channel)
    response = client.post(f"{ORDERS_URL}add/", order_form_data(channel, customer, **overrides))
    assert response.status_code == 200
    assert list(form_errors(response)) == [field]
    assert not Order.objects.exists()


def test_order_admin_refuses_a_customer_of_another_channel(client, channel, other_channel):
    stranger = CustomerFactory(channel=other_channel)
    response = client.post(f"{ORDERS_URL}add/", order_form_data(channel, stranger))
    assert response.status_code == 200
    assert list(form_errors(response)) == ["customer"]
    assert not Order.objects.exists()


def test_order_admin_refuses_a_duplicate_number_in_the_channel(client, channel):
    existing = OrderFactory(channel=channel, customer=CustomerFactory(channel=channel))
    response = client.post(
        f"{ORDERS_URL}add/", order_form_data(channel, existing.customer, number=existing.number)
    )
    assert response.status_code == 200
    assert form_errors(response)
    assert Order.objects.count() == 1


def test_order_search_and_filters_select_matching_orders(client, channel, other_channel):
    customer = CustomerFactory(channel=channel)
    a = OrderFactory(customer=customer, number="AB-100", status="400", currency="TRY")
    b = OrderFactory(customer=customer, number="AB-200", status="500", currency="EUR")
    c = OrderFactory(customer=CustomerFactory(channel=other_channel), number="CD-1", status="500")
    cases = [
        ({"q": "ab-"}, [b, a]),
        ({"status": "500"}, [c, b]),
        ({"currency": "eur"}, [b]),
        ({"channel__id__exact": other_channel.pk}, [c]),
        ({"customer__id__exact": customer.pk, "status": "400"}, [a]),
    ]
    for params, expected in cases:
        response = client.get(ORDERS_URL, params)
        assert response.status_code == 200, params
        assert changelist_pks(response) == [o.pk for o in expected], params
    choices = response.context["cl"].filter_specs[1].lookup_choices
    assert [value for value, _ in choices] == ["400", "500"]


# --- channels -------------------------------------------------------------------------------


def channel_form_data(**overrides) -> dict[str, str]:
    data = {
        "name": "Web shop",
        "channel_type": "web",
        "catalog": "7",
        "is_active": "on",
        "conf": '{"url": "https://shop.example"}',
        "category_tree": "",
        "schema": "",
    }
    data.update(overrides)
    return data


def test_channel_admin_creates_a_channel(client):
    response = client.post("/admin/channels/channel/add/", channel_form_data())
    assert response.status_code == 302
    created = Channel.objects.get()
    assert (created.name, created.catalog, created.conf, created.schema) == (
        "Web shop",
        7,
        {"url": "https://shop.example"},
        None,
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"conf": '{"retries": 3}'}, "conf"),
        ({"conf": "[]"}, "conf"),
        ({"schema": "[]"}, "schema"),
        ({"catalog": str(2**63)}, "catalog"),
        ({"channel_type": "telegraph"}, "channel_type"),
    ],
)
def test_channel_admin_refuses_invalid_values(client, overrides, field):
    response = client.post("/admin/channels/channel/add/", channel_form_data(**overrides))
    assert response.status_code == 200
    assert list(form_errors(response)) == [field]
    assert not Channel.objects.exists()


def test_channel_search_and_filters(client):
    web = ChannelFactory(name="Istanbul web", channel_type="web", is_active=True)
    ChannelFactory(name="Ankara web", channel_type="web", is_active=False)
    amazon = ChannelFactory(name="Istanbul amazon", channel_type="amazon", is_active=True)
    url = "/admin/channels/channel/"
    assert changelist_pks(client.get(url, {"q": "istanbul"})) == [amazon.pk, web.pk]
    assert changelist_pks(client.get(url, {"channel_type__exact": "amazon"})) == [amazon.pk]
    assert changelist_pks(client.get(url, {"q": "web", "is_active__exact": "1"})) == [web.pk]


# --- API tokens and grants ------------------------------------------------------------------


def test_token_add_shows_the_key_once_and_stores_only_its_digest(client, superuser):
    api_user = get_user_model().objects.create_user("api-user")
    response = client.post(
        "/admin/accounts/apitoken/add/", {"user": str(api_user.pk), "name": "ci"}, follow=True
    )
    assert response.status_code == 200
    keys = [m for text in messages_of(response) for m in re.findall(r"\b[0-9a-f]{40}\b", text)]
    assert len(keys) == 1
    key = keys[0]
    token = ApiToken.objects.get()
    assert (token.user_id, token.name, token.digest, token.prefix) == (
        api_user.pk,
        "ci",
        hash_token(key),
        key[:8],
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/active_user/").status_code == 200

    # Never shown again: not on the list, not on the token's page, not on the next page load.
    for url in ["/admin/accounts/apitoken/", f"/admin/accounts/apitoken/{token.pk}/change/"]:
        page = client.get(url)
        assert page.status_code == 200
        assert key not in page.content.decode()
        assert token.digest not in page.content.decode()
        assert token.prefix in page.content.decode()


def test_token_page_is_read_only(client):
    token, _ = ApiToken.objects.issue(user=get_user_model().objects.create_user("u"), name="x")
    url = f"/admin/accounts/apitoken/{token.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    response = client.post(url, {"user": str(token.user_id), "name": "renamed"})
    assert response.status_code == 403
    token.refresh_from_db()
    assert token.name == "x"


def test_token_delete_revokes_it(client):
    token, key = ApiToken.objects.issue(user=get_user_model().objects.create_user("u"), name="x")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/active_user/").status_code == 200
    response = client.post(f"/admin/accounts/apitoken/{token.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not ApiToken.objects.exists()
    assert api.get("/api/v1/active_user/").status_code == 401


def test_staff_without_superuser_status_cannot_issue_tokens():
    from django.contrib.auth.models import Permission

    staff = get_user_model().objects.create_user("staff", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__endswith="_apitoken"))
    target = get_user_model().objects.create_superuser("boss", "boss@example.com", "x")
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/accounts/apitoken/").status_code == 200
    assert client.get("/admin/accounts/apitoken/add/").status_code == 403
    response = client.post("/admin/accounts/apitoken/add/", {"user": str(target.pk), "name": "x"})
    assert response.status_code == 403
    assert not ApiToken.objects.exists()


def test_channel_grant_admin_adds_a_grant_and_refuses_a_duplicate(client, channel):
    user = get_user_model().objects.create_user("api-user")
    data = {"user": str(user.pk), "channel": str(channel.pk)}
    assert client.post("/admin/accounts/channelgrant/add/", data).status_code == 302
    assert list(ChannelGrant.objects.values_list("user_id", "channel_id")) == [
        (user.pk, channel.pk)
    ]
    again = client.post("/admin/accounts/channelgrant/add/", data)
    assert again.status_code == 200
    assert form_errors(again) == {
        "__all__": ["Channel grant with this User and Channel already exists."]
    }
    assert ChannelGrant.objects.count() == 1


def test_django_user_admin_is_kept(client, superuser):
    response = client.get(f"/admin/auth/user/{superuser.pk}/change/")
    assert response.status_code == 200
    assert "root@example.com" in response.content.decode()


# --- static files ---------------------------------------------------------------------------


def test_admin_stylesheet_is_served_without_collectstatic(client):
    response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"--primary" in body


def test_admin_requires_a_staff_login():
    response = Client().get(CUSTOMERS_URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("page", ["99999999999999999999999", "-3", "abc"])
def test_customer_changelist_with_an_unusable_page_number_is_not_an_error(client, channel, page):
    _bulk_customers(channel, CustomerAdmin.list_per_page + 1)
    response = client.get(CUSTOMERS_URL, {"p": page})
    if page == "abc":  # Django reads it as page 1
        assert response.status_code == 200
        assert len(changelist_pks(response)) == CustomerAdmin.list_per_page
    else:  # Django's answer to a page that does not exist
        assert response.status_code == 302
        assert response["Location"] == f"{CUSTOMERS_URL}?e=1"


def test_history_changelist_lists_entries_and_is_read_only(client, channel):
    from saleschannel.customers.models import CustomerHistory
    from saleschannel.customers.services import customer_create

    customer = customer_create(
        channel=channel,
        data={
            "email": "history@example.com",
            "channel_code": "H-1",
            "is_active": True,
            "email_allowed": False,
            "sms_allowed": False,
            "call_allowed": False,
        },
    )
    entry = CustomerHistory.objects.get(customer_id=customer.pk)

    listing = client.get("/admin/customers/customerhistory/")
    assert listing.status_code == 200
    assert changelist_pks(listing) == [entry.pk]
    assert client.get("/admin/customers/customerhistory/add/").status_code == 403
    assert (
        client.post(
            f"/admin/customers/customerhistory/{entry.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert CustomerHistory.objects.filter(pk=entry.pk).exists()
