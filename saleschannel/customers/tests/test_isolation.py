"""Channel access control (grants, read-only users) and isolation of one channel's customers."""

from __future__ import annotations

import datetime as dt

import pytest

from saleschannel.customers.models import Customer
from saleschannel.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NOT_FOUND = {"detail": "Not found.", "code": "not_found"}
PERMISSION_DENIED = {
    "detail": "You do not have permission to perform this action.",
    "code": "permission_denied",
}


def base(channel_id) -> str:
    return f"/api/v1/channel/{channel_id}/customers/"


def new_customer_body(**overrides) -> dict:
    body = {
        "email": "new.person@example.com",
        "channel_code": "NEW-1",
        "is_active": True,
        "email_allowed": False,
        "sms_allowed": False,
        "call_allowed": False,
        "first_name": "New",
    }
    body.update(overrides)
    return body


def snapshot(customer: Customer) -> dict:
    """Every column of the row as stored now (modified_date included)."""
    return Customer.objects.filter(pk=customer.pk).values().get()


def missing_channel_id() -> int:
    from saleschannel.channels.models import Channel

    return (Channel.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000


# Every endpoint of the spec: (method, path suffix after the list URL, body).
ENDPOINTS = [
    ("get", "", None),
    ("get", "detailed/", None),
    ("post", "", "new"),
    ("get", "{pk}/", None),
    ("get", "{pk}/detailed/", None),
    ("put", "{pk}/", "new"),
    ("patch", "{pk}/", {"first_name": "Changed"}),
    ("delete", "{pk}/", None),
]
ENDPOINT_IDS = [f"{m.upper()} {s or 'list'}" for m, s, _ in ENDPOINTS]


def call(client, method, channel_id, suffix, body, pk):
    url = base(channel_id) + suffix.format(pk=pk)
    if body == "new":
        body = new_customer_body()
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


# --- superuser ---------------------------------------------------------------------------------


def test_superuser_sees_customers_of_every_channel(api, channel, other_channel):
    a = CustomerFactory(channel=channel)
    b = CustomerFactory(channel=other_channel)
    for ch, customer in ((channel, a), (other_channel, b)):
        listed = api.get(base(ch.pk))
        assert listed.status_code == 200
        assert [row["pk"] for row in listed.json()] == [customer.pk]
        assert api.get(f"{base(ch.pk)}{customer.pk}/").json()["pk"] == customer.pk


# --- a user granted channel A only ----------------------------------------------------------


@pytest.fixture
def granted(make_client, channel):
    """A writer granted only `channel` (channel A)."""
    return make_client(channels=[channel])


@pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_granted_user_reaches_its_own_channel(granted, channel, method, suffix, body):
    customer = CustomerFactory(channel=channel)
    response = call(granted, method, channel.pk, suffix, body, customer.pk)
    assert response.status_code in {200, 201, 204}, response.content


@pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_granted_user_gets_404_for_ungranted_channel_and_nothing_changes(
    granted, channel, other_channel, method, suffix, body
):
    theirs = CustomerFactory(channel=other_channel)
    before = snapshot(theirs)
    count_before = Customer.objects.count()
    response = call(granted, method, other_channel.pk, suffix, body, theirs.pk)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert snapshot(theirs) == before
    assert Customer.objects.count() == count_before


@pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_ungranted_and_nonexistent_channel_give_identical_404(
    granted, channel, other_channel, method, suffix, body
):
    theirs = CustomerFactory(channel=other_channel)
    existing = call(granted, method, other_channel.pk, suffix, body, theirs.pk)
    missing = call(granted, method, missing_channel_id(), suffix, body, theirs.pk)
    assert existing.status_code == missing.status_code == 404
    assert existing.json() == missing.json() == NOT_FOUND
    assert existing.headers.get("Content-Type") == missing.headers.get("Content-Type")


@pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_superuser_gets_404_for_nonexistent_channel(api, method, suffix, body):
    response = call(api, method, missing_channel_id(), suffix, body, 1)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_user_without_any_grant_gets_404_on_every_channel(make_client, channel, other_channel):
    client = make_client()
    for ch in (channel, other_channel):
        response = client.get(base(ch.pk))
        assert response.status_code == 404
        assert response.json() == NOT_FOUND


def test_user_granted_two_channels_sees_both_but_not_a_third(make_client, channel, other_channel):
    from saleschannel.channels.tests.factories import ChannelFactory

    third = ChannelFactory()
    client = make_client(channels=[channel, other_channel])
    for ch in (channel, other_channel):
        assert client.get(base(ch.pk)).status_code == 200
    assert client.get(base(third.pk)).json() == NOT_FOUND


# --- read-only users ----------------------------------------------------------------------------


@pytest.fixture
def reader(make_client, channel):
    return make_client(channels=[channel], read_only=True)


@pytest.mark.parametrize(
    "suffix", ["", "detailed/", "{pk}/", "{pk}/detailed/"], ids=["list", "dlist", "get", "dget"]
)
def test_read_only_user_can_read(reader, channel, suffix):
    customer = CustomerFactory(channel=channel)
    response = reader.get(base(channel.pk) + suffix.format(pk=customer.pk))
    assert response.status_code == 200
    body = response.json()
    pks = [row["pk"] for row in body] if isinstance(body, list) else [body["pk"]]
    assert pks == [customer.pk]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [e for e in ENDPOINTS if e[0] != "get"],
    ids=[i for i, e in zip(ENDPOINT_IDS, ENDPOINTS, strict=True) if e[0] != "get"],
)
def test_read_only_user_writes_are_403_and_nothing_changes(reader, channel, method, suffix, body):
    customer = CustomerFactory(channel=channel)
    before = snapshot(customer)
    response = call(reader, method, channel.pk, suffix, body, customer.pk)
    assert response.status_code == 403
    assert response.json() == PERMISSION_DENIED
    assert snapshot(customer) == before
    assert list(Customer.objects.values_list("pk", flat=True)) == [customer.pk]


def test_read_only_superuser_flag_is_not_needed_for_writer(make_client, channel):
    """The same grant without read_only may write: the 403 above comes from the permissions."""
    writer = make_client(channels=[channel])
    response = writer.post(base(channel.pk), new_customer_body(), format="json")
    assert response.status_code == 201
    assert Customer.objects.filter(pk=response.json()["pk"], channel=channel).exists()


# --- a customer of channel B through channel A's URL --------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [e for e in ENDPOINTS if "{pk}" in e[1]],
    ids=[i for i, e in zip(ENDPOINT_IDS, ENDPOINTS, strict=True) if "{pk}" in e[1]],
)
def test_customer_of_other_channel_via_own_channel_url_is_404_and_untouched(
    api, channel, other_channel, method, suffix, body
):
    theirs = CustomerFactory(channel=other_channel, attributes={"k": "v"})
    before = snapshot(theirs)
    response = call(api, method, channel.pk, suffix, body, theirs.pk)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert snapshot(theirs) == before
    # The same request on the customer's own channel does reach it.
    own = call(api, method, other_channel.pk, suffix, body, theirs.pk)
    assert own.status_code in {200, 204}, own.content


def test_put_through_other_channel_url_with_body_channel_does_not_move_customer(
    api, channel, other_channel
):
    theirs = CustomerFactory(channel=other_channel)
    before = snapshot(theirs)
    response = api.put(
        f"{base(channel.pk)}{theirs.pk}/",
        new_customer_body(channel=other_channel.pk),
        format="json",
    )
    # Either the body is refused against the URL's channel (400) or the customer is not found
    # there (404); in no case is channel B's customer changed or moved.
    assert response.status_code in {400, 404}
    if response.status_code == 400:
        assert set(response.json()) == {"channel", "code"}
    else:
        assert response.json() == NOT_FOUND
    assert snapshot(theirs) == before


def test_body_channel_of_other_channel_is_400_and_not_created_there(api, channel, other_channel):
    response = api.post(
        base(channel.pk), new_customer_body(channel=other_channel.pk), format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"channel", "code"}
    assert not Customer.objects.exists()


def test_patch_body_channel_cannot_move_customer_to_other_channel(api, channel, other_channel):
    mine = CustomerFactory(channel=channel)
    response = api.patch(
        f"{base(channel.pk)}{mine.pk}/", {"channel": other_channel.pk}, format="json"
    )
    assert response.status_code == 400
    assert "channel" in response.json()
    mine.refresh_from_db()
    assert mine.channel_id == channel.pk


def test_same_email_and_channel_code_may_exist_in_two_channels(api, channel, other_channel):
    theirs = CustomerFactory(channel=other_channel, email="x@example.com", channel_code="C-1")
    response = api.post(
        base(channel.pk),
        new_customer_body(email="x@example.com", channel_code="C-1"),
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["pk"] != theirs.pk
    assert snapshot(theirs)["channel_id"] == other_channel.pk


# --- lists never leak the other channel's customers, whatever the filters -----------------------

STAMP = dt.datetime(2024, 3, 5, 10, 0, 0, tzinfo=dt.UTC)
SHARED = {
    "email": "shared.person@example.com",
    "first_name": "Zeynep",
    "last_name": "Öztürk",
    "phone_number": "+905551112233",
    "channel_code": "SHARED-CODE",
    "erp_code": "ERP-SHARED-77",
    "attributes": {"k": "v", "n": 100, "nested": {"deep": True}},
    "extra_field": {"k": "x1", "flag": False},
    "email_allowed": True,
    "sms_allowed": True,
    "call_allowed": True,
    "is_active": False,
    "gender": "female",
    "user_type": "registered",
    "date_joined": dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    "date_of_birth": dt.date(1990, 6, 15),
}

# (filter params built from channel B's customer `b`, does A's twin match them too?)
LIST_FILTERS = [
    pytest.param(lambda b: {"email": b.email}, True, id="email"),
    pytest.param(lambda b: {"email__startswith": b.email[:7]}, True, id="email__startswith"),
    pytest.param(lambda b: {"channel": str(b.channel_id)}, False, id="channel"),
    pytest.param(lambda b: {"channel_code": b.channel_code}, True, id="channel_code"),
    pytest.param(lambda b: {"phone_number": b.phone_number}, True, id="phone_number"),
    pytest.param(lambda b: {"first_name": b.first_name}, True, id="first_name"),
    pytest.param(lambda b: {"last_name": b.last_name}, True, id="last_name"),
    pytest.param(lambda b: {"erp_code": "shared"}, True, id="erp_code"),
    pytest.param(lambda b: {"pk__in": str(b.pk)}, False, id="pk__in"),
    pytest.param(lambda b: {"pk__in": f"{b.pk},999999999"}, False, id="pk__in-2"),
    pytest.param(lambda b: {"attributes__k": "v"}, True, id="attributes__k"),
    pytest.param(lambda b: {"attributes__n": "100"}, True, id="attributes__n"),
    pytest.param(
        lambda b: {"attributes__nested__deep": "true"}, True, id="attributes__nested__deep"
    ),
    pytest.param(lambda b: {"extra_field__k": "x1"}, True, id="extra_field__k"),
    pytest.param(lambda b: {"extra_field__flag": "false"}, True, id="extra_field__flag"),
    pytest.param(lambda b: {"email_allowed": "true"}, True, id="email_allowed"),
    pytest.param(lambda b: {"sms_allowed": "True"}, True, id="sms_allowed"),
    pytest.param(lambda b: {"call_allowed": "1"}, True, id="call_allowed"),
    pytest.param(lambda b: {"is_active": "false"}, True, id="is_active"),
    pytest.param(lambda b: {"gender": "female"}, True, id="gender"),
    pytest.param(lambda b: {"user_type": "registered"}, True, id="user_type"),
    pytest.param(lambda b: {"created_date": "2024-03-05T10:00:00Z"}, True, id="created_date"),
    pytest.param(lambda b: {"created_date__date": "2024-03-05"}, True, id="created_date__date"),
    pytest.param(
        lambda b: {"created_date__gte": "2024-03-05T00:00:00Z"}, True, id="created_date__gte"
    ),
    pytest.param(
        lambda b: {"modified_date__date__lte": "2024-03-05"}, True, id="modified_date__date__lte"
    ),
    pytest.param(lambda b: {"date_joined": "2020-01-02T03:04:05Z"}, True, id="date_joined"),
    pytest.param(lambda b: {"date_joined__gt": "2020-01-01T00:00:00Z"}, True, id="date_joined__gt"),
    pytest.param(lambda b: {"date_of_birth": "1990-06-15"}, True, id="date_of_birth"),
    pytest.param(lambda b: {"date_of_birth__gte": "1990-06-15"}, True, id="date_of_birth__gte"),
    pytest.param(
        lambda b: {"email": b.email, "channel": str(b.channel_id), "pk__in": str(b.pk)},
        False,
        id="email+channel+pk__in",
    ),
    pytest.param(
        lambda b: {"email": b.email, "sort": "-email", "limit": "1000"}, True, id="email+sort+limit"
    ),
]


@pytest.fixture
def twins(channel, other_channel):
    """Customer `b` in channel B and its twin `a` (same values) in channel A, same timestamps."""
    b = CustomerFactory(channel=other_channel, **SHARED)
    a = CustomerFactory(channel=channel, **SHARED)
    # A customer in A that matches none of the filters above.
    other = CustomerFactory(
        channel=channel,
        email="unrelated@example.org",
        first_name="Ali",
        last_name="Kaya",
        phone_number="+900000000000",
        erp_code="NOPE",
        attributes={"k": "other"},
        extra_field={"k": "other"},
        is_active=True,
        gender="male",
        user_type="guest",
        date_joined=dt.datetime(2010, 1, 1, tzinfo=dt.UTC),
        date_of_birth=dt.date(1970, 1, 1),
    )
    Customer.objects.filter(pk__in=[a.pk, b.pk]).update(created_date=STAMP, modified_date=STAMP)
    Customer.objects.filter(pk=other.pk).update(
        created_date=STAMP - dt.timedelta(days=400), modified_date=STAMP + dt.timedelta(days=400)
    )
    return a, b, other


@pytest.mark.parametrize("listing", ["", "detailed/"], ids=["list", "detailed"])
@pytest.mark.parametrize(("make_params", "twin_matches"), LIST_FILTERS)
def test_list_of_channel_a_never_contains_channel_b_customer(
    api, channel, other_channel, twins, listing, make_params, twin_matches
):
    a, b, _other = twins
    params = make_params(b)

    on_b = api.get(base(other_channel.pk) + listing, params)
    assert on_b.status_code == 200, on_b.content
    assert [row["pk"] for row in on_b.json()] == [b.pk]  # the filter does find B's customer

    on_a = api.get(base(channel.pk) + listing, params)
    assert on_a.status_code == 200, on_a.content
    pks = [row["pk"] for row in on_a.json()]
    assert b.pk not in pks
    assert pks == ([a.pk] if twin_matches else [])
    assert on_a["X-Total-Count"] == str(len(pks))


@pytest.mark.parametrize("listing", ["", "detailed/"], ids=["list", "detailed"])
def test_unfiltered_lists_hold_only_own_channel_rows(api, channel, other_channel, twins, listing):
    a, b, other = twins
    rows = api.get(base(channel.pk) + listing).json()
    assert sorted(row["pk"] for row in rows) == sorted([a.pk, other.pk])
    for row in rows:
        channel_value = row["channel"]
        channel_id = channel_value["id"] if isinstance(channel_value, dict) else channel_value
        assert channel_id == channel.pk
    rows_b = api.get(base(other_channel.pk) + listing).json()
    assert [row["pk"] for row in rows_b] == [b.pk]


def test_granted_user_list_filter_by_other_channel_gives_empty_not_leak(
    granted, channel, other_channel, twins
):
    _a, b, _other = twins
    response = granted.get(base(channel.pk), {"channel": other_channel.pk, "pk__in": b.pk})
    assert response.status_code == 200
    assert response.json() == []
    assert response["X-Total-Count"] == "0"


def test_detailed_orders_info_counts_only_own_channel_orders(api, channel, other_channel, twins):
    from saleschannel.orders.tests.factories import OrderFactory

    a, b, _other = twins
    OrderFactory(channel=other_channel, customer=b)
    rows = api.get(base(channel.pk) + "detailed/", {"pk__in": a.pk}).json()
    assert [row["pk"] for row in rows] == [a.pk]
    assert rows[0]["orders_info"]["total_order_count"] == 0
    rows_b = api.get(base(other_channel.pk) + "detailed/", {"pk__in": b.pk}).json()
    assert rows_b[0]["orders_info"]["total_order_count"] == 1


@pytest.mark.parametrize("endpoint", ["list", "retrieve"])
def test_detailed_orders_info_ignores_orders_recorded_in_another_channel(
    api, channel, other_channel, endpoint
):
    from decimal import Decimal

    from saleschannel.orders.tests.factories import OrderFactory

    mine = CustomerFactory(channel=channel)
    OrderFactory(channel=channel, customer=mine, amount=Decimal("10.00"))
    # An order that channel B recorded against channel A's customer row.
    OrderFactory(channel=other_channel, customer=mine, amount=Decimal("990.00"))
    if endpoint == "list":
        row = api.get(base(channel.pk) + "detailed/").json()[0]
    else:
        row = api.get(f"{base(channel.pk)}{mine.pk}/detailed/").json()
    assert row["orders_info"]["total_order_count"] == 1
    assert Decimal(str(row["orders_info"]["total_order_amount"])) == Decimal("10.00")
