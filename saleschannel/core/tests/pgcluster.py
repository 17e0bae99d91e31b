"""Helpers for tests that run real processes: private PostgreSQL clusters (a primary and its
streaming replicas), production app servers (scripts/serve or gunicorn), and plain HTTP calls.

PostgreSQL refuses to run as root, so when the tests run as root every server binary runs as the
`postgres` OS user (runuser), in a temporary directory handed to that user.
"""

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
INITDB = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
SERVE = BASE_DIR / "scripts" / "serve"
GUNICORN_CONF = BASE_DIR / "config" / "gunicorn.conf.py"
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def private_cluster_skip_reason(*tools: str) -> str | None:
    """Why a private cluster cannot be started here, or None if it can."""
    if not INITDB:
        return "no /usr/lib/postgresql/*/bin/initdb: cannot start a private PostgreSQL cluster"
    bindir = Path(INITDB[-1]).parent
    for tool in ("pg_ctl", *tools):
        if not (bindir / tool).exists():
            return f"{bindir / tool} is missing: cannot start a private PostgreSQL cluster"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` OS user to run PostgreSQL"
        if shutil.which("runuser") is None:
            return "running as root and `runuser` is missing"
    return None


class Cluster:
    """A throw-away PostgreSQL cluster in its own directory on its own loopback port.

    Every statement is logged (`log_statement=all`) to `self.log`, so a test can tell which
    cluster served a query: `mark()` the log's current end, act, then `log_since(mark)`.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.bindir = Path(INITDB[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix=f"scc_{name}_", dir="/tmp"))
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

    def mark(self) -> int:
        """The log's current length: pass it to `log_since` to read only what follows."""
        try:
            return self.log.stat().st_size
        except OSError:
            return 0

    def log_since(self, mark: int) -> str:
        try:
            with self.log.open("rb") as handle:
                handle.seek(mark)
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def init(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--no-sync")  # fmt: skip
        # initdb --auth=trust already admits replication connections from 127.0.0.1; say so
        # explicitly so that a distribution's different default cannot break the replica.
        hba = self.data / "pg_hba.conf"
        hba.write_text(hba.read_text() + "\nhost replication all 127.0.0.1/32 trust\n")

    def basebackup_from(self, primary: Cluster) -> None:
        """Make this cluster a streaming replica of `primary` (pg_basebackup -R)."""
        self.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                 "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "--no-sync")  # fmt: skip

    def start(self, **conf: str | int) -> None:
        options = [
            f"-k {self.sockets}",
            "-c listen_addresses=127.0.0.1",
            f"-p {self.port}",
            "-c fsync=off",
            *[f"-c {key}={value}" for key, value in conf.items()],
        ]
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30",
                 "-o", " ".join(options), "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=5)

    def query(self, sql: str, params: tuple = (), database: str = "postgres") -> Any:
        """The first column of the first row of `sql` (on a fresh connection)."""
        with self.connect(database) as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def wait_replayed(primary: Cluster, replica: Cluster, seconds: float = 20) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    target = primary.query("SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + seconds
    while not replica.query("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)):
        assert time.monotonic() < deadline, f"replica did not replay up to {target}"
        time.sleep(0.05)


# --- HTTP -------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any
    seconds: float


def call(
    method: str,
    url: str,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request on a fresh connection: status, headers, parsed JSON body, seconds taken."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Token {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, head, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, head, raw = exc.code, exc.headers, exc.read()
    return Reply(status, dict(head.items()), json.loads(raw) if raw else None,
                 time.monotonic() - started)  # fmt: skip


# --- Production app servers --------------------------------------------------------------

# Variables of the test run that must not leak into a server: each server gets exactly the
# configuration its test gives it.
_NOT_INHERITED = (
    "DJANGO_SETTINGS_MODULE",
    "DEBUG",
    "DATABASE_URL",
    "DATABASE_REPLICA_URLS",
    "REDIS_URL",
    "STATIC_ROOT",
    "CONN_MAX_AGE",
)
_NOT_INHERITED_PREFIXES = ("WEB_", "SERVE_", "DB_", "RATE_LIMIT", "REPLICA_", "LOGIN_")


def server_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _NOT_INHERITED and not key.startswith(_NOT_INHERITED_PREFIXES)
    }
    env.update(
        {
            "PYTHON": sys.executable,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATA_DIR": str(data_dir / "data"),
            "STATIC_ROOT": str(data_dir / "static"),
            "SERVE_COLLECTSTATIC": "0",
            "HOST": "127.0.0.1",
            "PORT": str(free_port()),
            "WEB_CONCURRENCY": "2",
            "GRACEFUL_TIMEOUT": "5",
        }
    )
    env.update(overrides)
    Path(env["STATIC_ROOT"]).mkdir(parents=True, exist_ok=True)  # WhiteNoise warns if missing
    return env


def manage(env: dict[str, str], *args: str) -> Any:
    """Run `manage.py` with the production settings of `env`; its JSON output, if any."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings.production"},
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"manage.py {args}:\n{done.stdout}\n{done.stderr}"
    text = done.stdout.strip()
    return json.loads(text) if text.startswith(("{", "[")) else text


class AppServer:
    """The production command (scripts/serve, else gunicorn with config/gunicorn.conf.py or
    plain `gunicorn config.wsgi`) in its own process group, its output in a file."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = env
        self.base = f"http://{env['HOST']}:{env['PORT']}"
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        if SERVE.exists():
            command = [str(SERVE)]
        elif GUNICORN_CONF.exists():
            command = [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONF)]
        else:
            command = [sys.executable, "-m", "gunicorn", "config.wsgi",
                       "--bind", f"{env['HOST']}:{env['PORT']}",
                       "--workers", env.get("WEB_CONCURRENCY", "2")]  # fmt: skip
        self.proc = subprocess.Popen(
            command,
            env={**env, "DJANGO_SETTINGS_MODULE": "config.settings.production"},
            cwd=BASE_DIR,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() reaches every worker
        )

    def url(self, path: str) -> str:
        return self.base + path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request_log(self) -> list[dict]:
        """The server's JSON request log lines (saleschannel.core.middleware)."""
        lines = []
        for line in self.log().splitlines():
            if line.startswith('{"time"'):
                with contextlib.suppress(ValueError):
                    lines.append(json.loads(line))
        return lines

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert self.proc.poll() is None, f"{self.name} exited early:\n{self.log()}"
            with contextlib.suppress(OSError):
                if call("GET", self.url("/healthz")).status == 200:
                    return
            assert time.monotonic() < deadline, f"{self.name} never became healthy:\n{self.log()}"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def start_servers(servers: list[AppServer]) -> None:
    """Wait for servers that were started together (they boot in parallel)."""
    for server in servers:
        server.wait_healthy()


# --- Redis ---------------------------------------------------------------------------------


def redis_skip_reason(url: str) -> str | None:
    """Why the Redis at `url` cannot be used, or None after emptying that one database."""
    try:
        import redis
    except ImportError:
        return "the `redis` package (redis-py) is not installed in this interpreter"
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.flushdb()  # only this test's own database number
    except redis.exceptions.RedisError as exc:
        return f"Redis at {url} is not reachable ({type(exc).__name__}): start redis-server"
    finally:
        client.close()
    return None


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        with contextlib.suppress(redis.exceptions.RedisError):
            client.flushdb()
    finally:
        client.close()
