"""Database faults under the production server: a private PostgreSQL cluster is stopped, hung and
locked; the API answers 503 quickly, health stays up, nothing is lost or half-written."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

import pytest
from django.db import connection

from saleschannel.customers.tests.factories import customer_body

from .pgcluster import Cluster, private_cluster_skip_reason
from .servers import AppServer, Reply, call, manage, server_env

DATABASE = "scc_faults"
CONNECT_TIMEOUT = 2  # DB_CONNECT_TIMEOUT given to the server
STATEMENT_TIMEOUT_MS = 1000  # DB_STATEMENT_TIMEOUT_MS given to the server
MARGIN = 3.0  # seconds allowed on top of a timeout for the round trip through gunicorn
PG_CONF = {"full_page_writes": "off"}  # a throw-away cluster: fast, not crash-safe


@pytest.fixture
def stack(tmp_path):
    """A private cluster, migrated, with a channel and a superuser token, served by gunicorn."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: run with DATABASE_URL=postgres://... (this run is SQLite)")
    reason = private_cluster_skip_reason()
    if reason:
        pytest.skip(reason)

    cleanup: list = []
    try:
        cluster = Cluster("faults")
        cleanup.append(cluster.destroy)
        cluster.init()
        cluster.start(**PG_CONF)
        cluster.create_database(DATABASE)
        env = server_env(
            tmp_path,
            DATABASE_URL=cluster.url(DATABASE),
            RATE_LIMIT_PER_TOKEN="off",
            DB_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
        )
        # Management commands keep the default statement timeout: migrations are not under test.
        manage(env, "migrate", "--noinput")
        channel = manage(env, "create_channel", "--name", "Faults", "--channel-type", "web",
                         "--catalog", "1")  # fmt: skip
        user = manage(env, "create_api_user", "faults", "--superuser")

        server = AppServer(
            "gunicorn", {**env, "DB_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS)}, tmp_path
        )
        cleanup.append(server.stop)
        server.wait_healthy()

        yield {
            "cluster": cluster,
            "server": server,
            "base": server.base,
            "customers": server.url(f"/api/v1/channel/{channel['id']}/customers/"),
            "token": user["token"],
            "cleanup": cleanup,
        }
    finally:
        for step in reversed(cleanup):
            with contextlib.suppress(Exception):
                step()


def assert_503_fast(reply: Reply, limit: float) -> None:
    assert reply.status == 503, (reply.status, reply.body)
    assert reply.body["code"] == "service_unavailable"
    assert isinstance(reply.body["detail"], str)
    assert reply.seconds < limit, f"took {reply.seconds:.2f} s (limit {limit} s)"


def wait_until_ok(fn: Callable[[], Reply], seconds: float) -> Reply:
    deadline = time.monotonic() + seconds
    while True:
        reply = fn()
        if reply.status < 500 or time.monotonic() > deadline:
            return reply
        time.sleep(0.2)


def test_database_down_hung_and_locked_gives_fast_503s_and_loses_nothing(stack):
    base, customers, token = stack["base"], stack["customers"], stack["token"]
    cluster: Cluster = stack["cluster"]
    server: AppServer = stack["server"]

    reply = call("POST", customers, token, customer_body("kept@example.com"))
    assert reply.status == 201, reply.body
    created = reply.body
    detail = f"{customers}{created['pk']}/"
    reply = call("GET", detail, token)
    assert (reply.status, reply.body) == (200, created)

    # 1. The database is stopped: connections are refused, every DB-backed answer is a quick 503.
    cluster.stop("fast")
    limit = CONNECT_TIMEOUT + MARGIN
    for _ in range(4):  # more requests than workers: each worker meets the outage
        assert_503_fast(call("GET", detail, token), limit)
    assert_503_fast(call("GET", customers, token), limit)
    assert_503_fast(call("POST", customers, token, customer_body("lost@example.com")), limit)
    assert_503_fast(call("PATCH", detail, token, {"first_name": "Outage"}), limit)
    ready = call("GET", f"{base}/readyz")
    assert (ready.status, ready.body["code"], ready.body["database"]) == (
        503,
        "service_unavailable",
        "unreachable",
    )
    assert ready.seconds < limit
    health = call("GET", f"{base}/healthz")
    assert (health.status, health.body) == (200, {"status": "ok"})

    # 2. Something listens on the port but never answers (a hung host): DB_CONNECT_TIMEOUT
    #    bounds the wait, and the answer is still a 503.
    hang = socket.socket()
    stack["cleanup"].append(hang.close)
    hang.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hang.bind(("127.0.0.1", cluster.port))
    hang.listen(64)
    for reply in (call("GET", detail, token), call("GET", f"{base}/readyz")):
        assert (reply.status, reply.body["code"]) == (503, "service_unavailable")
        assert CONNECT_TIMEOUT - 0.5 <= reply.seconds < CONNECT_TIMEOUT + MARGIN, reply.seconds
    assert call("GET", f"{base}/healthz").status == 200
    hang.close()

    # 3. The database comes back: within seconds requests succeed, and nothing is lost.
    cluster.start(**PG_CONF)
    reply = wait_until_ok(lambda: call("GET", detail, token), 10)
    assert (reply.status, reply.body) == (200, created)
    assert wait_until_ok(lambda: call("GET", f"{base}/readyz"), 10).status == 200
    for email, expected in (("kept@example.com", [created["pk"]]), ("lost@example.com", [])):
        reply = call("GET", f"{customers}?email={email}", token)
        assert (reply.status, [row["pk"] for row in reply.body]) == (200, expected)

    # 4. A statement that waits too long (the table is locked) ends with 503 after
    #    DB_STATEMENT_TIMEOUT_MS instead of holding the worker, and writes nothing.
    import psycopg

    locker = psycopg.connect(cluster.url(DATABASE))
    stack["cleanup"].append(locker.close)
    locker.execute("LOCK TABLE customers_customer IN ACCESS EXCLUSIVE MODE")  # tx stays open
    reply = call("PATCH", detail, token, {"first_name": "Blocked"})
    assert (reply.status, reply.body["code"]) == (503, "service_unavailable"), reply.body
    timeout = STATEMENT_TIMEOUT_MS / 1000
    assert timeout - 0.2 <= reply.seconds < timeout + MARGIN
    assert call("GET", f"{base}/healthz").status == 200
    locker.rollback()
    locker.close()
    reply = call("GET", detail, token)
    assert (reply.status, reply.body) == (200, created)  # the timed-out PATCH wrote nothing

    reply = call("PATCH", detail, token, {"first_name": "After"})
    assert (reply.status, reply.body["first_name"]) == (200, "After")
    reply = call("GET", detail, token)
    assert (reply.status, reply.body["first_name"], reply.body["email"]) == (
        200,
        "After",
        "kept@example.com",
    )
    log = server.log()
    assert "Traceback" not in log, log
