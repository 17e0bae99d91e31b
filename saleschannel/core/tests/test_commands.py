"""Management commands create_channel, create_api_user and seed_demo: JSON output and effects."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from saleschannel.accounts.models import ApiToken, ChannelGrant, hash_token
from saleschannel.accounts.services import WRITE_PERMISSIONS
from saleschannel.channels.models import Channel, ChannelType
from saleschannel.channels.tests.factories import ChannelFactory
from saleschannel.core.management.commands.seed_demo import DEMO_CUSTOMERS, DEMO_ORDERS
from saleschannel.customers.models import Customer
from saleschannel.customers.tests.factories import customer_body
from saleschannel.orders.models import Order

pytestmark = pytest.mark.django_db

User = get_user_model()
WRITE_PERMS = [f"{app}.{codename}" for app, codename in WRITE_PERMISSIONS]


@pytest.fixture(autouse=True)
def fresh_login_throttle():
    """Failed-login counters live in the cache; start every test with none."""
    cache.clear()
    yield
    cache.clear()


def run(*args: str, **options) -> dict:
    """Run a command and parse the one JSON document it prints."""
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return json.loads(out.getvalue())


def client_for(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def active_user(key: str):
    response = client_for(key).get("/api/v1/active_user/")
    return response.status_code, response.json()


# --- create_channel ---------------------------------------------------------------------------


@pytest.mark.parametrize("channel_type", ["web", "trendyol", "morhipoV2", "sales_channel"])
@pytest.mark.parametrize("inactive", [False, True])
def test_create_channel_prints_the_stored_channel_as_json(channel_type, inactive):
    flags = ["--inactive"] if inactive else []
    out = run(
        "create_channel",
        "--name",
        "Şık Mağaza",
        "--channel-type",
        channel_type,
        "--catalog",
        "42",
        *flags,
    )

    channel = Channel.objects.get(pk=out["id"])
    assert set(out) == {
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
    }
    assert {k: out[k] for k in ("name", "catalog", "channel_type", "conf", "is_active")} == {
        "name": "Şık Mağaza",
        "catalog": 42,
        "channel_type": channel_type,
        "conf": {},
        "is_active": not inactive,
    }
    assert (out["category_tree"], out["schema"]) == (None, None)
    assert (channel.name, channel.catalog, channel.channel_type, channel.is_active) == (
        "Şık Mağaza",
        42,
        channel_type,
        not inactive,
    )
    assert dt.datetime.fromisoformat(out["created_date"]) == channel.created_date
    assert dt.datetime.fromisoformat(out["modified_date"]) == channel.modified_date
    assert Channel.objects.count() == 1


def test_create_channel_rejects_an_unknown_channel_type():
    with pytest.raises(CommandError, match="invalid choice: 'ebay'"):
        call_command(
            "create_channel", "--name", "X", "--channel-type", "ebay", "--catalog", "1",
            stdout=StringIO(),
        )  # fmt: skip
    assert Channel.objects.count() == 0


def test_every_channel_type_of_the_model_is_accepted():
    for channel_type in ChannelType.values:
        out = run(
            "create_channel", "--name", channel_type, "--channel-type", channel_type,
            "--catalog", "1",
        )  # fmt: skip
        assert out["channel_type"] == channel_type
    assert sorted(Channel.objects.values_list("channel_type", flat=True)) == sorted(
        ChannelType.values
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "", "--catalog", "1"], "name"),
        (["--name", "X", "--catalog", str(2**63)], "catalog"),
        (["--name", "X", "--catalog", "abc"], "invalid int value: 'abc'"),
        (["--name", "X" * 256, "--catalog", "1"], "name"),
    ],
    ids=["blank-name", "catalog-past-int64", "catalog-not-int", "name-too-long"],
)
def test_create_channel_rejects_invalid_values_and_creates_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_channel", "--channel-type", "web", *args, stdout=StringIO())
    assert Channel.objects.count() == 0


def test_create_channel_requires_name_type_and_catalog():
    with pytest.raises(CommandError, match="required"):
        call_command("create_channel", "--name", "X", stdout=StringIO())
    assert Channel.objects.count() == 0


# --- create_api_user --------------------------------------------------------------------------


def test_create_api_user_prints_username_and_a_working_token():
    out = run("create_api_user", "alice")

    assert set(out) == {"username", "token"}
    assert out["username"] == "alice"
    user = User.objects.get(username="alice")
    assert (user.is_superuser, user.is_staff) == (False, False)
    assert active_user(out["token"]) == (
        200,
        {"id": user.pk, "username": "alice", "is_superuser": False, "channels": []},
    )


def test_create_api_user_without_password_cannot_log_in():
    run("create_api_user", "nopass")

    for password in ["x", "a-password-1", "!"]:
        response = APIClient().post(
            "/api/v1/auth/login/", {"username": "nopass", "password": password}, format="json"
        )
        assert (response.status_code, response.json()["code"]) == (400, "authorization")


def test_create_api_user_without_password_stores_an_unusable_password():
    run("create_api_user", "nopass")

    assert User.objects.get(username="nopass").has_usable_password() is False


def test_create_api_user_token_is_stored_hashed_never_in_clear():
    out = run("create_api_user", "alice")
    key = out["token"]

    token = ApiToken.objects.get(user__username="alice")
    stored = [getattr(token, field.attname) for field in ApiToken._meta.concrete_fields]
    assert key not in stored
    assert token.digest == hash_token(key)
    assert token.prefix == key[:8]
    assert not ApiToken.objects.filter(digest=key).exists()


def test_create_api_user_superuser_sees_every_channel():
    channels = ChannelFactory.create_batch(3)
    out = run("create_api_user", "root", "--superuser")

    user = User.objects.get(username="root")
    assert (user.is_superuser, user.is_staff) == (True, True)
    assert active_user(out["token"]) == (
        200,
        {
            "id": user.pk,
            "username": "root",
            "is_superuser": True,
            "channels": sorted(c.pk for c in channels),
        },
    )


def test_create_api_user_channels_creates_grants_for_exactly_those_channels():
    granted = ChannelFactory.create_batch(2)
    hidden = ChannelFactory()
    out = run("create_api_user", "bob", "--channels", ",".join(str(c.pk) for c in granted))

    user = User.objects.get(username="bob")
    assert sorted(ChannelGrant.objects.filter(user=user).values_list("channel_id", flat=True)) == (
        sorted(c.pk for c in granted)
    )
    status, body = active_user(out["token"])
    assert (status, body["channels"]) == (200, sorted(c.pk for c in granted))
    client = client_for(out["token"])
    assert client.get(f"/api/v1/channel/{granted[0].pk}/customers/").status_code == 200
    assert client.get(f"/api/v1/channel/{hidden.pk}/customers/").json() == {
        "detail": "Not found.",
        "code": "not_found",
    }


def test_create_api_user_read_only_has_no_write_permissions_and_gets_403():
    channel = ChannelFactory()
    ro = run("create_api_user", "reader", "--read-only", "--channels", str(channel.pk))
    rw = run("create_api_user", "writer", "--channels", str(channel.pk))

    reader = User.objects.get(username="reader")
    writer = User.objects.get(username="writer")
    assert [reader.has_perm(p) for p in WRITE_PERMS] == [False, False, False]
    assert [writer.has_perm(p) for p in WRITE_PERMS] == [True, True, True]
    url = f"/api/v1/channel/{channel.pk}/customers/"
    denied = client_for(ro["token"]).post(url, customer_body("c1@example.com"), format="json")
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    assert client_for(ro["token"]).get(url).status_code == 200
    created = client_for(rw["token"]).post(url, customer_body("c2@example.com"), format="json")
    assert created.status_code == 201
    assert list(Customer.objects.values_list("email", flat=True)) == ["c2@example.com"]


def test_create_api_user_rerun_switches_read_only_off_and_on():
    run("create_api_user", "flip", "--read-only")
    assert not any(User.objects.get(username="flip").has_perm(p) for p in WRITE_PERMS)
    run("create_api_user", "flip")
    assert all(User.objects.get(username="flip").has_perm(p) for p in WRITE_PERMS)
    run("create_api_user", "flip", "--read-only")
    assert not any(User.objects.get(username="flip").has_perm(p) for p in WRITE_PERMS)


@pytest.mark.parametrize("existing", [0, 2])
def test_create_api_user_unknown_channel_id_is_an_error_and_creates_nothing(existing):
    known = [c.pk for c in ChannelFactory.create_batch(existing)]
    unknown = max(known, default=0) + 1000
    ids = ",".join(str(pk) for pk in [*known, unknown])

    with pytest.raises(CommandError, match=rf"Unknown channel ids: \[{unknown}\]"):
        call_command("create_api_user", "ghost", "--channels", ids, stdout=StringIO())
    assert not User.objects.filter(username="ghost").exists()
    assert (ApiToken.objects.count(), ChannelGrant.objects.count()) == (0, 0)


@pytest.mark.parametrize("value", ["1,x", "abc", "1;2"])
def test_create_api_user_rejects_malformed_channel_list(value):
    with pytest.raises(CommandError, match="comma-separated channel ids"):
        call_command("create_api_user", "ghost", "--channels", value, stdout=StringIO())
    assert not User.objects.filter(username="ghost").exists()


def test_create_api_user_twice_keeps_one_user_and_both_tokens_work():
    channel = ChannelFactory()
    first = run("create_api_user", "twice", "--channels", str(channel.pk))
    second = run("create_api_user", "twice", "--channels", str(channel.pk))

    assert first["token"] != second["token"]
    assert User.objects.filter(username="twice").count() == 1
    user = User.objects.get(username="twice")
    assert ApiToken.objects.filter(user=user).count() == 2
    assert ChannelGrant.objects.filter(user=user).count() == 1
    for key in (first["token"], second["token"]):
        assert active_user(key) == (
            200,
            {"id": user.pk, "username": "twice", "is_superuser": False, "channels": [channel.pk]},
        )


def test_create_api_user_rerun_without_superuser_drops_superuser():
    channel = ChannelFactory()
    run("create_api_user", "demoted", "--superuser")
    out = run("create_api_user", "demoted")

    user = User.objects.get(username="demoted")
    assert (user.is_superuser, user.is_staff) == (False, False)
    assert client_for(out["token"]).get(f"/api/v1/channel/{channel.pk}/customers/").json() == {
        "detail": "Not found.",
        "code": "not_found",
    }


def test_create_api_user_password_allows_login():
    run("create_api_user", "carol", "--password", "s3cret-pass")

    response = APIClient().post(
        "/api/v1/auth/login/", {"username": "carol", "password": "s3cret-pass"}, format="json"
    )
    assert response.status_code == 200
    key = response.json()["key"]
    assert active_user(key)[1]["username"] == "carol"
    wrong = APIClient().post(
        "/api/v1/auth/login/", {"username": "carol", "password": "nope"}, format="json"
    )
    assert wrong.status_code == 400


# --- seed_demo --------------------------------------------------------------------------------


def _counts() -> dict[str, int]:
    return {
        "channels": Channel.objects.count(),
        "customers": Customer.objects.count(),
        "orders": Order.objects.count(),
        "users": User.objects.count(),
    }


def test_seed_demo_creates_channel_customers_orders_and_a_working_superuser_token():
    out = run("seed_demo")

    assert set(out) == {"channel", "customers", "username", "password", "token"}
    assert (out["customers"], out["username"], out["password"]) == (
        len(DEMO_CUSTOMERS),
        "demo",
        "demo-password",
    )
    assert _counts() == {
        "channels": 1,
        "customers": len(DEMO_CUSTOMERS),
        "orders": len(DEMO_ORDERS),
        "users": 1,
    }
    channel = Channel.objects.get()
    assert out["channel"] == channel.pk
    assert sorted(
        Customer.objects.filter(channel=channel).values_list("channel_code", flat=True)
    ) == sorted(c["channel_code"] for c in DEMO_CUSTOMERS)
    assert sorted(Order.objects.filter(channel=channel).values_list("number", flat=True)) == sorted(
        o[1] for o in DEMO_ORDERS
    )
    demo = User.objects.get(username="demo")
    assert (demo.is_superuser, demo.check_password("demo-password")) == (True, True)
    assert active_user(out["token"]) == (
        200,
        {"id": demo.pk, "username": "demo", "is_superuser": True, "channels": [channel.pk]},
    )


def test_seed_demo_orders_info_matches_the_seeded_orders():
    out = run("seed_demo")
    response = client_for(out["token"]).get(f"/api/v1/channel/{out['channel']}/customers/detailed/")
    assert response.status_code == 200
    rows = json.loads(response.content, parse_float=Decimal)

    expected = {}
    for data in DEMO_CUSTOMERS:
        orders = [o for o in DEMO_ORDERS if o[0] == data["channel_code"]]
        if orders:
            expected[data["channel_code"]] = {
                "total_order_count": len(orders),
                "total_order_amount": sum(Decimal(o[4]) for o in orders),
                "total_discount_amount": sum(Decimal(o[5]) for o in orders),
                "total_refund_amount": sum(Decimal(o[6]) for o in orders),
            }
        else:
            expected[data["channel_code"]] = {
                "total_order_count": 0,
                "total_order_amount": None,
                "total_discount_amount": None,
                "total_refund_amount": None,
            }
    assert {row["channel_code"]: row["orders_info"] for row in rows} == expected


def test_seed_demo_password_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "from-env-123")
    out = run("seed_demo")

    assert out["password"] == "from-env-123"
    assert User.objects.get(username="demo").check_password("from-env-123")


def test_seed_demo_twice_creates_nothing_twice_and_only_the_newest_token_works():
    first = run("seed_demo")
    counts = _counts()
    second = run("seed_demo")

    assert _counts() == counts
    assert second["channel"] == first["channel"]
    assert second["token"] != first["token"]
    assert ApiToken.objects.filter(user__username="demo").count() == 1
    assert active_user(second["token"])[0] == 200
    stale = client_for(first["token"]).get("/api/v1/active_user/")
    assert stale.status_code == 401
    assert stale.json()["code"] == "authentication_failed"
    assert stale["WWW-Authenticate"] == "Token"


def test_seed_demo_keeps_existing_data_and_other_tokens():
    other_channel = ChannelFactory()
    other = run("create_api_user", "other")
    before = _counts()
    run("seed_demo")

    assert _counts() == {
        "channels": before["channels"] + 1,
        "customers": before["customers"] + len(DEMO_CUSTOMERS),
        "orders": before["orders"] + len(DEMO_ORDERS),
        "users": before["users"] + 1,
    }
    assert Channel.objects.filter(pk=other_channel.pk).exists()
    assert active_user(other["token"])[0] == 200
