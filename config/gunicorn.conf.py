"""Gunicorn settings for production (scripts/serve runs `gunicorn -c config/gunicorn.conf.py`).

Every value comes from an environment variable; the defaults were chosen by measurement on a
2-core machine (docs/OPERATIONS.md, bench/servers/):

    HOST / PORT          bind address (default 0.0.0.0:8000)
    WEB_CONCURRENCY      worker processes (default: one per usable CPU core)
    WEB_THREADS          threads per worker (default 4; 1 = sync workers)
    WEB_TIMEOUT          seconds a worker may be silent before it is killed (default 30)
    GRACEFUL_TIMEOUT     seconds in-flight requests get to finish after SIGTERM (default 25)
    KEEPALIVE            seconds an idle keep-alive connection stays open (default 5)
    MAX_REQUESTS         recycle a worker after this many requests, with 10 % jitter (default 0:
                         never)
    FORWARDED_ALLOW_IPS  proxies trusted for X-Forwarded-* (default 127.0.0.1)
    GUNICORN_LOG_LEVEL   gunicorn's own log level (default info)
"""

from __future__ import annotations

import os


def _int(name: str, default: int, minimum: int = 0) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise SystemExit(f"{name} must be at least {minimum}, not {number}")
    return number


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


wsgi_app = "config.wsgi:application"
bind = [f"{os.environ.get('HOST', '0.0.0.0')}:{_int('PORT', 8000, 1)}"]

# Measured (bench/servers/run.py, docs/OPERATIONS.md): threads overlap one request's database
# waits with another's Python work (2-4x the throughput of sync workers); 2, 4 and 8 threads
# performed alike, and each thread holds a database connection, so 4. One process per core lets
# Python use every core despite the GIL.
workers = _int("WEB_CONCURRENCY", _cores(), 1)
threads = _int("WEB_THREADS", 4, 1)
worker_class = "gthread" if threads > 1 else "sync"

timeout = _int("WEB_TIMEOUT", 30, 1)
# SIGTERM: stop accepting, let in-flight requests finish for up to this long, then exit 0.
# Below the 30 s most orchestrators (Kubernetes, ECS, systemd) wait before SIGKILL.
graceful_timeout = _int("GRACEFUL_TIMEOUT", 25, 1)
keepalive = _int("KEEPALIVE", 5, 0)

# Load the app once in the master: a broken configuration stops the start at once with the
# error (instead of workers failing to boot one after another), workers fork in milliseconds and
# share the imported code's memory. Nothing connects to the database at import time.
preload_app = True

# Off by default: the app has no known leak, and a recycled worker drops its database
# connections and warm caches. Set MAX_REQUESTS to cap a leak if one shows up; the jitter keeps
# the workers from restarting at the same moment.
max_requests = _int("MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10

# The app writes one JSON line per request itself (saleschannel.core.middleware).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# gunicorn 25.1+ opens a control socket in $XDG_RUNTIME_DIR or $HOME by default; the service
# needs none, and two instances on one host would share the path. (Older versions ignore this.)
control_socket_disable = True
