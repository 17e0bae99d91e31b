"""Reads on streaming replicas, writes on the primary, with read-your-writes.

Configured by DATABASE_REPLICA_URLS (comma-separated; see config/settings/base.py). Then:

- every write goes to the primary (`default`);
- a read goes to a healthy replica, unless the client wrote within the last
  REPLICA_PIN_SECONDS: then it reads from the primary and sees its own write. Clients are
  recognised by their Authorization header (or address), remembered in the Django cache
  (Redis with REDIS_URL, so every app server agrees);
- a replica that cannot be reached, or that replays more than REPLICA_MAX_LAG_SECONDS behind
  what it received, is skipped; health is checked at most every REPLICA_CHECK_SECONDS per process;
- a read that fails on a replica (it went down between checks) is retried once on the primary.
"""

from __future__ import annotations

import contextvars
import hashlib
import itertools
import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections

logger = logging.getLogger("saleschannel.routing")

PRIMARY = "default"
_pinned: contextvars.ContextVar[bool] = contextvars.ContextVar("pinned", default=False)
_used_replica: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "used_replica", default=None
)
_health: dict[str, tuple[float, bool]] = {}
_health_lock = threading.Lock()
_checking: set[str] = set()
_round_robin = itertools.count()

LAG_SQL = """
SELECT CASE
  WHEN NOT pg_is_in_recovery() THEN 0
  WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
  ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
END
"""


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith("replica_")]


def _check(alias: str) -> bool:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(LAG_SQL)
            lag = float(cursor.fetchone()[0])
    except DatabaseError as exc:
        logger.warning("replica %s unreachable: %s", alias, type(exc).__name__)
        connections[alias].close()
        return False
    if lag > settings.REPLICA_MAX_LAG_SECONDS:
        logger.warning("replica %s lags %.1f s: skipped", alias, lag)
        return False
    return True


def is_healthy(alias: str) -> bool:
    """The last verdict while it is fresh; else one thread checks (the others keep the old
    verdict meanwhile), and the verdict is stamped when the check ends, not when it began, so
    a check that waited out a connect timeout is not stale on arrival."""
    now = time.monotonic()
    with _health_lock:
        checked_at, healthy = _health.get(alias, (0.0, False))
        if now - checked_at < settings.REPLICA_CHECK_SECONDS or alias in _checking:
            return healthy
        _checking.add(alias)
    try:
        healthy = _check(alias)
    finally:
        with _health_lock:
            _health[alias] = (time.monotonic(), healthy)
            _checking.discard(alias)
    return healthy


def mark_down(alias: str) -> None:
    with _health_lock:
        _health[alias] = (time.monotonic(), False)


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints) -> str:
        if _pinned.get():
            return PRIMARY
        healthy = [alias for alias in replica_aliases() if is_healthy(alias)]
        if not healthy:
            return PRIMARY
        alias = healthy[next(_round_robin) % len(healthy)]
        _used_replica.set(alias)
        return alias

    def db_for_write(self, model, **hints) -> str:
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == PRIMARY


def _client_key(request) -> str:
    who = request.META.get("HTTP_AUTHORIZATION") or request.META.get("REMOTE_ADDR", "")
    return "replica-pin:" + hashlib.sha256(who.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class ReplicaPinningMiddleware:
    """Pins a client that just wrote to the primary; retries a failed replica read there."""

    SAFE = {"GET", "HEAD", "OPTIONS"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not replica_aliases():
            return self.get_response(request)
        key = _client_key(request)
        writes = request.method not in self.SAFE
        pinned = writes or bool(cache.get(key))
        pin_token = _pinned.set(pinned)
        used_token = _used_replica.set(None)
        try:
            response = self.get_response(request)
            failed_on = _used_replica.get()
            if response.status_code == 503 and not writes and failed_on is not None:
                mark_down(failed_on)
                _pinned.set(True)
                response = self.get_response(request)
            if writes and response.status_code < 500:
                cache.set(key, 1, timeout=settings.REPLICA_PIN_SECONDS)
            return response
        finally:
            _pinned.reset(pin_token)
            _used_replica.reset(used_token)
