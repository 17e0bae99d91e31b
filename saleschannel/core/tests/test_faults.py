"""Database faults under the production server: a private PostgreSQL cluster is stopped, hung and
locked; the API answers 503 quickly, health stays up, nothing is lost or half-written."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)
CONNECT_TIMEOUT = 2  # DB_CONNECT_TIMEOUT given to the server
STATEMENT_TIMEOUT_MS = 1000  # DB_STATEMENT_TIMEOUT_MS given to the server
MARGIN = 3.0  # seconds allowed on top of a timeout for the round trip through gunicorn
INITDB = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(method: str, url: str, token: str | None = None, body: dict | None = None):
    """(status, parsed JSON body, seconds taken) of one request on a fresh connection."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Token {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    return status, json.loads(raw) if raw else None, time.monotonic() - started


class Cluster:
    """A throw-away PostgreSQL cluster in its own directory, run as the `postgres` OS user when
    the tests run as root (PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        self.bindir = Path(INITDB[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="scc_h10_pg_", dir="/tmp"))
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        self.sockets.mkdir()
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            for path in (self.root, self.sockets):
                os.chown(path, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [*self.as_user, str(self.bindir / tool), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{tool} {args} failed:\n{done.stdout}\n{self.log_text()}")
        return done

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def init(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--no-sync")  # fmt: skip

    def start(self) -> None:
        options = (
            f"-k {self.sockets} -c listen_addresses=127.0.0.1 -p {self.port} -c fsync=off "
            "-c full_page_writes=off"
        )
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30",
                 "-o", options, "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return self.run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def server_env(cluster: Cluster, tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "REDIS_URL"}
        and not key.startswith(("WEB_", "DB_", "RATE_LIMIT"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": cluster.url("scc_faults"),
            "DATA_DIR": str(tmp_path / "data"),
            "STATIC_ROOT": str(tmp_path / "static"),
            "RATE_LIMIT_PER_TOKEN": "off",
            "DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
            "DB_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
            "HOST": "127.0.0.1",
            "PORT": str(free_port()),
            "WEB_CONCURRENCY": "2",
            "GRACEFUL_TIMEOUT": "5",
        }
    )
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> dict:
    # Management commands get the normal statement timeout: migrations are not under test.
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**env, "DB_STATEMENT_TIMEOUT_MS": "60000"},
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"manage.py {args}:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}


@pytest.fixture
def stack(tmp_path):
    """A private cluster, migrated, with a channel and a superuser token, served by gunicorn."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: run with DATABASE_URL=postgres://... (this run is SQLite)")
    if not INITDB:
        pytest.skip("no /usr/lib/postgresql/*/bin/initdb: cannot start a private cluster")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` OS user to run PostgreSQL")
        if shutil.which("runuser") is None:
            pytest.skip("running as root and `runuser` is missing")

    cleanup: list = []
    cluster = Cluster()
    cleanup.append(cluster.destroy)
    try:
        cluster.init()
        cluster.start()
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-q",
             "-c", "CREATE DATABASE scc_faults"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        env = server_env(cluster, tmp_path)
        manage(env, "migrate", "--noinput")
        channel = manage(env, "create_channel", "--name", "Faults", "--channel-type", "web",
                         "--catalog", "1")  # fmt: skip
        user = manage(env, "create_api_user", "faults", "--superuser")

        log = (tmp_path / "gunicorn.log").open("wb")
        cleanup.append(log.close)
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.conf.py",
             "config.wsgi"],
            env=env, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

        def stop_server() -> None:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()

        cleanup.append(stop_server)
        base = f"http://127.0.0.1:{env['PORT']}"
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                if call("GET", f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.1)

        yield {
            "cluster": cluster,
            "base": base,
            "customers": f"{base}/api/v1/channel/{channel['id']}/customers/",
            "token": user["token"],
            "log": tmp_path / "gunicorn.log",
            "cleanup": cleanup,
        }
    finally:
        for step in reversed(cleanup):
            with contextlib.suppress(Exception):
                step()


def customer_body(email: str) -> dict:
    return {
        "email": email,
        "channel_code": email.split("@")[0],
        "is_active": True,
        "email_allowed": False,
        "sms_allowed": False,
        "call_allowed": False,
    }


def assert_503_fast(result, limit: float) -> None:
    status, body, seconds = result
    assert status == 503, (status, body)
    assert body["code"] == "service_unavailable"
    assert isinstance(body["detail"], str)
    assert seconds < limit, f"took {seconds:.2f} s (limit {limit} s)"


def wait_until_ok(fn, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        result = fn()
        if result[0] < 500 or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_database_down_hung_and_locked_gives_fast_503s_and_loses_nothing(stack):
    base, customers, token = stack["base"], stack["customers"], stack["token"]
    cluster: Cluster = stack["cluster"]

    status, created, _ = call("POST", customers, token, customer_body("kept@example.com"))
    assert status == 201, created
    detail = f"{customers}{created['pk']}/"
    assert call("GET", detail, token)[:2] == (200, created)

    # 1. The database is stopped: connections are refused, every DB-backed answer is a quick 503.
    cluster.stop("fast")
    limit = CONNECT_TIMEOUT + MARGIN
    for _ in range(4):  # more requests than workers: each worker meets the outage
        assert_503_fast(call("GET", detail, token), limit)
    assert_503_fast(call("GET", customers, token), limit)
    assert_503_fast(call("POST", customers, token, customer_body("lost@example.com")), limit)
    assert_503_fast(call("PATCH", detail, token, {"first_name": "Outage"}), limit)
    status, body, seconds = call("GET", f"{base}/readyz")
    assert (status, body["code"], body["database"]) == (503, "service_unavailable", "unreachable")
    assert seconds < limit
    assert call("GET", f"{base}/healthz")[:2] == (200, {"status": "ok"})

    # 2. Something listens on the port but never answers (a hung host): DB_CONNECT_TIMEOUT
    #    bounds the wait, and the answer is still a 503.
    hang = socket.socket()
    stack["cleanup"].append(hang.close)
    hang.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hang.bind(("127.0.0.1", cluster.port))
    hang.listen(64)
    for result in (call("GET", detail, token), call("GET", f"{base}/readyz")):
        status, body, seconds = result
        assert (status, body["code"]) == (503, "service_unavailable")
        assert CONNECT_TIMEOUT - 0.5 <= seconds < CONNECT_TIMEOUT + MARGIN, seconds
    assert call("GET", f"{base}/healthz")[0] == 200
    hang.close()

    # 3. The database comes back: within seconds requests succeed, and nothing is lost.
    cluster.start()
    status, body, _ = wait_until_ok(lambda: call("GET", detail, token), 10)
    assert (status, body) == (200, created)
    assert wait_until_ok(lambda: call("GET", f"{base}/readyz"), 10)[0] == 200
    for email, expected in (("kept@example.com", [created["pk"]]), ("lost@example.com", [])):
        status, rows, _ = call("GET", f"{customers}?email={email}", token)
        assert (status, [row["pk"] for row in rows]) == (200, expected)

    # 4. A statement that waits too long (the table is locked) ends with 503 after
    #    DB_STATEMENT_TIMEOUT_MS instead of holding the worker, and writes nothing.
    import psycopg

    locker = psycopg.connect(cluster.url("scc_faults"))
    stack["cleanup"].append(locker.close)
    locker.execute("LOCK TABLE customers_customer IN ACCESS EXCLUSIVE MODE")  # tx stays open
    status, body, seconds = call("PATCH", detail, token, {"first_name": "Blocked"})
    assert (status, body["code"]) == (503, "service_unavailable"), body
    assert STATEMENT_TIMEOUT_MS / 1000 - 0.2 <= seconds < STATEMENT_TIMEOUT_MS / 1000 + MARGIN
    assert call("GET", f"{base}/healthz")[0] == 200
    locker.rollback()
    locker.close()
    status, body, _ = call("GET", detail, token)
    assert (status, body) == (200, created)  # the timed-out PATCH wrote nothing

    status, body, _ = call("PATCH", detail, token, {"first_name": "After"})
    assert (status, body["first_name"]) == (200, "After")
    status, body, _ = call("GET", detail, token)
    assert (status, body["first_name"], body["email"]) == (200, "After", "kept@example.com")
    log = stack["log"].read_text(errors="replace")
    assert "Traceback" not in log, log
