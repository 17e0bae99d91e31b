"""Two production app servers (separate processes and ports) on one database and one Redis behave
as one service: writes, tokens, idempotency records, rate limits and login failures are shared."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from saleschannel.accounts.models import ApiToken
from saleschannel.accounts.services import api_user_create
from saleschannel.channels.tests.factories import ChannelFactory
from saleschannel.core.models import IdempotencyRecord
from saleschannel.customers.models import Customer
from saleschannel.customers.tests.factories import customer_body

from .servers import (
    AppServer,
    Reply,
    call,
    flush_redis,
    redis_skip_reason,
    server_env,
    this_tests_database_url,
    wait_all_healthy,
)

# The servers read what the test writes, and the test reads what they write: committed rows.
pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = "redis://127.0.0.1:6379/14"
RATE_LIMIT = 6  # per token per minute, on both servers
MAX_LOGIN_FAILURES = 4  # per username per LOGIN_WINDOW_SECONDS, on both servers
WINDOW = 60  # seconds: the rate limit's period ("/minute") and LOGIN_WINDOW_SECONDS
ACTIVE_USER = "/api/v1/active_user/"
LOGIN = "/api/v1/auth/login/"


@pytest.fixture(scope="module")
def servers(django_db_setup, django_db_blocker, tmp_path_factory):
    """Servers A and B: production settings, the test database, Redis DB 14 shared."""
    reason = redis_skip_reason(REDIS_URL)
    if reason:
        pytest.skip(reason)
    with django_db_blocker.unblock():
        database_url = this_tests_database_url()
    root = tmp_path_factory.mktemp("two_servers")
    started: list[AppServer] = []
    try:
        for name in ("A", "B"):
            env = server_env(
                root / name,
                DATABASE_URL=database_url,
                REDIS_URL=REDIS_URL,
                RATE_LIMIT_PER_TOKEN=f"{RATE_LIMIT}/minute",
                LOGIN_MAX_FAILURES_PER_USERNAME=str(MAX_LOGIN_FAILURES),
                LOGIN_WINDOW_SECONDS=str(WINDOW),
            )
            started.append(AppServer(name, env, root))
        wait_all_healthy(started)
        a, b = started
        assert a.base != b.base and a.proc.pid != b.proc.pid
        yield a, b
    finally:
        for server in started:
            server.stop()
        flush_redis(REDIS_URL)


def new_user(*, password: str | None = None, superuser: bool = True) -> tuple[str, str]:
    """A committed API user (unique name) with a token: (username, token).

    The password is hashed as the production settings hash it (PBKDF2): the test settings' fast
    MD5 hasher is unknown to the servers, which would refuse every login.
    """
    username = f"two-{uuid.uuid4().hex[:12]}"
    user, key = api_user_create(username=username, superuser=superuser)
    if password is not None:
        hasher = PBKDF2PasswordHasher()
        user.password = hasher.encode(password, hasher.salt())
        user.save(update_fields=["password"])
    return username, key


def wait_for_room_in_window(needed: float) -> None:
    """Sleep into the next fixed window if fewer than `needed` seconds are left in this one."""
    left = WINDOW - time.time() % WINDOW
    if left < needed:
        time.sleep(left + 0.1)


def served_by(server: AppServer, request_id: str) -> list[tuple[str, str, int]]:
    return [
        (line["method"], line["path"], line["status"])
        for line in server.request_log()
        if line["request_id"] == request_id
    ]


def test_customer_created_on_a_is_read_and_patched_on_b_deleted_on_a_and_then_404_on_b(servers):
    a, b = servers
    channel = ChannelFactory()
    _, token = new_user()
    path = f"/api/v1/channel/{channel.pk}/customers/"
    steps: list[tuple[AppServer, str, str, int]] = []

    def step(server: AppServer, method: str, url_path: str, body=None) -> Reply:
        request_id = uuid.uuid4().hex
        reply = call(method, server.url(url_path), token, body, {"X-Request-ID": request_id})
        steps.append((server, request_id, method, url_path))
        return reply

    created = step(a, "POST", path, customer_body("shared@example.com"))
    assert created.status == 201, created.body
    pk = created.body["pk"]
    detail = f"{path}{pk}/"
    assert Customer.objects.filter(pk=pk, channel=channel, email="shared@example.com").exists()

    read = step(b, "GET", detail)
    assert (read.status, read.body) == (200, created.body)
    assert read.headers["ETag"] == created.headers["ETag"]

    patched = step(b, "PATCH", detail, {"first_name": "Patched on B"})
    assert patched.status == 200, patched.body
    assert patched.body == {**created.body, "first_name": "Patched on B",
                            "modified_date": patched.body["modified_date"]}  # fmt: skip
    assert Customer.objects.get(pk=pk).first_name == "Patched on B"

    reread = step(a, "GET", detail)
    assert (reread.status, reread.body) == (200, patched.body)
    assert reread.headers["ETag"] == patched.headers["ETag"] != created.headers["ETag"]

    deleted = step(a, "DELETE", detail)
    assert (deleted.status, deleted.body) == (204, None)
    assert not Customer.objects.filter(pk=pk).exists()

    gone = step(b, "GET", detail)
    assert (gone.status, gone.body) == (404, {"detail": "Not found.", "code": "not_found"})

    # Each request was served by the server it was sent to (its own request log says so).
    expected_status = [201, 200, 200, 200, 204, 404]
    for (server, request_id, method, url_path), status in zip(steps, expected_status, strict=True):
        other = b if server is a else a
        assert served_by(server, request_id) == [(method, url_path, status)]
        assert served_by(other, request_id) == []


def test_token_from_login_on_a_is_accepted_by_b(servers):
    a, b = servers
    username, _ = new_user(password="pass-on-a-1", superuser=False)

    login = call("POST", a.url(LOGIN), body={"username": username, "password": "pass-on-a-1"})
    assert login.status == 200, login.body
    assert list(login.body) == ["key"]
    key = login.body["key"]
    assert ApiToken.objects.filter(user__username=username, name="login").count() == 1

    on_b = call("GET", b.url(ACTIVE_USER), key)
    assert on_b.status == 200, on_b.body
    assert on_b.body["username"] == username
    assert (on_b.body["is_superuser"], on_b.body["channels"]) == (False, [])
    assert call("GET", a.url(ACTIVE_USER), key).body == on_b.body


@pytest.mark.parametrize("concurrent", [False, True], ids=["a_then_b", "a_and_b_at_once"])
def test_idempotent_post_sent_to_a_and_b_creates_one_customer_and_replays_the_first_response(
    servers, concurrent
):
    a, b = servers
    channel = ChannelFactory()
    username, token = new_user()
    path = f"/api/v1/channel/{channel.pk}/customers/"
    body = customer_body("once@example.com")
    key = {"Idempotency-Key": f"retry-{uuid.uuid4().hex}"}

    def post(server: AppServer) -> Reply:
        return call("POST", server.url(path), token, body, key)

    if concurrent:
        with ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(post, (a, b)))
    else:
        replies = [post(a), post(b)]

    assert [reply.status for reply in replies] == [201, 201], [r.body for r in replies]
    assert replies[0].body == replies[1].body
    assert replies[0].headers["ETag"] == replies[1].headers["ETag"]
    replayed = sorted(reply.headers.get("Idempotent-Replayed", "") for reply in replies)
    assert replayed == ["", "true"]
    if not concurrent:
        assert "Idempotent-Replayed" not in replies[0].headers
    customers = Customer.objects.filter(channel=channel)
    assert list(customers.values_list("pk", "email")) == [
        (replies[0].body["pk"], "once@example.com")
    ]
    assert IdempotencyRecord.objects.filter(user__username=username).count() == 1


@pytest.mark.parametrize("seventh_on", ["A", "B"])
def test_rate_limit_is_shared_three_on_a_and_three_on_b_pass_the_seventh_is_429(
    servers, seventh_on
):
    a, b = servers
    _, token = new_user()
    wait_for_room_in_window(needed=8)

    for used in range(1, RATE_LIMIT + 1):
        server = a if used % 2 else b  # A, B, A, B, A, B
        reply = call("GET", server.url(ACTIVE_USER), token)
        assert reply.status == 200, (server.name, used, reply.body)
        assert reply.headers["RateLimit-Limit"] == str(RATE_LIMIT)
        assert reply.headers["RateLimit-Remaining"] == str(RATE_LIMIT - used)

    server = a if seventh_on == "A" else b
    over = call("GET", server.url(ACTIVE_USER), token)
    assert over.status == 429
    assert over.body["code"] == "throttled"
    assert 1 <= int(over.headers["Retry-After"]) <= WINDOW
    assert over.headers["RateLimit-Remaining"] == "0"
    # Another token is not affected on either server.
    _, other = new_user()
    assert call("GET", a.url(ACTIVE_USER), other).status == 200
    assert call("GET", b.url(ACTIVE_USER), other).status == 200


def test_failed_logins_are_counted_across_servers_and_lock_the_username_on_both(servers):
    a, b = servers
    username, _ = new_user(password="right-password-1")
    wait_for_room_in_window(needed=8)

    for attempt in range(MAX_LOGIN_FAILURES):  # A, B, A, B: neither alone reaches the limit
        server = (a, b)[attempt % 2]
        failed = call("POST", server.url(LOGIN), body={"username": username, "password": "no"})
        assert failed.status == 400, (server.name, attempt, failed.body)
        assert failed.body == {
            "non_field_errors": ["Unable to log in with provided credentials."],
            "code": "authorization",
        }

    right = {"username": username, "password": "right-password-1"}
    for server in (a, b):
        locked = call("POST", server.url(LOGIN), body=right)
        assert locked.status == 429, (server.name, locked.body)
        wait = int(locked.headers["Retry-After"])
        assert 1 <= wait <= WINDOW
        unit = "second" if wait == 1 else "seconds"
        assert locked.body == {
            "detail": f"Too many failed login attempts. Expected available in {wait} {unit}.",
            "code": "throttled",
        }
    assert not ApiToken.objects.filter(user__username=username, name="login").exists()

    # Another username from the same address still logs in on either server.
    other, _ = new_user(password="other-password-1")
    for server in (a, b):
        body = {"username": other, "password": "other-password-1"}
        ok = call("POST", server.url(LOGIN), body=body)
        assert ok.status == 200, ok.body
    assert ApiToken.objects.filter(user__username=other, name="login").count() == 2
