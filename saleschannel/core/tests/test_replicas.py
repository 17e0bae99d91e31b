"""Read replicas under the production server: a private primary and a streaming replica
(pg_basebackup -R), both logging every statement, show which cluster served each read: a client's
reads right after its write go to the primary, later reads to the replica; a lagging or stopped
replica is skipped and reads stay correct."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import time
import uuid

import pytest
from django.db import connection

from saleschannel.customers.tests.factories import customer_body

from .pgcluster import Cluster, private_cluster_skip_reason, wait_replayed
from .servers import (
    AppServer,
    call,
    flush_redis,
    free_port,
    manage,
    redis_skip_reason,
    server_env,
    wait_all_healthy,
)

REDIS_URL = "redis://127.0.0.1:6379/14"
DATABASE = "scc_replicas"
PIN_SECONDS = 2  # REPLICA_PIN_SECONDS
CHECK_SECONDS = 1  # REPLICA_CHECK_SECONDS
MAX_LAG_SECONDS = 1  # REPLICA_MAX_LAG_SECONDS of the lag-aware server
FAILOVER_LIMIT = 2.0  # seconds a read may take while the replica is down
CONNECT_TIMEOUT = 2  # DB_CONNECT_TIMEOUT of every server


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Primary + replica clusters; servers `tolerant` and `tolerant_b` (replica lag never
    disqualifies the replica) and `lag_aware` (REPLICA_MAX_LAG_SECONDS=1), all sharing Redis;
    a channel; tokens `writer` and `reader`."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: run with DATABASE_URL=postgres://... (this run is SQLite)")
    for reason in (private_cluster_skip_reason("pg_basebackup"), redis_skip_reason(REDIS_URL)):
        if reason:
            pytest.skip(reason)

    root = tmp_path_factory.mktemp("replicas")
    cleanup: list = [lambda: flush_redis(REDIS_URL)]
    try:
        primary = Cluster("h13_primary")
        cleanup.append(primary.destroy)
        primary.init()
        primary.start(wal_level="replica", max_wal_senders=5, wal_keep_size="256MB",
                      hot_standby="on", log_statement="all")  # fmt: skip
        replica = Cluster("h13_replica")
        cleanup.append(replica.destroy)
        replica.basebackup_from(primary)
        replica.start(hot_standby="on", log_statement="all")
        assert replica.query("SELECT pg_is_in_recovery()") is True
        primary.create_database(DATABASE)

        env = server_env(
            root / "setup",
            DATABASE_URL=primary.url(DATABASE),
            REDIS_URL=REDIS_URL,
            RATE_LIMIT_PER_TOKEN="off",
            DB_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
        )
        manage(env, "migrate", "--noinput")
        channel = manage(env, "create_channel", "--name", "Replicas", "--channel-type", "web",
                         "--catalog", "1")  # fmt: skip
        writer = manage(env, "create_api_user", "writer", "--superuser")["token"]
        reader = manage(env, "create_api_user", "reader", "--superuser")["token"]

        replicated = {**env, "DATABASE_REPLICA_URLS": replica.url(DATABASE),
                      "REPLICA_PIN_SECONDS": str(PIN_SECONDS),
                      "REPLICA_CHECK_SECONDS": str(CHECK_SECONDS)}  # fmt: skip

        def server(name: str, max_lag: int, workers: int) -> AppServer:
            app = AppServer(
                name,
                {**replicated, "REPLICA_MAX_LAG_SECONDS": str(max_lag), "PORT": str(free_port()),
                 "WEB_CONCURRENCY": str(workers)},
                root,
            )  # fmt: skip
            cleanup.append(app.stop)
            return app

        # "tolerant" servers: lag never disqualifies the replica (only pins and outages count).
        tolerant = server("tolerant", 86400, 2)
        tolerant_b = server("tolerant_b", 86400, 1)
        lag_aware = server("lag_aware", MAX_LAG_SECONDS, 1)
        wait_all_healthy([tolerant, tolerant_b, lag_aware])
        yield {
            "primary": primary,
            "replica": replica,
            "tolerant": tolerant,
            "tolerant_b": tolerant_b,
            "lag_aware": lag_aware,
            "customers": f"/api/v1/channel/{channel['id']}/customers/",
            "writer": writer,
            "reader": reader,
        }
    finally:
        for step in reversed(cleanup):
            with contextlib.suppress(Exception):
                step()


@pytest.fixture
def replicated(stack):
    """The replica is running, replaying and caught up, and every app worker's cached health
    verdict has expired (its next read checks the replica again)."""
    primary: Cluster = stack["primary"]
    replica: Cluster = stack["replica"]
    if not (replica.data / "postmaster.pid").exists():
        replica.start(hot_standby="on", log_statement="all")
    if replica.query("SELECT pg_is_wal_replay_paused()"):
        replica.query("SELECT pg_wal_replay_resume()")
    wait_replayed(primary, replica)
    time.sleep(CHECK_SECONDS + 0.2)  # every worker's cached health verdict is now stale
    yield stack
    with contextlib.suppress(Exception):
        if replica.query("SELECT pg_is_wal_replay_paused()"):
            replica.query("SELECT pg_wal_replay_resume()")


def marker() -> str:
    """A unique email prefix: it appears in the SQL of a list filtered by it, and nowhere else."""
    return f"m{uuid.uuid4().hex[:16]}-"


def prefixes_of(email: str, start: int, count: int) -> list[str]:
    """`count` distinct prefixes of `email`, each at least `start` long: each one matches the
    same customer, and each leaves its own trace (`<prefix>%`) in the SQL log."""
    assert start + count <= len(email)
    return [email[: start + k] for k in range(count)]


def create_customer(stack, server: AppServer, prefix: str) -> dict:
    body = customer_body(f"{prefix}c@example.com")  # channel code: f"{prefix}c"
    reply = call("POST", server.url(stack["customers"]), stack["writer"], body)
    assert reply.status == 201, reply.body
    return reply.body


def list_by_prefix(stack, server: AppServer, token: str, prefix: str):
    """GET the customers whose email starts with `prefix`; also which clusters ran that SELECT."""
    primary: Cluster = stack["primary"]
    replica: Cluster = stack["replica"]
    marks = primary.mark(), replica.mark()
    reply = call("GET", server.url(f"{stack['customers']}?email__startswith={prefix}"), token)
    time.sleep(0.05)  # PostgreSQL logs a statement before running it; a margin for the write
    served = [
        name
        for name, cluster, mark in (("primary", primary, marks[0]), ("replica", replica, marks[1]))
        if any(
            "customers_customer" in line and f"{prefix}%" in line
            for line in cluster.log_since(mark).splitlines()
        )
    ]
    return reply, served


def wait_until_served_by_replica(stack, server: AppServer, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while True:
        reply, served = list_by_prefix(stack, server, stack["reader"], marker())
        if reply.status == 200 and served == ["replica"]:
            return
        assert time.monotonic() < deadline, f"reads never reached the replica: {served}"
        time.sleep(0.2)


def test_reads_right_after_a_write_come_from_the_primary_on_every_server_while_replica_is_behind(
    replicated,
):
    stack = replicated
    server: AppServer = stack["tolerant"]
    other: AppServer = stack["tolerant_b"]
    for app in (server, other):
        wait_until_served_by_replica(stack, app)
    stack["replica"].query("SELECT pg_wal_replay_pause()")

    prefix = marker()
    written_at = time.monotonic()
    created = create_customer(stack, server, prefix)

    # The writer is pinned to the primary on every server: it sees its new customer at once.
    for app, prefix_n in zip((other, server), (prefix + "c", prefix + "c@"), strict=True):
        reply, served = list_by_prefix(stack, app, stack["writer"], prefix_n)
        assert (reply.status, reply.body, served) == (200, [created], ["primary"]), app.name
    assert time.monotonic() - written_at < PIN_SECONDS
    # The pin is kept in Redis (shared by every worker and server) for REPLICA_PIN_SECONDS,
    # under a hash of the client's Authorization header.
    import redis

    digest = hashlib.sha256(f"Token {stack['writer']}".encode()).hexdigest()[:32]
    client = redis.Redis.from_url(REDIS_URL)
    try:
        pins = [key.decode() for key in client.keys("*replica-pin:*")]
        # Other clients' pins (e.g. the set-up's writes, 2 s TTL) may still be there.
        mine = [pin for pin in pins if pin.endswith(f"replica-pin:{digest}")]
        assert len(mine) == 1, pins
        assert 0 < client.pttl(mine[0]) <= PIN_SECONDS * 1000
    finally:
        client.close()

    # The replica really is behind: a client that wrote nothing reads there and sees nothing yet.
    for app, prefix_n in zip((other, server), (prefix, prefix[:-1]), strict=True):
        reply, served = list_by_prefix(stack, app, stack["reader"], prefix_n)
        assert (reply.status, reply.body, served) == (200, [], ["replica"]), app.name


def test_after_the_pin_window_the_writers_reads_are_served_by_the_replica(replicated):
    stack = replicated
    server: AppServer = stack["tolerant"]
    prefix = marker()
    written_at = time.monotonic()
    created = create_customer(stack, server, prefix)
    wait_replayed(stack["primary"], stack["replica"])

    email = created["email"]
    pinned, *later = prefixes_of(email, len(prefix), 4)
    reply, served = list_by_prefix(stack, server, stack["writer"], pinned)
    assert time.monotonic() - written_at < PIN_SECONDS
    assert (reply.status, reply.body, served) == (200, [created], ["primary"])  # still pinned

    time.sleep(max(0.0, written_at + PIN_SECONDS + 0.3 - time.monotonic()))
    for attempt, prefix_n in enumerate(later):  # whichever worker answers
        reply, served = list_by_prefix(stack, server, stack["writer"], prefix_n)
        assert (reply.status, reply.body, served) == (200, [created], ["replica"]), attempt


def test_a_replica_lagging_more_than_max_lag_is_skipped_until_it_catches_up(replicated):
    stack = replicated
    server: AppServer = stack["lag_aware"]
    wait_until_served_by_replica(stack, server)
    stack["replica"].query("SELECT pg_wal_replay_pause()")

    prefix = marker()
    created = create_customer(stack, server, prefix)  # WAL the paused replica cannot replay
    time.sleep(MAX_LAG_SECONDS + CHECK_SECONDS + 0.5)

    # The reader wrote nothing (no pin): the primary answers because the replica lags.
    reply, served = list_by_prefix(stack, server, stack["reader"], prefix)
    assert (reply.status, reply.body, served) == (200, [created], ["primary"])

    stack["replica"].query("SELECT pg_wal_replay_resume()")
    wait_replayed(stack["primary"], stack["replica"])
    time.sleep(CHECK_SECONDS + 0.2)
    reply, served = list_by_prefix(stack, server, stack["reader"], prefix + "c")
    assert (reply.status, reply.body, served) == (200, [created], ["replica"])


def test_reads_are_answered_from_the_primary_within_two_seconds_when_the_replica_is_stopped(
    replicated,
):
    stack = replicated
    server: AppServer = stack["tolerant"]
    prefix = marker()
    created = create_customer(stack, server, prefix)
    wait_replayed(stack["primary"], stack["replica"])
    for _ in range(4):  # most likely on both workers: each then holds a replica connection
        wait_until_served_by_replica(stack, server)

    stack["replica"].stop("fast")
    # Ten reads, more than the server's two workers: each worker meets the outage.
    for attempt, prefix_n in enumerate(prefixes_of(created["email"], len(prefix), 10)):
        reply, served = list_by_prefix(stack, server, stack["reader"], prefix_n)
        assert (reply.status, reply.body) == (200, [created]), (attempt, reply.body)
        assert reply.seconds < FAILOVER_LIMIT, (attempt, reply.seconds)
        assert "primary" in served, (attempt, served)
    detail = call("GET", server.url(f"{stack['customers']}{created['pk']}/"), stack["reader"])
    assert (detail.status, detail.body) == (200, created)
    assert detail.seconds < FAILOVER_LIMIT
    assert call("GET", server.url("/readyz")).status == 200
    assert "Traceback" not in server.log()


def test_a_hung_replica_delays_only_the_read_that_checks_it_not_the_next_one(replicated):
    stack = replicated
    server: AppServer = stack["lag_aware"]  # one worker process: one health verdict
    replica: Cluster = stack["replica"]
    prefix = marker()
    created = create_customer(stack, server, prefix)
    wait_replayed(stack["primary"], replica)
    wait_until_served_by_replica(stack, server)

    replica.stop("fast")
    # Something accepts connections on the replica's port but never answers (a hung host).
    hang = socket.socket()
    hang.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hang.bind(("127.0.0.1", replica.port))
    hang.listen(64)
    try:
        detail = server.url(f"{stack['customers']}{created['pk']}/")
        first = call("GET", detail, stack["reader"])  # meets the hung replica, then the primary
        assert (first.status, first.body) == (200, created)
        time.sleep(CHECK_SECONDS + 0.2)  # the verdict expires: the next read checks again
        checked = call("GET", detail, stack["reader"])
        assert (checked.status, checked.body) == (200, created)
        assert CONNECT_TIMEOUT - 0.5 <= checked.seconds < CONNECT_TIMEOUT + FAILOVER_LIMIT
        # Right after that check the replica is known to be down: no new check, no wait.
        following = call("GET", detail, stack["reader"])
        assert (following.status, following.body) == (200, created)
        assert following.seconds < 1.0, following.seconds
    finally:
        hang.close()
