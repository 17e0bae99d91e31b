"""The production command (scripts/serve) as a real subprocess against the test's own database."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from saleschannel.accounts.services import api_user_create
from saleschannel.customers.tests.factories import CustomerFactory

from .servers import SERVE, AppServer, call, server_env, this_tests_database_url

# The child process reads what the test writes: the rows must be committed.
shares_test_data = pytest.mark.django_db(transaction=True)

GRACEFUL_TIMEOUT = 10


def child_env(tmp_path: Path, shared_db: bool = True, **overrides: str) -> dict[str, str]:
    """The child's environment: the test's database if `shared_db`, else a scratch SQLite file."""
    database_url = (
        this_tests_database_url() if shared_db else f"sqlite:///{tmp_path}/scratch.sqlite3"
    )
    env = server_env(
        tmp_path,
        **{"DATABASE_URL": database_url, "GRACEFUL_TIMEOUT": str(GRACEFUL_TIMEOUT), **overrides},
    )
    if "SERVE_COLLECTSTATIC" not in overrides:
        del env["SERVE_COLLECTSTATIC"]  # serve's own default (collect static files) is tested
    return env


@pytest.fixture
def start_server(tmp_path):
    servers: list[AppServer] = []

    def start(shared_db: bool = True, **overrides: str) -> AppServer:
        server = AppServer(
            f"serve{len(servers)}", child_env(tmp_path, shared_db, **overrides), tmp_path
        )
        servers.append(server)
        server.wait_healthy()
        return server

    yield start
    for server in servers:
        server.stop()


def accept_queue_length(port: int) -> int:
    """Connections waiting in the kernel for accept() on the IPv4 listening socket of `port`."""
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            if local_port == port and fields[3] == "0A":  # 0A: LISTEN
                return int(fields[4].split(":")[1], 16)  # rx_queue: the accept backlog
    raise AssertionError(f"nothing listens on port {port}")


@pytest.mark.parametrize("value", ["true", "True", "1", "yes", "on", "maybe"])
def test_serve_refuses_to_start_when_debug_is_not_false(tmp_path, value):
    env = child_env(tmp_path, shared_db=False, DEBUG=value)
    done = subprocess.run([str(SERVE)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert f"refusing to start: DEBUG={value}" in done.stderr
    with socket.socket() as sock:  # it never bound its port
        assert sock.connect_ex(("127.0.0.1", int(env["PORT"]))) != 0


def test_serve_refuses_a_settings_module_other_than_production(tmp_path):
    env = child_env(tmp_path, shared_db=False, DJANGO_SETTINGS_MODULE="config.settings.local")
    done = subprocess.run([str(SERVE)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "DJANGO_SETTINGS_MODULE=config.settings.local" in done.stderr
    assert "config.settings.production" in done.stderr


def test_serve_refuses_to_start_without_secret_key(tmp_path):
    env = child_env(tmp_path, shared_db=False)
    del env["SECRET_KEY"]
    done = subprocess.run([str(SERVE)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "SECRET_KEY must be set" in done.stderr


@shares_test_data
def test_serve_answers_the_api_from_the_test_database_with_production_settings(
    start_server, channel
):
    customers = CustomerFactory.create_batch(3, channel=channel)
    _, token = api_user_create(username="prod", password=None, superuser=True)
    server = start_server(DEBUG="false")  # an explicit false is accepted

    ready = call("GET", server.url("/readyz"))
    assert (ready.status, ready.body) == (
        200,
        {"status": "ready", "database": "ok", "migrations": "ok"},
    )
    listed = call("GET", server.url(f"/api/v1/channel/{channel.pk}/customers/"), token)
    assert listed.status == 200
    assert [(row["pk"], row["email"]) for row in listed.body] == [
        (c.pk, c.email) for c in customers
    ]
    headers = listed.headers
    assert headers["X-Total-Count"] == "3"
    # Production settings limit requests per token by default (1200/minute).
    assert (headers["RateLimit-Limit"], headers["RateLimit-Remaining"]) == ("1200", "1199")
    # gunicorn cannot be told to drop `Server`; it sends its name without the version.
    assert headers["Server"] == "gunicorn"
    # DEBUG off: an unknown URL is the JSON 404, not Django's technical page.
    missing = call("GET", server.url("/no/such/page/"), token)
    assert (missing.status, missing.body) == (404, {"detail": "Not found.", "code": "not_found"})


def test_serve_collects_static_files_for_whitenoise_and_logs_only_the_apps_json_lines(
    start_server,
):
    server = start_server(shared_db=False, REQUEST_LOG_LEVEL="INFO")

    collected = Path(server.env["STATIC_ROOT"]) / "admin" / "css" / "base.css"
    assert collected.is_file()
    css = call("GET", server.url("/static/admin/css/base.css"))
    assert css.status == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert css.raw == collected.read_bytes()
    # No gunicorn access log: the requests (the first good /healthz, the CSS) appear once each,
    # as the app's JSON lines.
    requests = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    assert [(r["path"], r["status"]) for r in requests] == [
        ("/healthz", 200),
        ("/static/admin/css/base.css", 200),
    ]
    assert "GET /static/admin/css/base.css HTTP" not in server.log()


@shares_test_data
def test_sigterm_lets_a_request_in_flight_finish_and_exits_zero(start_server, channel):
    customers = CustomerFactory.create_batch(150, channel=channel)
    _, token = api_user_create(username="prod", password=None, superuser=True)
    server = start_server()

    head = (
        f"GET /api/v1/channel/{channel.pk}/customers/?limit=1000 HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Token {token}\r\n"
        "Connection: close\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head.encode())  # every header but the blank line that ends them
        deadline = time.monotonic() + 10
        while accept_queue_length(server.port):  # until a worker has accepted the connection
            assert time.monotonic() < deadline, "no worker accepted the connection"
            time.sleep(0.01)
        time.sleep(0.2)

        term_sent = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.wait_for_log("Handling signal: term")
        time.sleep(0.5)  # the workers have their SIGTERM too: they are shutting down now
        assert server.proc.poll() is None, "the server exited with a request in flight"
        sock.sendall(b"\r\n")

        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()  # raises IncompleteRead if the body is cut short

    assert response.status == 200
    assert int(response.headers["Content-Length"]) == len(body)
    rows = json.loads(body)
    assert [row["pk"] for row in rows] == [c.pk for c in customers]
    assert response.headers["X-Total-Count"] == "150"

    server.proc.wait(timeout=GRACEFUL_TIMEOUT + 5)
    assert server.proc.returncode == 0, server.log()
    assert time.monotonic() - term_sent < GRACEFUL_TIMEOUT
    assert "Shutting down: Master" in server.log()


@pytest.mark.django_db
def test_serve_migrate_1_migrates_an_empty_database_before_serving(start_server, tmp_path):
    # A scratch SQLite file (on either test database): the step under test is serve's, not the
    # database's; the applied migrations must be exactly those of the test database.
    scratch = tmp_path / "scratch.sqlite3"
    server = start_server(shared_db=False, SERVE_MIGRATE="1")

    ready = call("GET", server.url("/readyz"))
    assert (ready.status, ready.body["migrations"]) == (200, "ok")
    with sqlite3.connect(scratch) as db:
        applied = set(db.execute("SELECT app, name FROM django_migrations").fetchall())
    assert applied == set(MigrationRecorder(connection).applied_migrations())


def test_serve_without_serve_migrate_leaves_an_empty_database_unmigrated(start_server, tmp_path):
    server = start_server(shared_db=False)

    ready = call("GET", server.url("/readyz"))
    assert ready.status == 503
    assert ready.body["migrations"] == "pending"
