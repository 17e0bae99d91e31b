"""Token authentication, hashed token storage, login (with throttling) and active_user."""

from __future__ import annotations

import hashlib
import warnings

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.cache.backends.base import CacheKeyWarning
from rest_framework.test import APIClient

from saleschannel.accounts.models import ApiToken
from saleschannel.accounts.services import api_user_create
from saleschannel.channels.tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"
ACTIVE_USER = "/api/v1/active_user/"
PASSWORD = "a-password-1"


@pytest.fixture(autouse=True)
def clear_cache():
    """Login failure counters live in the cache: every test starts (and leaves) it empty."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def long_window(settings):
    """A login window far longer than a test, so no counter resets in the middle of one."""
    settings.LOGIN_WINDOW_SECONDS = 10**9
    return settings


def customers_url(channel_id) -> str:
    return f"/api/v1/channel/{channel_id}/customers/"


def login(client: APIClient, username: str, password: str, ip: str = "127.0.0.1"):
    return client.post(
        LOGIN, {"username": username, "password": password}, format="json", REMOTE_ADDR=ip
    )


# --- 401 without a valid token ------------------------------------------------------------


@pytest.mark.parametrize("path_kind", ["active_user", "customers"])
def test_no_token_is_401_not_authenticated_with_www_authenticate(anon, channel, path_kind):
    path = ACTIVE_USER if path_kind == "active_user" else customers_url(channel.pk)
    response = anon.get(path)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
    assert response["WWW-Authenticate"] == "Token"
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Token", "authentication_failed"),
        ("Token ", "authentication_failed"),
        ("Token a b", "authentication_failed"),
        ("Token " + "0" * 40, "authentication_failed"),
        ("Token \u00e9t\u00e9", "authentication_failed"),
        ("Token abc\x00def", "authentication_failed"),
        ("Token " + "a" * 5000, "authentication_failed"),
        ("Bearer x", "not_authenticated"),
        ("Basic dXNlcjpwYXNz", "not_authenticated"),
    ],
)
def test_malformed_or_unknown_token_header_is_401_with_code(anon, channel, header, code):
    anon.credentials(HTTP_AUTHORIZATION=header)
    for path in (ACTIVE_USER, customers_url(channel.pk)):
        response = anon.get(path)
        assert response.status_code == 401, (path, response.content)
        body = response.json()
        assert set(body) == {"detail", "code"}
        assert body["code"] == code
        assert isinstance(body["detail"], str) and body["detail"]
        assert response["WWW-Authenticate"] == "Token"


def test_token_with_wrong_case_or_extra_char_is_401(make_client, anon):
    key = make_client().token_key
    for bad in (key.upper(), key + "0", key[:-1]):
        anon.credentials(HTTP_AUTHORIZATION=f"Token {bad}")
        response = anon.get(ACTIVE_USER)
        assert response.status_code == 401
        assert response.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


def test_valid_token_authenticates(make_client):
    client = make_client(username="alice")
    response = client.get(ACTIVE_USER)
    assert response.status_code == 200
    assert response.json()["username"] == "alice"


def test_token_of_inactive_user_is_401(make_client):
    client = make_client(username="sleepy")
    assert client.get(ACTIVE_USER).status_code == 200
    get_user_model().objects.filter(username="sleepy").update(is_active=False)
    response = client.get(ACTIVE_USER)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "User inactive or deleted.",
        "code": "authentication_failed",
    }
    assert response["WWW-Authenticate"] == "Token"


def test_deleted_token_stops_working(make_client):
    client = make_client()
    ApiToken.objects.filter(prefix=client.token_key[:8]).delete()
    response = client.get(ACTIVE_USER)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


# --- tokens are stored hashed ---------------------------------------------------------------


def test_token_is_stored_as_sha256_digest_and_key_is_in_no_column(db):
    _, key = api_user_create(username="hashme", password=PASSWORD)
    token = ApiToken.objects.get(user__username="hashme")
    assert token.digest != key
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    for column, value in row.items():
        assert key not in str(value), column
    # Nor can the key be found by a lookup on any text column.
    assert not ApiToken.objects.filter(digest=key).exists()
    assert not ApiToken.objects.filter(prefix=key).exists()
    assert not ApiToken.objects.filter(name=key).exists()


def test_each_login_issues_a_distinct_key_and_both_work(anon):
    api_user_create(username="twice", password=PASSWORD)
    first = login(anon, "twice", PASSWORD).json()["key"]
    second = login(anon, "twice", PASSWORD).json()["key"]
    assert first != second
    assert ApiToken.objects.filter(user__username="twice").count() == 3  # cli + 2 logins
    for key in (first, second):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert client.get(ACTIVE_USER).status_code == 200


# --- login ------------------------------------------------------------------------------------


def test_login_returns_key_that_works_on_active_user(anon, channel):
    user, _ = api_user_create(username="bob", password=PASSWORD, channel_ids=[channel.pk])
    response = login(anon, "bob", PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"key"}
    key = body["key"]
    assert isinstance(key, str) and len(key) >= 32
    stored = ApiToken.objects.filter(user=user).values_list("digest", flat=True)
    assert hashlib.sha256(key.encode()).hexdigest() in stored

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    me = client.get(ACTIVE_USER)
    assert me.status_code == 200
    assert me.json() == {
        "id": user.pk,
        "username": "bob",
        "is_superuser": False,
        "channels": [channel.pk],
    }


def test_login_wrong_password_is_400_non_field_errors(anon):
    api_user_create(username="carol", password=PASSWORD)
    response = login(anon, "carol", "not-the-password")
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Unable to log in with provided credentials."],
        "code": "authorization",
    }
    assert "key" not in response.json()


def test_login_unknown_username_is_same_400_as_wrong_password(anon):
    api_user_create(username="dave", password=PASSWORD)
    unknown = login(anon, "nobody-here", PASSWORD)
    wrong = login(anon, "dave", "wrong-password")
    assert unknown.status_code == wrong.status_code == 400
    assert unknown.json() == wrong.json()


def test_login_inactive_user_is_400(anon):
    user, _ = api_user_create(username="erin", password=PASSWORD)
    user.is_active = False
    user.save()
    response = login(anon, "erin", PASSWORD)
    assert response.status_code == 400
    assert response.json()["code"] == "authorization"


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({}, ["password", "username"]),
        ({"username": "x"}, ["password"]),
        ({"password": "x"}, ["username"]),
        ({"username": "", "password": ""}, ["password", "username"]),
    ],
)
def test_login_missing_fields_is_400_field_errors(anon, body, missing):
    response = anon.post(LOGIN, body, format="json")
    assert response.status_code == 400
    data = response.json()
    assert sorted(key for key in data if key != "code") == missing
    for field in missing:
        assert isinstance(data[field], list) and data[field]
    assert data["code"] in {"required", "blank"}


@pytest.mark.parametrize("body", [[], "text", 1, None, {"username": 1, "password": ["x"]}])
def test_login_with_non_object_or_wrong_types_is_400_with_code(anon, body):
    response = anon.post(LOGIN, body, format="json")
    assert response.status_code == 400
    assert "code" in response.json()


@pytest.mark.parametrize("header", ["Token", "Token a b", "Bearer x", "Token " + "f" * 40])
def test_login_ignores_a_bad_authorization_header(header):
    api_user_create(username="frank", password=PASSWORD)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = login(client, "frank", PASSWORD)
    assert response.status_code == 200
    assert set(response.json()) == {"key"}


@pytest.mark.parametrize("username", ["john smith", "a\nb", "tab\there"])
def test_login_with_any_username_text_is_400_without_cache_key_warning(anon, username):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        response = login(anon, username, "wrong")
    assert response.status_code == 400
    assert response.json()["code"] == "authorization"


def test_token_keyword_is_case_insensitive(make_client, anon):
    key = make_client(username="casey").token_key
    anon.credentials(HTTP_AUTHORIZATION=f"token {key}")
    response = anon.get(ACTIVE_USER)
    assert response.status_code == 200
    assert response.json()["username"] == "casey"


def test_login_without_trailing_slash_works(anon):
    api_user_create(username="gina", password=PASSWORD)
    response = anon.post(
        LOGIN.rstrip("/"), {"username": "gina", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert set(response.json()) == {"key"}


# --- login throttling -------------------------------------------------------------------------


def assert_throttled(response, window_seconds: int) -> None:
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "throttled"
    assert set(body) == {"detail", "code"}
    assert "key" not in body
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= window_seconds


def test_login_locked_after_default_failures_per_username_even_with_right_password(
    anon, long_window
):
    limit = long_window.LOGIN_MAX_FAILURES_PER_USERNAME
    assert limit == 10  # the documented default
    api_user_create(username="henry", password=PASSWORD)
    for _ in range(limit):
        assert login(anon, "henry", "wrong").status_code == 400
    assert_throttled(login(anon, "henry", PASSWORD), long_window.LOGIN_WINDOW_SECONDS)
    # Stays locked for the window; a different IP does not help either.
    assert_throttled(login(anon, "henry", PASSWORD, ip="10.9.9.9"), 10**9)


def test_login_one_failure_below_the_limit_still_logs_in(anon, long_window):
    api_user_create(username="ivy", password=PASSWORD)
    for _ in range(long_window.LOGIN_MAX_FAILURES_PER_USERNAME - 1):
        assert login(anon, "ivy", "wrong").status_code == 400
    assert login(anon, "ivy", PASSWORD).status_code == 200


def test_login_username_lock_ignores_case(anon, long_window):
    long_window.LOGIN_MAX_FAILURES_PER_USERNAME = 3
    api_user_create(username="jack", password=PASSWORD)
    for name in ("JACK", "Jack", "jack"):
        assert login(anon, name, "wrong").status_code == 400
    assert_throttled(login(anon, "jack", PASSWORD), 10**9)


def test_login_lock_of_one_username_does_not_block_another_from_same_ip(anon, long_window):
    long_window.LOGIN_MAX_FAILURES_PER_USERNAME = 3
    long_window.LOGIN_MAX_FAILURES_PER_IP = 5
    api_user_create(username="kim", password=PASSWORD)
    api_user_create(username="lee", password=PASSWORD)
    for _ in range(3):
        assert login(anon, "kim", "wrong").status_code == 400
    assert_throttled(login(anon, "kim", PASSWORD), 10**9)
    # Same IP, other username: 3 failures so far from this IP, under the per-IP limit of 5.
    assert login(anon, "lee", PASSWORD).status_code == 200
    assert login(anon, "lee", "wrong").status_code == 400  # IP failures: 4
    assert login(anon, "lee", PASSWORD).status_code == 200
    assert login(anon, "lee", "wrong").status_code == 400  # IP failures: 5 = the IP limit
    # Now the IP is locked, for every username, even with the right password.
    assert_throttled(login(anon, "lee", PASSWORD), 10**9)
    # Another IP is not locked for lee (lee itself has only 2 failures).
    assert login(anon, "lee", PASSWORD, ip="10.1.2.3").status_code == 200


def test_successful_logins_do_not_count_as_failures(anon, long_window):
    long_window.LOGIN_MAX_FAILURES_PER_USERNAME = 2
    api_user_create(username="max", password=PASSWORD)
    for _ in range(5):
        assert login(anon, "max", PASSWORD).status_code == 200
    assert login(anon, "max", "wrong").status_code == 400
    assert login(anon, "max", PASSWORD).status_code == 200


def test_login_counters_reset_when_cache_is_cleared(anon, long_window):
    long_window.LOGIN_MAX_FAILURES_PER_USERNAME = 1
    api_user_create(username="ned", password=PASSWORD)
    assert login(anon, "ned", "wrong").status_code == 400
    assert login(anon, "ned", PASSWORD).status_code == 429
    cache.clear()
    assert login(anon, "ned", PASSWORD).status_code == 200


# --- active_user --------------------------------------------------------------------------------


def test_active_user_of_superuser_lists_every_channel(make_client, channel, other_channel):
    third = ChannelFactory()
    client = make_client(superuser=True, username="root")
    response = client.get(ACTIVE_USER)
    assert response.status_code == 200
    body = response.json()
    user = get_user_model().objects.get(username="root")
    assert body == {
        "id": user.pk,
        "username": "root",
        "is_superuser": True,
        "channels": sorted([channel.pk, other_channel.pk, third.pk]),
    }


def test_active_user_of_non_superuser_lists_only_granted_channels(
    make_client, channel, other_channel
):
    third = ChannelFactory()
    client = make_client(channels=[third, channel], username="limited")
    body = client.get(ACTIVE_USER).json()
    assert body["is_superuser"] is False
    assert body["channels"] == sorted([channel.pk, third.pk])
    assert other_channel.pk not in body["channels"]


def test_active_user_with_no_grants_lists_no_channels(make_client, channel):
    body = make_client(username="empty").get(ACTIVE_USER).json()
    assert body["channels"] == []
    assert body["username"] == "empty"


def test_active_user_without_trailing_slash(make_client):
    response = make_client(username="noslash").get(ACTIVE_USER.rstrip("/"))
    assert response.status_code == 200
    assert response.json()["username"] == "noslash"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_active_user_other_methods_are_405(make_client, method):
    response = getattr(make_client(), method)(ACTIVE_USER, {}, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_login_get_is_405(anon):
    response = anon.get(LOGIN)
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "GET" not allowed.', "code": "method_not_allowed"}
