"""Per-token request limits: RateLimit-* headers, 429 with Retry-After, isolation, Redis sharing."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from rest_framework.test import APIClient

from saleschannel.accounts.models import ApiToken, hash_token
from saleschannel.accounts.services import api_user_create
from saleschannel.customers.models import Customer
from saleschannel.customers.tests.factories import customer_body

pytestmark = pytest.mark.django_db

LIMIT = 5
PERIOD = 60
ACTIVE_USER = "/api/v1/active_user/"
HAVE_REDIS = importlib.util.find_spec("redis") is not None
REDIS_LOCATION = "redis://127.0.0.1:6379/15"
NO_REDIS = (
    "the `redis` package (redis-py) is not installed in .venv, so Django's RedisCache cannot "
    "be used; install it to run the Redis-backed rate-limit tests"
)


def wait_for_room_in_window(period: int, needed: float) -> None:
    """Sleep into the next fixed window if fewer than `needed` seconds are left in this one."""
    left = period - time.time() % period
    if left < needed:
        time.sleep(left + 0.05)


def seconds_left_in_window(period: int) -> float:
    return period - time.time() % period


def assert_reset_plausible(value: str, left_before: float, left_after: float) -> None:
    """RateLimit-Reset / Retry-After: whole seconds to the end of the window, 1..PERIOD."""
    seconds = int(value)
    assert 1 <= seconds <= PERIOD
    assert math.floor(left_after) - 1 <= seconds <= math.ceil(left_before)


@pytest.fixture
def limited(settings):
    settings.RATE_LIMIT_PER_TOKEN = f"{LIMIT}/minute"
    cache.clear()
    wait_for_room_in_window(PERIOD, needed=8)
    yield settings
    cache.clear()


def test_five_requests_pass_with_remaining_4_to_0_then_sixth_is_429_throttled(limited, make_client):
    client = make_client(superuser=True)

    for expected_remaining in range(LIMIT - 1, -1, -1):
        left_before = seconds_left_in_window(PERIOD)
        response = client.get(ACTIVE_USER)
        left_after = seconds_left_in_window(PERIOD)
        assert response.status_code == 200
        assert response["RateLimit-Limit"] == str(LIMIT)
        assert response["RateLimit-Remaining"] == str(expected_remaining)
        assert_reset_plausible(response["RateLimit-Reset"], left_before, left_after)
        assert "Retry-After" not in response

    left_before = seconds_left_in_window(PERIOD)
    response = client.get(ACTIVE_USER)
    left_after = seconds_left_in_window(PERIOD)

    assert response.status_code == 429
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "throttled"
    retry_after = response["Retry-After"]
    assert_reset_plausible(retry_after, left_before, left_after)
    assert body["detail"].startswith("Request was throttled.")
    assert retry_after in body["detail"]
    assert response["RateLimit-Limit"] == str(LIMIT)
    assert response["RateLimit-Remaining"] == "0"
    assert response["RateLimit-Reset"] == retry_after


def test_every_method_and_endpoint_draws_on_one_budget_and_a_throttled_create_writes_nothing(
    limited, make_client, channel
):
    client = make_client(superuser=True)
    base = f"/api/v1/channel/{channel.pk}/customers/"
    created = client.post(base, customer_body("rl1@example.com", "RL-1"), format="json")
    pk = created.json()["pk"]
    responses = [
        created,
        client.get(base),
        client.get(f"{base}{pk}/"),
        client.patch(f"{base}{pk}/", {"first_name": "Ann"}, format="json"),
        client.get(ACTIVE_USER),
    ]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 200]
    assert [r["RateLimit-Remaining"] for r in responses] == ["4", "3", "2", "1", "0"]

    refused_create = client.post(base, customer_body("rl2@example.com", "RL-2"), format="json")
    refused_patch = client.patch(f"{base}{pk}/", {"first_name": "Bob"}, format="json")

    assert (refused_create.status_code, refused_create.json()["code"]) == (429, "throttled")
    assert (refused_patch.status_code, refused_patch.json()["code"]) == (429, "throttled")
    assert list(Customer.objects.values_list("email", "first_name")) == [("rl1@example.com", "Ann")]


def test_a_token_over_its_limit_does_not_affect_another_token(limited, make_client):
    first = make_client(superuser=True)
    second = make_client(superuser=True)
    for _ in range(LIMIT):
        assert first.get(ACTIVE_USER).status_code == 200
    assert first.get(ACTIVE_USER).status_code == 429

    response = second.get(ACTIVE_USER)

    assert response.status_code == 200
    assert response["RateLimit-Remaining"] == str(LIMIT - 1)
    assert first.get(ACTIVE_USER).status_code == 429


def test_two_tokens_of_the_same_user_have_separate_budgets(limited, make_client):
    first = make_client(username="twice")
    second = make_client(username="twice")
    assert ApiToken.objects.filter(user__username="twice").count() == 2
    for _ in range(LIMIT):
        first.get(ACTIVE_USER)
    assert first.get(ACTIVE_USER).status_code == 429

    response = second.get(ACTIVE_USER)

    assert (response.status_code, response.json()["username"]) == (200, "twice")
    assert response["RateLimit-Remaining"] == str(LIMIT - 1)


@pytest.mark.parametrize("value", ["", "off", "OFF", "none", "0"])
def test_no_limit_and_no_ratelimit_headers_when_the_setting_is_off(settings, make_client, value):
    settings.RATE_LIMIT_PER_TOKEN = value
    cache.clear()
    client = make_client(superuser=True)

    responses = [client.get(ACTIVE_USER) for _ in range(3 * LIMIT)]

    assert [r.status_code for r in responses] == [200] * (3 * LIMIT)
    for response in responses:
        assert "RateLimit-Limit" not in response
        assert "RateLimit-Remaining" not in response
        assert "Retry-After" not in response


def test_login_is_not_limited_per_token_and_each_new_key_starts_a_full_budget(limited, anon):
    credentials = {"username": "loginner", "password": "a-password-1"}
    api_user_create(**credentials)

    logins = [
        anon.post("/api/v1/auth/login/", credentials, format="json") for _ in range(2 * LIMIT)
    ]

    assert [r.status_code for r in logins] == [200] * (2 * LIMIT)
    assert all("RateLimit-Limit" not in r for r in logins)
    keys = [r.json()["key"] for r in logins]
    assert len(set(keys)) == 2 * LIMIT
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {keys[-1]}")
    first_use = client.get(ACTIVE_USER)
    assert (first_use.status_code, first_use["RateLimit-Remaining"]) == (200, str(LIMIT - 1))


def test_requests_without_a_valid_token_are_neither_counted_nor_given_ratelimit_headers(
    limited, anon, make_client
):
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    answers = [anon.get(ACTIVE_USER) for _ in range(LIMIT)]
    answers += [bad.get(ACTIVE_USER) for _ in range(LIMIT)]
    answers += [anon.get("/healthz") for _ in range(LIMIT)]

    assert [r.status_code for r in answers] == [401] * (2 * LIMIT) + [200] * LIMIT
    assert all("RateLimit-Limit" not in r for r in answers)
    response = make_client(superuser=True).get(ACTIVE_USER)
    assert (response.status_code, response["RateLimit-Remaining"]) == (200, str(LIMIT - 1))


def test_the_counter_starts_again_in_the_next_window(settings, make_client):
    settings.RATE_LIMIT_PER_TOKEN = "2/second"
    cache.clear()
    client = make_client(superuser=True)
    wait_for_room_in_window(1, needed=1.0)  # start at the top of a fresh second

    first_window = [client.get(ACTIVE_USER) for _ in range(3)]
    wait_for_room_in_window(1, needed=1.0)
    next_window = client.get(ACTIVE_USER)

    assert [r.status_code for r in first_window] == [200, 200, 429]
    assert first_window[2]["Retry-After"] == "1"
    assert (next_window.status_code, next_window["RateLimit-Remaining"]) == (200, "1")


# --- configuration ------------------------------------------------------------------------


def settings_subprocess(module: str, code: str, **env: str) -> subprocess.CompletedProcess:
    child = {k: v for k, v in os.environ.items() if k not in {"RATE_LIMIT_PER_TOKEN", "DEBUG"}}
    child.update(
        {
            "DJANGO_SETTINGS_MODULE": module,
            "SECRET_KEY": "x" * 50,
            "DATA_DIR": str(django_settings.DATA_DIR),
            "DATABASE_URL": "sqlite:///" + str(Path(django_settings.DATA_DIR) / "unused.sqlite3"),
        }
    )
    child.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=child,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


PRINT_RATE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(repr(settings.RATE_LIMIT_PER_TOKEN))"
)


@pytest.mark.parametrize(
    ("module", "env", "expected"),
    [
        ("config.settings.production", {}, "'1200/minute'"),
        ("config.settings.production", {"RATE_LIMIT_PER_TOKEN": "off"}, "'off'"),
        ("config.settings.production", {"RATE_LIMIT_PER_TOKEN": "30/second"}, "'30/second'"),
        ("config.settings.local", {}, "''"),
    ],
)
def test_rate_limit_is_on_by_default_in_production_and_off_locally(module, env, expected):
    done = settings_subprocess(module, PRINT_RATE, **env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


def test_a_malformed_rate_stops_django_from_starting():
    done = settings_subprocess(
        "config.settings.production",
        "import django; django.setup(); from django.conf import settings",
        RATE_LIMIT_PER_TOKEN="lots",
    )

    assert done.returncode != 0
    assert "Bad rate 'lots'" in done.stderr


def test_a_malformed_rate_answers_500_json_without_details_at_request_time(settings, make_client):
    # A bad rate set at run time (after the start-up check): a clean JSON 500, no stack trace.
    settings.RATE_LIMIT_PER_TOKEN = "lots"
    client = make_client(superuser=True)

    response = client.get(ACTIVE_USER)

    assert response.status_code == 500
    assert response.json() == {"detail": "A server error occurred.", "code": "server_error"}


# --- Redis-backed counters ------------------------------------------------------------------


@pytest.fixture
def redis_cache(settings):
    """The default cache in Redis DB 15 under a key prefix of this test's own; its keys removed."""
    if not HAVE_REDIS:
        pytest.skip(NO_REDIS)
    import redis

    prefix = f"h10-ratelimit-test-{uuid.uuid4().hex}"
    raw = redis.Redis.from_url(REDIS_LOCATION)
    try:
        raw.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis server answers at {REDIS_LOCATION}")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_LOCATION,
            "KEY_PREFIX": prefix,
        }
    }
    settings.RATE_LIMIT_PER_TOKEN = f"{LIMIT}/minute"
    wait_for_room_in_window(PERIOD, needed=8)
    yield raw, prefix
    for key in raw.scan_iter(match=f"{prefix}:*"):
        raw.delete(key)
    raw.close()


def counter_key(token_key: str) -> str:
    token = ApiToken.objects.get(digest=hash_token(token_key))
    return f"ratelimit:token:{token.pk}:{int(time.time() // PERIOD)}"


def test_redis_holds_the_counter_under_the_versioned_key_with_a_window_ttl(
    redis_cache, make_client
):
    from django.core.cache.backends.redis import RedisCache

    raw, prefix = redis_cache
    client = make_client(superuser=True)

    statuses = [client.get(ACTIVE_USER).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    key = counter_key(client.token_key)
    assert raw.get(f"{prefix}:1:{key}") == b"3"
    assert 1 <= raw.ttl(f"{prefix}:1:{key}") <= PERIOD + 1
    # A cache client of its own (as another worker would have) reads the same count.
    other = RedisCache(REDIS_LOCATION, {"KEY_PREFIX": prefix})
    assert other.get(key) == 3


def test_redis_counter_is_shared_with_another_process(redis_cache, make_client, tmp_path):
    raw, prefix = redis_cache
    client = make_client(superuser=True)
    key = counter_key(client.token_key)
    for _ in range(2):
        assert client.get(ACTIVE_USER).status_code == 200

    # Another process (another gunicorn worker, another server) counts two more requests of
    # this token in the same window through its own Django cache connection.
    code = (
        "import django, json, sys; django.setup();"
        "from django.core.cache import caches;"
        "from django.test.utils import override_settings;"
        "c = json.loads(sys.argv[1]);"
        "ctx = override_settings(CACHES=c); ctx.enable();"
        "cache = caches['default'];"
        "print(json.dumps([cache.incr(sys.argv[2]) for _ in range(2)]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(django_settings.CACHES), key],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [3, 4]

    fifth = client.get(ACTIVE_USER)
    sixth = client.get(ACTIVE_USER)

    assert (fifth.status_code, fifth["RateLimit-Remaining"]) == (200, "0")
    assert (sixth.status_code, sixth.json()["code"]) == (429, "throttled")
    assert raw.get(f"{prefix}:1:{key}") == b"6"


@pytest.fixture
def login_prefix():
    """A key prefix of this test's own in Redis DB 15; its keys are removed afterwards."""
    try:
        import redis
    except ImportError:
        pytest.fail("redis-py is a declared dependency (pyproject.toml) but is not installed")
    raw = redis.Redis.from_url(REDIS_LOCATION)
    try:
        raw.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis server answers at {REDIS_LOCATION}")
    prefix = f"h10-login-test-{uuid.uuid4().hex}"
    yield raw, prefix
    for key in raw.scan_iter(match=f"{prefix}:*"):
        raw.delete(key)
    raw.close()


def test_login_works_and_counts_failures_in_redis_when_the_redis_cache_is_configured(
    settings, anon, login_prefix
):
    raw, prefix = login_prefix
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_LOCATION,
            "KEY_PREFIX": prefix,
        }
    }
    api_user_create(username="redisuser", password="a-password-1")
    login = "/api/v1/auth/login/"

    refused = anon.post(login, {"username": "redisuser", "password": "wrong"}, format="json")
    accepted = anon.post(
        login, {"username": "redisuser", "password": "a-password-1"}, format="json"
    )

    assert (refused.status_code, refused.json()["code"]) == (400, "authorization")
    assert accepted.status_code == 200
    assert len(accepted.json()["key"]) == 40
    # The failure was counted in Redis: one counter per username and one per IP, each at 1.
    keys = sorted(key.decode() for key in raw.scan_iter(match=f"{prefix}:*"))
    assert [key.split(":")[3] for key in keys] == ["ip", "user"]
    assert [raw.get(key) for key in keys] == [b"1", b"1"]
