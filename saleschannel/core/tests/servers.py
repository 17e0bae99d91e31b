"""Helpers for tests that run the production app server (scripts/serve, else gunicorn) as a real
subprocess: its environment, the server itself, management commands under production settings,
the URL of the test's own database, plain HTTP calls, and the Redis the servers share."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)
SERVE = BASE_DIR / "scripts" / "serve"
GUNICORN_CONF = BASE_DIR / "config" / "gunicorn.conf.py"
PRODUCTION_SETTINGS = "config.settings.production"
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def this_tests_database_url() -> str:
    """A DATABASE_URL naming the database this test runs on (pytest-django's test database)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            pytest.skip("an in-memory SQLite test database cannot be shared with a subprocess")
        return f"sqlite:///{Path(name).resolve()}"
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    userinfo = f"{auth}@" if auth else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{userinfo}{db['HOST'] or ''}{port}/{quote(db['NAME'], safe='')}"


# --- HTTP -------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any  # the parsed JSON body; None when the body is empty or not JSON
    seconds: float
    raw: bytes


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
    seconds = time.monotonic() - started
    parsed = json.loads(raw) if raw and "json" in head.get("Content-Type", "") else None
    return Reply(status, dict(head.items()), parsed, seconds, raw)


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
    """A server's environment: the test run's, less its app configuration, plus a fresh secret
    key, DATA_DIR and STATIC_ROOT under `data_dir`, a free port, 2 workers, and `overrides`.
    Without a DATABASE_URL override the server uses SQLite under `data_dir`."""
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


def run_manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`manage.py args` with the production settings and the environment `env`."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**env, "DJANGO_SETTINGS_MODULE": PRODUCTION_SETTINGS},
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def manage(env: dict[str, str], *args: str) -> Any:
    """Like `run_manage`, which must succeed; its JSON output, if any, else its text."""
    done = run_manage(env, *args)
    assert done.returncode == 0, f"manage.py {args}:\n{done.stdout}\n{done.stderr}"
    text = done.stdout.strip()
    return json.loads(text) if text.startswith(("{", "[")) else text


class AppServer:
    """The production command (scripts/serve, else gunicorn with config/gunicorn.conf.py or
    plain `gunicorn config.wsgi`) in its own process group, its output in `log_dir/<name>.log`.
    It starts at once; `wait_healthy()` waits until it answers."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = env
        self.port = int(env["PORT"])
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
            env={**env, "DJANGO_SETTINGS_MODULE": PRODUCTION_SETTINGS},
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

    def wait_for_log(self, text: str, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.log():
            assert time.monotonic() < deadline, f"{text!r} never logged:\n{self.log()}"
            time.sleep(0.02)

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


def wait_all_healthy(servers: list[AppServer]) -> None:
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
