#!/usr/bin/env python3
"""The performance benchmark: this app against a stock DRF build of the same API, at a million
customers per channel.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scc_perf .venv/bin/python bench/perf/run.py
        [--quick] [--reload] [--duration S] [--warmup S] [--only REGEX] [--no-explain]
        [--import-rows N] [--out DIR] [--report RESULTS.json]

DATABASE_URL names a PostgreSQL database the benchmark owns: it is created if missing, migrated,
and filled by bench/perf/dataset.py unless it already holds exactly the data set of the chosen
size (--reload forces a fresh load). Full: 1,000,000 + 9 x 10,000 customers, 3,000,000 orders,
warm-up 1 s + 3 s at 1 connection + 3 s at 8 connections per build and scenario (about 20
minutes in all on 2 cores). --quick: 100,000 + 9 x 10,000 customers, 300,000 orders, 1 s each
(about 8 minutes).

What it does:
1. Migrates, loads the data set, issues a superuser token (`manage.py create_api_user`).
2. Picks filter values from the data (a probe customer in the middle of each channel, date
   quantiles) so that every filter matches some rows.
3. Starts both builds with gunicorn (config/gunicorn.conf.py, 2 workers x 4 threads each,
   RATE_LIMIT_PER_TOKEN=off, production settings): ours = config.settings.production, stock =
   bench.perf.stock.settings. Both are pinned to core 0 with taskset; wrk runs on core 1 with
   one thread. PostgreSQL is a shared system service and is not pinned.
4. Checks every scenario once on both builds: status, and for lists that both return the same
   customers (so the stock filters really mean the same as ours) and at least one.
5. Measures each scenario on both builds, alternating which goes first: a warm-up at 8
   connections (discarded), then `wrk --latency` at 1 connection (latency p50/p99, no
   queueing) and at 8 connections (throughput, req/s). Writes are wrk Lua scripts
   (bench/perf/wrk/): POST with unique emails, PATCH of random customers' phone numbers.
6. EXPLAIN (ANALYZE, BUFFERS) of the SQL our app runs for each filter on the big channel
   (bench/perf/explain.py).
7. Bulk import: `manage.py import_customers` of N generated customers (bench/import/
   make_customers.py; 200,000, quick 20,000) into a new channel of the same million-row table,
   measured by bench/import/measure.py (rows/s, peak memory, CPU per row of the command and of
   PostgreSQL); the channel and its customers are deleted afterwards and the table vacuumed.
8. Writes bench/perf/results/<date>-<mode>.json and .md (the side-by-side table, flatness
   ratios, targets, plans, import) and deletes the customers the run created.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

if __package__:  # imported as bench.perf.run (the tests)
    from .dataset import DATASET_VERSION, DEFAULT_SEED
else:  # run as a script: its folder is on sys.path, the repository root is not
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from dataset import DATASET_VERSION, DEFAULT_SEED
from bench.common import free_port, proc_cpu_seconds, stop, tree_cpu_seconds, wrk_percentile_ms

ROOT = Path(__file__).resolve().parents[2]
PERF = ROOT / "bench" / "perf"
BIN = Path(os.environ.get("BIN", ROOT / ".venv" / "bin"))
PY = str(BIN / "python")
SERVER_CORE = "0"
WRK_CORE = "1"
THROUGHPUT_CONNECTIONS = 8
WORKERS, THREADS = 2, 4
BIG_NAME, SMALL_PREFIX = "perf-big", "perf-small-"
CREATED_EMAIL_DOMAIN = "@perf.example.com"
BUILDS = {
    "ours": "config.settings.production",
    "stock": "bench.perf.stock.settings",
}


def log(message: str = "") -> None:
    print(message, flush=True)


# --- set-up -----------------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
        name = urllib.parse.urlparse(url).path.lstrip("/")
        admin = urllib.parse.urlparse(url)._replace(path="/postgres").geturl()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        log(f"created database {name}")


def run_checked(argv: list[str], env: dict[str, str], **kwargs) -> str:
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def dataset_sizes(url: str) -> tuple[dict[str, int], int, set[str]]:
    """Customers per channel name, orders, and the generator versions that made the channels."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.name, count(cu.id) FROM channels_channel c"
            " LEFT JOIN customers_customer cu ON cu.channel_id = c.id GROUP BY c.name"
        ).fetchall()
        orders = conn.execute("SELECT count(*) FROM orders_order").fetchone()[0]
        versions = {
            row[0] or ""
            for row in conn.execute("SELECT conf ->> 'perf_dataset' FROM channels_channel")
        }
    return dict(rows), orders, versions


def expected_sizes(quick: bool) -> tuple[dict[str, int], int]:
    big = 100_000 if quick else 1_000_000
    sizes = {BIG_NAME: big} | {f"{SMALL_PREFIX}{k}": 10_000 for k in range(1, 10)}
    return sizes, (300_000 if quick else 3_000_000)


def delete_created(url: str, history_floor: int | None = None) -> int:
    """Remove the customers this benchmark's POSTs created, their history, and (past
    `history_floor`) the history rows its PATCHes wrote. Returns the customers removed."""
    with psycopg.connect(url) as conn:
        conn.execute("SET statement_timeout = 0")
        (removed,) = conn.execute(
            "WITH gone AS (DELETE FROM customers_customer WHERE email LIKE %s RETURNING id),"
            " history AS (DELETE FROM customers_customerhistory"
            " WHERE customer_id IN (SELECT id FROM gone))"
            " SELECT count(*) FROM gone",
            (f"%{CREATED_EMAIL_DOMAIN}",),
        ).fetchone()
        if history_floor is not None:
            conn.execute("DELETE FROM customers_customerhistory WHERE id > %s", (history_floor,))
    return removed


# --- probe values -----------------------------------------------------------------------------


def utc_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class ChannelProbe:
    id: int
    label: str
    size: int
    customer: dict
    created_q90: dt.datetime
    modified_q10: dt.datetime
    pk_sample: list[int]
    deep_ids: list[int] = field(default_factory=list)


def probe_channel(conn: psycopg.Connection, channel_id: int, label: str) -> ChannelProbe:
    size = conn.execute(
        "SELECT count(*) FROM customers_customer WHERE channel_id = %s", (channel_id,)
    ).fetchone()[0]
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    customer = cur.execute(
        "SELECT * FROM customers_customer WHERE channel_id = %s AND phone_number IS NOT NULL"
        " AND erp_code IS NOT NULL AND date_joined IS NOT NULL ORDER BY id OFFSET %s LIMIT 1",
        (channel_id, size // 2),
    ).fetchone()

    def at(column: str, fraction: float):
        return conn.execute(
            f"SELECT {column} FROM customers_customer WHERE channel_id = %s"
            f" ORDER BY {column}, id OFFSET %s LIMIT 1",
            (channel_id, int(size * fraction)),
        ).fetchone()[0]

    pk_sample = [
        conn.execute(
            "SELECT id FROM customers_customer WHERE channel_id = %s ORDER BY id OFFSET %s LIMIT 1",
            (channel_id, size * k // 10),
        ).fetchone()[0]
        for k in range(10)
    ]
    deep_ids = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM customers_customer WHERE channel_id = %s ORDER BY id OFFSET %s LIMIT 2",
            (channel_id, 999 * 100 - 1),
        )
    ]
    return ChannelProbe(
        id=channel_id,
        label=label,
        size=size,
        customer=customer,
        created_q90=at("created_date", 0.9),
        modified_q10=at("modified_date", 0.1),
        pk_sample=pk_sample,
        deep_ids=deep_ids,
    )


def filter_params(p: ChannelProbe) -> list[tuple[str, dict[str, str]]]:
    """One list request per filter of DESIGN.md's table, with values that match some rows."""
    c = p.customer
    return [
        ("email", {"email": c["email"]}),
        ("email__startswith", {"email__startswith": c["email"][:8]}),
        ("channel", {"channel": str(p.id)}),
        ("channel_code", {"channel_code": c["channel_code"]}),
        ("phone_number", {"phone_number": c["phone_number"]}),
        ("first_name", {"first_name": c["first_name"]}),
        ("last_name", {"last_name": c["last_name"]}),
        ("erp_code (substring, any case)", {"erp_code": c["erp_code"][2:9].lower()}),
        ("pk__in (10 ids)", {"pk__in": ",".join(map(str, p.pk_sample))}),
        ("created_date__gte (newest 10 %)", {"created_date__gte": utc_text(p.created_q90)}),
        ("created_date__date", {"created_date__date": c["created_date"].date().isoformat()}),
        ("modified_date__lt (oldest 10 %)", {"modified_date__lt": utc_text(p.modified_q10)}),
        ("date_joined__gte", {"date_joined__gte": utc_text(c["date_joined"])}),
        ("date_of_birth__lt", {"date_of_birth__lt": "1960-01-01"}),
        ("is_active=false", {"is_active": "false"}),
        ("email_allowed=true", {"email_allowed": "true"}),
        ("sms_allowed=true", {"sms_allowed": "true"}),
        ("call_allowed=true", {"call_allowed": "true"}),
        ("gender", {"gender": "female"}),
        ("user_type", {"user_type": "guest"}),
        ("attributes__segment", {"attributes__segment": "gold"}),
        ("extra_field__source", {"extra_field__source": "store"}),
    ]


# --- scenarios --------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    channel: str  # "1M", "10k" (or "100k" in quick mode)
    group: str  # "core", "filter", "write"
    path: str  # for ours
    stock_path: str | None = None  # when it differs
    method: str = "GET"
    lua: Path | None = None
    lua_args: list[str] = field(default_factory=list)
    note: str = ""
    check: str = ""
    results: dict = field(default_factory=dict)

    def path_for(self, build: str) -> str:
        return self.stock_path if build == "stock" and self.stock_path else self.path


def customers_path(channel_id: int, suffix: str = "", params: dict | None = None) -> str:
    path = f"/api/v1/channel/{channel_id}/customers/{suffix}"
    return f"{path}?{urllib.parse.urlencode(params)}" if params else path


def build_scenarios(
    big: ChannelProbe, small: ChannelProbe, cursor: str | None, token: str, patch_ids: list[int]
) -> tuple[list[Scenario], list[str]]:
    notes = []
    out: list[Scenario] = []
    for p in (big, small):
        out.append(
            Scenario("retrieve", p.label, "core", customers_path(p.id, f"{p.customer['id']}/"))
        )
    out.append(
        Scenario(
            "retrieve detailed",
            big.label,
            "core",
            customers_path(big.id, f"{big.customer['id']}/detailed/"),
        )
    )
    for limit in (10, 100):
        for p in (big, small):
            out.append(
                Scenario(
                    f"list page 1 limit {limit}",
                    p.label,
                    "core",
                    customers_path(p.id, params={"limit": limit}),
                )
            )
    for p in (big, small):
        out.append(
            Scenario(
                "detailed list limit 100",
                p.label,
                "core",
                customers_path(p.id, "detailed/", {"limit": 100}),
            )
        )
    out.append(
        Scenario(
            "deep page 1000 limit 100",
            big.label,
            "core",
            customers_path(big.id, params={"page": 1000, "limit": 100}),
        )
    )
    if cursor is not None:
        out.append(
            Scenario(
                "cursor deep page (rows 99,901-100,000) limit 100",
                big.label,
                "core",
                customers_path(big.id, params={"cursor": cursor, "limit": 100}),
                stock_path=customers_path(big.id, params={"page": 1000, "limit": 100}),
                note="stock has no cursor: its column is page=1000&limit=100, the same rows",
            )
        )
    else:
        notes.append(
            "cursor deep page: skipped, the app offers no keyset cursor "
            "(no `cursor` in saleschannel/core/pagination.py)"
        )
    small_filters = dict(filter_params(small))
    for name, params in filter_params(big):
        for p, values in ((big, params), (small, small_filters[name])):
            out.append(
                Scenario(f"filter {name}", p.label, "filter", customers_path(p.id, params=values))
            )
    run_id = secrets.token_hex(3)
    out.append(
        Scenario(
            "create (POST)",
            big.label,
            "write",
            customers_path(big.id),
            method="POST",
            lua=PERF / "wrk" / "create.lua",
            lua_args=[token, str(big.id), f"perf-{run_id}"],
        )
    )
    out.append(
        Scenario(
            "update (PATCH phone_number)",
            big.label,
            "write",
            customers_path(big.id, f"{patch_ids[0]}/"),
            method="PATCH",
            lua=PERF / "wrk" / "update.lua",
            lua_args=[token, str(big.id), *map(str, patch_ids)],
        )
    )
    return out, notes


# --- HTTP -------------------------------------------------------------------------------------


def http(url: str, token: str, method: str = "GET", body: bytes | None = None):
    request = urllib.request.Request(url, method=method, data=body)
    request.add_header("Authorization", f"Token {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def find_cursor(base: str, token: str, big: ChannelProbe) -> str | None:
    """The keyset cursor of the row just before page 1000 (limit 100), if the app has cursors.

    Format-agnostic: ask for the first of the two rows around that point with `cursor=` and
    limit=1; the response's Link rel="next" carries the cursor that continues after it."""
    source = (ROOT / "saleschannel" / "core" / "pagination.py").read_text()
    if "cursor" not in source or len(big.deep_ids) < 2:
        return None
    path = customers_path(
        big.id, params={"cursor": "", "limit": 1, "pk__in": ",".join(map(str, big.deep_ids))}
    )
    status, headers, _ = http(base + path, token)
    link = headers.get("Link", "")
    match = re.search(r"<([^>]*)>;\s*rel=\"next\"", link)
    if status != 200 or not match:
        return None
    query = urllib.parse.parse_qs(urllib.parse.urlparse(match.group(1)).query)
    return query.get("cursor", [None])[0]


def pks(body: bytes) -> list[int] | int | None:
    data = json.loads(body)
    if isinstance(data, dict) and "results" in data:
        data = data["results"]
    if isinstance(data, list):
        return [row["pk"] for row in data]
    if isinstance(data, dict):
        return data.get("pk")
    return None


def orders_info(body: bytes) -> list:
    """Every row's orders_info as numbers (ours sends exact decimals, stock floats)."""
    data = json.loads(body)
    if isinstance(data, dict) and "results" in data:
        data = data["results"]
    rows = data if isinstance(data, list) else [data]
    return [
        {k: None if v is None else round(float(v), 2) for k, v in row["orders_info"].items()}
        for row in rows
        if isinstance(row, dict) and "orders_info" in row
    ]


def check_scenario(s: Scenario, bases: dict[str, str], token: str) -> str:
    """One request per build: statuses, and the same customers from both (and some)."""
    if s.method != "GET":
        for build, base in bases.items():
            if s.method == "POST":
                tag = f"check-{build}-{secrets.token_hex(4)}"
                body = {
                    "email": f"{tag}{CREATED_EMAIL_DOMAIN}",
                    "channel_code": tag,
                    "is_active": True,
                    "email_allowed": True,
                    "sms_allowed": False,
                    "call_allowed": False,
                    "channel": int(s.lua_args[1]),
                }
                expected = 201
            else:
                body = {"phone_number": "+90 555 000 00 00"}
                expected = 200
            status, _, reply = http(
                base + s.path_for(build), token, s.method, json.dumps(body).encode()
            )
            if status != expected:
                return f"{build} answered {status}: {reply[:200]!r}"
        return f"ok ({expected} on both)"
    got, info = {}, {}
    for build, base in bases.items():
        status, _, body = http(base + s.path_for(build), token)
        if status != 200:
            return f"{build} answered {status}: {body[:200]!r}"
        got[build] = pks(body)
        info[build] = orders_info(body)
    if info["ours"] != info["stock"]:
        return f"DIFFERENT orders_info: ours {info['ours']} stock {info['stock']}"
    if got["ours"] != got["stock"]:
        return f"DIFFERENT rows: ours {str(got['ours'])[:80]} stock {str(got['stock'])[:80]}"
    if got["ours"] in ([], None):
        return "matches no rows"
    n = len(got["ours"]) if isinstance(got["ours"], list) else 1
    return f"ok ({n} rows, same on both)"


# --- servers and wrk --------------------------------------------------------------------------


def start_server(build: str, port: int, env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    url = env["DATABASE_URL"]
    server_env = env | {
        # Its PostgreSQL backends are told apart by application_name (for their CPU time).
        "DATABASE_URL": f"{url}{'&' if '?' in url else '?'}application_name=perf-{build}",
        "DJANGO_SETTINGS_MODULE": BUILDS[build],
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(WORKERS),
        "WEB_THREADS": str(THREADS),
        "GUNICORN_LOG_LEVEL": "warning",
    }
    argv = ["taskset", "-c", SERVER_CORE, str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py"]
    log_file = open(log_dir / f"{build}.log", "ab")  # noqa: SIM115
    return subprocess.Popen(argv, cwd=ROOT, env=server_env, stdout=log_file, stderr=log_file)


def wait_ready(base: str, path: str, token: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server for {base} exited with {proc.returncode} (see its log)")
        try:
            if http(base + path, token)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"{base} did not become ready")


class Meter:
    """CPU time spent for one build, in its server processes and in its PostgreSQL backends
    (found by application_name), and waiting for a server to go idle."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)

    def backends(self, build: str) -> list[int]:
        return [
            row[0]
            for row in self.conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                (f"perf-{build}",),
            )
        ]

    def cpu(self, build: str, pid: int) -> tuple[float, dict[int, float]]:
        return tree_cpu_seconds(pid), {b: proc_cpu_seconds(b) for b in self.backends(build)}

    def busy_queries(self) -> int:
        return self.conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND state = 'active' AND pid <> pg_backend_pid()"
        ).fetchone()[0]

    def drain(self, pid: int, limit_s: float = 60.0) -> float:
        """Wait until the server has finished the requests wrk abandoned when its time was up
        (CPU time no longer growing, no query running), so they do not queue ahead of the
        next measurement."""
        started = time.monotonic()
        before = tree_cpu_seconds(pid)
        while time.monotonic() - started < limit_s:
            time.sleep(0.15)
            now = tree_cpu_seconds(pid)
            if now - before < 0.003 and not self.busy_queries():
                break
            before = now
        return time.monotonic() - started


def wrk(
    meter: Meter,
    base: str,
    s: Scenario,
    build: str,
    token: str,
    connections: int,
    seconds: int,
    pid: int,
) -> dict:
    argv = ["taskset", "-c", WRK_CORE, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    argv += ["--latency", "--timeout", "60s", "-H", f"Authorization: Token {token}"]
    lua_args: list[str] = []
    if s.lua is not None:
        argv += ["-s", str(s.lua)]
        lua_args = list(s.lua_args)
        if s.method == "POST":  # a prefix unique to this wrk run: emails never repeat
            lua_args[2] = f"{lua_args[2]}-{build}-{secrets.token_hex(3)}"
    argv.append(base + s.path_for(build))
    if lua_args:
        argv += ["--", *lua_args]
    app_before, db_before = meter.cpu(build, pid)
    proc = subprocess.run(argv, capture_output=True, text=True, check=True)
    if proc.stderr.strip():  # e.g. a Lua error: wrk would silently send plain GETs instead
        raise RuntimeError(f"wrk complained: {proc.stderr.strip()[:500]}")
    out = proc.stdout
    app_after, db_after = meter.cpu(build, pid)
    app_cpu = app_after - app_before
    db_cpu = sum(cpu - db_before.get(backend, 0.0) for backend, cpu in db_after.items())
    meter.drain(pid)
    result = parse_wrk(out)
    requests = max(result["requests"], 1)
    result["app_cpu_ms_per_req"] = round(1000 * app_cpu / requests, 3)
    result["db_cpu_ms_per_req"] = round(1000 * db_cpu / requests, 3)
    result["load_avg"] = round(os.getloadavg()[0], 2)
    return result


def parse_wrk(out: str) -> dict:
    """Requests, req/s, p50/p99 latency (ms; None without a single answer), non-2xx answers and
    timeouts from the output of `wrk --latency`."""
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    result: dict = {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": None,
        "p99_ms": None,
    }
    if requests:
        result["p50_ms"] = wrk_percentile_ms(out, 50)
        result["p99_ms"] = wrk_percentile_ms(out, 99)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["non_2xx"] = int(bad.group(1)) if bad else 0
    result["timeouts"] = int(errors.group(4)) if errors else 0
    return result


# --- report -----------------------------------------------------------------------------------


def versions(url: str) -> dict[str, str]:
    result = run_checked(
        [
            PY,
            "-c",
            "import django, rest_framework, django_filters, gunicorn, psycopg;"
            "print(django.__version__, rest_framework.__version__, django_filters.__version__,"
            " gunicorn.__version__, psycopg.__version__)",
        ],
        os.environ.copy(),
    ).split()
    with psycopg.connect(url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        shared_buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    return {
        "python": platform.python_version(),
        "django": result[0],
        "djangorestframework": result[1],
        "django-filter": result[2],
        "gunicorn": result[3],
        "psycopg": result[4],
        "postgresql": f"{pg} (shared_buffers {shared_buffers})",
        "wrk": wrk_version,
    }


def code_version() -> str:
    """The commit measured, and whether the app's code differed from it (read-only git)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "saleschannel", "config"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{commit}{' + uncommitted changes in saleschannel/ or config/' if changed else ''}"


def machine() -> dict[str, str]:
    model, mem_kb = "", 0
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem_kb = int(line.split()[1])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
    }


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def summarise(scenarios: list[Scenario], labels: tuple[str, str]) -> tuple[list[dict], list[dict]]:
    big_label, small_label = labels
    by_key = {(s.name, s.channel): s for s in scenarios}

    def p50(name: str, channel: str, build: str = "ours") -> float | None:
        s = by_key.get((name, channel))
        return s.results[build]["latency"]["p50_ms"] if s and build in s.results else None

    def rps(name: str, channel: str, build: str) -> float | None:
        s = by_key.get((name, channel))
        return s.results[build]["throughput"]["rps"] if s and build in s.results else None

    def cpu(name: str, channel: str) -> float | None:
        """App + PostgreSQL CPU ms per request of ours at 1 connection (noise-resistant)."""
        s = by_key.get((name, channel))
        run = s.results["ours"]["latency"] if s and "ours" in s.results else None
        if not run or "app_cpu_ms_per_req" not in run or not run["requests"]:
            return None
        return run["app_cpu_ms_per_req"] + run["db_cpu_ms_per_req"]

    flatness = []
    names = ["list page 1 limit 10", "list page 1 limit 100", "detailed list limit 100"]
    names += [s.name for s in scenarios if s.group == "filter" and s.channel == big_label]
    for name in names:
        ours = ratio(p50(name, big_label), p50(name, small_label))
        stock = ratio(p50(name, big_label, "stock"), p50(name, small_label, "stock"))
        flatness.append(
            {
                "scenario": name,
                "ours_big_p50_ms": p50(name, big_label),
                "ours_small_p50_ms": p50(name, small_label),
                "ours_ratio": ours,
                "stock_ratio": stock,
                "ours_cpu_ratio": ratio(cpu(name, big_label), cpu(name, small_label)),
                "met": ours is not None and ours <= 1.5,
            }
        )

    targets = []

    def speedup(label: str, name: str, channel: str, goal: float) -> None:
        value = ratio(rps(name, channel, "ours"), rps(name, channel, "stock"))
        targets.append(
            {
                "target": label,
                "goal": f">= {goal:g}x",
                "value": value,
                "met": value is not None and value >= goal,
            }
        )

    speedup(f"retrieve req/s vs stock ({small_label} channel)", "retrieve", small_label, 2)
    speedup(f"retrieve req/s vs stock ({big_label} channel)", "retrieve", big_label, 2)
    speedup(
        f"list limit 100 req/s vs stock ({small_label} channel)",
        "list page 1 limit 100",
        small_label,
        2,
    )
    speedup(
        f"list page 1 req/s vs stock ({big_label} channel, limit 10)",
        "list page 1 limit 10",
        big_label,
        50,
    )
    cursor_name = next((s.name for s in scenarios if s.name.startswith("cursor")), None)
    if cursor_name:
        value = ratio(p50(cursor_name, big_label), p50("list page 1 limit 100", big_label))
        targets.append(
            {
                "target": f"cursor deep page p50 / page 1 p50 (limit 100, {big_label} channel)",
                "goal": "<= 1.5",
                "value": value,
                "met": value is not None and value <= 1.5,
            }
        )
    worst = max((f["ours_ratio"] or 0 for f in flatness), default=None)
    targets.append(
        {
            "target": f"flatness: worst {big_label} p50 / {small_label} p50 over list page 1 and"
            " every filter",
            "goal": "<= 1.5",
            "value": worst,
            "met": worst is not None and worst <= 1.5,
        }
    )
    return flatness, targets


def import_target(bulk_import: dict) -> dict:
    value = bulk_import["rows_per_second"]
    return {
        "target": f"bulk import rows/s (import_customers, {bulk_import['rows']:,} new customers)",
        "goal": ">= 20000",
        "value": value,
        "met": value >= 20_000,
    }


def dump_report(report: dict) -> str:
    """JSON with one line per scenario, flatness row, target and plan: small and diffable."""
    parts = []
    for key, value in report.items():
        if isinstance(value, list) and value:
            items = ",\n  ".join(
                json.dumps(item, separators=(",", ":"), default=str) for item in value
            )
            parts.append(f' "{key}": [\n  {items}\n ]')
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value, default=str)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def cpu_text(result: dict) -> str:
    """CPU per request in the server and in PostgreSQL, from the 8-connection run."""
    run = result["throughput"]
    if not run["requests"]:
        return "-"
    return f"{run['app_cpu_ms_per_req']:.1f}+{run['db_cpu_ms_per_req']:.1f}"


def markdown(report: dict) -> str:
    lines = []
    m, v, cfg = report["machine"], report["versions"], report["config"]
    lines.append(f"# Performance run {report['date']} ({report['mode']})\n")
    lines.append(f"Code: {report['code']}.  ")
    lines.append(
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, Linux {m['kernel']}; "
        f"load average at start {report['load_avg_start']}, at end {report['load_avg_end']}.  "
    )
    lines.append(", ".join(f"{k} {val}" for k, val in v.items()) + ".  ")
    d = report["dataset"]
    lines.append(
        f"Data: {d['big']:,} customers in the big channel, {d['small']:,} in each of 9 small "
        f"ones, {d['orders']:,} orders.  "
    )
    lines.append(
        f"Both builds: gunicorn {WORKERS} workers x {THREADS} threads pinned to core "
        f"{SERVER_CORE}; wrk -t1 pinned to core {WRK_CORE}; per build and scenario "
        f"{cfg['warmup_s']} s warm-up, {cfg['duration_s']} s at 1 connection (latency), "
        f"{cfg['duration_s']} s at {THROUGHPUT_CONNECTIONS} connections (req/s). "
        f"Total run time {report['seconds'] / 60:.1f} min.\n"
    )
    for note in report["notes"]:
        lines.append(f"- {note}")
    if report["notes"]:
        lines.append("")
    lines.append(
        "| scenario | channel | ours req/s | stock req/s | req/s ratio | ours p50 / p99 ms "
        "| stock p50 / p99 ms | CPU ms/req ours / stock (app+db) | check |"
    )
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for s in report["scenarios"]:
        o, st = s["results"].get("ours"), s["results"].get("stock")
        if not o or not st:
            continue
        r = ratio(o["throughput"]["rps"], st["throughput"]["rps"])
        bad = ""
        for build, res in (("ours", o), ("stock", st)):
            errors = sum(res[k]["non_2xx"] + res[k]["timeouts"] for k in ("latency", "throughput"))
            if errors:
                bad += f" {build}: {errors} errors!"
        lines.append(
            f"| {s['name']} | {s['channel']} | {fmt(o['throughput']['rps'], 0)} "
            f"| {fmt(st['throughput']['rps'], 0)} | {fmt(r, 1)}x "
            f"| {fmt(o['latency']['p50_ms'], 2)} / {fmt(o['latency']['p99_ms'], 1)} "
            f"| {fmt(st['latency']['p50_ms'], 2)} / {fmt(st['latency']['p99_ms'], 1)} "
            f"| {cpu_text(o)} / {cpu_text(st)} "
            f"| {s['check']}{bad}{'; ' + s['note'] if s['note'] else ''} |"
        )
    lines.append("")
    lines.append("## Flatness (p50 at 1 connection, big channel / small channel)\n")
    lines.append(
        "| scenario | ours big p50 ms | ours small p50 ms | ours ratio | stock ratio "
        "| <= 1.5 | ours CPU/request ratio |"
    )
    lines.append("| --- | ---: | ---: | ---: | ---: | --- | ---: |")
    for f in report["flatness"]:
        lines.append(
            f"| {f['scenario']} | {fmt(f['ours_big_p50_ms'], 2)} "
            f"| {fmt(f['ours_small_p50_ms'], 2)} "
            f"| {fmt(f['ours_ratio'], 2)} | {fmt(f['stock_ratio'], 2)} "
            f"| {'yes' if f['met'] else '**no**'} | {fmt(f.get('ours_cpu_ratio'), 2)} |"
        )
    lines.append("")
    lines.append("## Targets\n")
    lines.append("| target | goal | measured | met |")
    lines.append("| --- | --- | ---: | --- |")
    for t in report["targets"]:
        lines.append(
            f"| {t['target']} | {t['goal']} | {fmt(t['value'], 2)} "
            f"| {'yes' if t['met'] else '**no**'} |"
        )
    if report.get("bulk_import"):
        b = report["bulk_import"]
        lines.append("")
        lines.append("## Bulk import (`manage.py import_customers`, bench/import/measure.py)\n")
        lines.append(
            f"{b['rows']:,} new customers into a new channel of the same table: "
            f"**{b['rows_per_second']:,} rows/s** ({b['seconds']} s), peak RSS "
            f"{b['peak_rss_mib']} MiB, CPU per row: command {b['command_cpu_us_per_row']} us, "
            f"PostgreSQL {b['db_cpu_us_per_row']} us."
        )
    if report.get("explain"):
        lines.append("")
        lines.append(f"## Query plans on the {report['labels'][0]} channel (EXPLAIN ANALYZE)\n")
        lines.append("| request | query | top node | access path | seq scan | ms |")
        lines.append("| --- | --- | --- | --- | --- | ---: |")
        for entry in report["explain"]:
            for i, q in enumerate(entry["queries"]):
                lines.append(
                    f"| {entry['name'] if i == 0 else ''} | {q['kind']} | {q['top_node']} "
                    f"| {'; '.join(q['access'])} | {', '.join(q['seq_scans']) or 'none'} "
                    f"| {q['execution_ms']:.2f} |"
                )
    return "\n".join(lines) + "\n"


def rerender(path: Path) -> None:
    """Recompute flatness and targets of a results JSON and write it and its .md again."""
    report = json.loads(path.read_text())
    scenarios = []
    for item in report["scenarios"]:
        s = Scenario(item["name"], item["channel"], item["group"], item["path"])
        s.results = item["results"]
        scenarios.append(s)
    report["flatness"], report["targets"] = summarise(scenarios, tuple(report["labels"]))
    if report.get("bulk_import"):
        report["targets"].append(import_target(report["bulk_import"]))
    path.write_text(dump_report(report))
    path.with_suffix(".md").write_text(markdown(report))
    log(f"re-rendered {path} and {path.with_suffix('.md')}")


IMPORT_CHANNEL = "perf-import"
IMPORT_LINE = re.compile(
    r"([\d,]+) rows/s \(([\d,]+) rows in ([\d.]+) s\); peak RSS (\d+) MiB; CPU per row: "
    r"command ([\d.]+) us, PostgreSQL ([\d.]+) us"
)


def parse_import(line: str) -> dict:
    """The numbers of bench/import/measure.py's report line."""
    match = IMPORT_LINE.search(line)
    if match is None:
        raise ValueError(f"unexpected measure.py output: {line!r}")
    rate, rows, seconds, rss, command, server = match.groups()
    return {
        "rows_per_second": int(rate.replace(",", "")),
        "rows": int(rows.replace(",", "")),
        "seconds": float(seconds),
        "peak_rss_mib": int(rss),
        "command_cpu_us_per_row": float(command),
        "db_cpu_us_per_row": float(server),
    }


def drop_channel(url: str, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [
            row[0]
            for row in conn.execute("SELECT id FROM channels_channel WHERE name = %s", (name,))
        ]
        for channel_id in ids:
            conn.execute(
                "DELETE FROM customers_customerhistory WHERE channel_id = %s", (channel_id,)
            )
            conn.execute("DELETE FROM customers_customer WHERE channel_id = %s", (channel_id,))
            conn.execute("DELETE FROM channels_channel WHERE id = %s", (channel_id,))
        if ids:
            conn.execute("VACUUM ANALYZE customers_customer")


def measure_import(url: str, env: dict[str, str], work: Path, rows: int) -> dict:
    """Import `rows` new customers into a new channel of the benchmark's table, then remove it."""
    database = urllib.parse.urlparse(url).path.lstrip("/")
    drop_channel(url, IMPORT_CHANNEL)
    channel = json.loads(
        run_checked(
            [
                PY,
                "manage.py",
                "create_channel",
                "--name",
                IMPORT_CHANNEL,
                "--channel-type",
                "web",
                "--catalog",
                "1",
            ],
            env,
        )
    )["id"]
    data = work / f"import-{rows}.jsonl"
    run_checked([PY, "bench/import/make_customers.py", str(rows), "-o", str(data)], env)
    try:
        line = run_checked(
            [
                PY,
                "bench/import/measure.py",
                database,
                "import",
                "--",
                "manage.py",
                "import_customers",
                str(channel),
                str(data),
            ],
            env,
        ).strip()
    finally:
        drop_channel(url, IMPORT_CHANNEL)
        data.unlink(missing_ok=True)
    log(f"bulk import: {line}")
    return parse_import(line) | {"report": line}


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data set, 1 s runs")
    parser.add_argument("--reload", action="store_true", help="reload the data set even if present")
    parser.add_argument("--duration", type=int, help="seconds per measurement (3; quick 1)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up (1)")
    parser.add_argument("--only", help="regular expression: only scenarios whose name matches")
    parser.add_argument("--no-explain", action="store_true", help="skip the EXPLAIN section")
    parser.add_argument(
        "--import-rows", type=int, help="customers to bulk-import (200,000; quick 20,000; 0: skip)"
    )
    parser.add_argument("--out", type=Path, default=PERF / "results", help="results folder")
    parser.add_argument(
        "--report", type=Path, help="only re-render this results JSON (and its .md) and exit"
    )
    args = parser.parse_args()
    if args.report:
        rerender(args.report)
        return
    duration = args.duration or (1 if args.quick else 3)
    mode = "quick" if args.quick else "full"

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to a PostgreSQL database the benchmark may fill")
    if not shutil.which("wrk"):
        log("wrk is missing: installing it (apt-get install -y wrk)")
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)
    if not shutil.which("taskset"):
        sys.exit("taskset is missing (util-linux)")

    started = time.monotonic()
    load_start = round(os.getloadavg()[0], 2)
    code_at_start = code_version()
    work = Path(tempfile.mkdtemp(prefix="scc-perf-"))
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "RATE_LIMIT_PER_TOKEN": "off",
        "DATA_DIR": str(work),
        "PYTHONUNBUFFERED": "1",
    }
    log(f"# perf benchmark ({mode}); work folder {work}; load average {load_start}")

    ensure_database(url)
    run_checked([PY, "manage.py", "migrate", "--noinput", "-v", "0"], env)
    want_sizes, want_orders = expected_sizes(args.quick)
    delete_created(url)
    sizes, orders, made_by = dataset_sizes(url)
    dataset_info: dict = {"loaded": False}
    current = {f"{DATASET_VERSION}/seed {DEFAULT_SEED}"}
    if args.reload or sizes != want_sizes or orders != want_orders or made_by != current:
        log(f"loading the data set ({'reload' if args.reload else 'absent or other size'})")
        argv = [PY, str(PERF / "dataset.py"), "--reset"] + (["--quick"] if args.quick else [])
        proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            sys.exit("dataset.py failed")
        output = proc.stdout.strip().splitlines()
        for line in output[:-1]:
            log(f"  {line}")
        dataset_info = json.loads(output[-1]) | {"loaded": True}
        log(f"data set loaded in {dataset_info['seconds']} s")
    else:
        log("the data set is already loaded: reusing it (--reload to load it again)")
    dataset_info |= {"big": want_sizes[BIG_NAME], "small": 10_000, "orders": want_orders}

    token = json.loads(
        run_checked([PY, "manage.py", "create_api_user", "perf-bench", "--superuser"], env)
    )["token"]

    with psycopg.connect(url) as conn:
        ids = dict(conn.execute("SELECT name, id FROM channels_channel").fetchall())
        big_label = "1M" if not args.quick else "100k"
        big = probe_channel(conn, ids[BIG_NAME], big_label)
        small = probe_channel(conn, ids[f"{SMALL_PREFIX}1"], "10k")
        patch_ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM customers_customer WHERE channel_id = %s AND id %% 1009 = 7"
                " AND id <> %s LIMIT 500",
                (big.id, big.customer["id"]),
            )
        ]
        history_floor = conn.execute(
            "SELECT coalesce(max(id), 0) FROM customers_customerhistory"
        ).fetchone()[0]

    meter = Meter(url)
    ports = {build: free_port() for build in BUILDS}
    bases = {build: f"http://127.0.0.1:{port}" for build, port in ports.items()}
    procs = {build: start_server(build, ports[build], env, work) for build in BUILDS}
    notes: list[str] = []
    scenarios: list[Scenario] = []
    try:
        ready_path = customers_path(small.id, params={"limit": 1})
        for build in BUILDS:
            wait_ready(bases[build], ready_path, token, procs[build])
        cursor = find_cursor(bases["ours"], token, big)
        scenarios, notes = build_scenarios(big, small, cursor, token, patch_ids)
        if args.only:
            scenarios = [s for s in scenarios if re.search(args.only, s.name)]
        log(f"checking {len(scenarios)} scenarios on both builds")
        for s in scenarios:
            s.check = check_scenario(s, bases, token)
            if not s.check.startswith("ok"):
                log(f"  !! {s.name} [{s.channel}]: {s.check}")
        per_run = args.warmup + 2 * duration
        log(
            f"measuring: {len(scenarios)} scenarios x 2 builds x {per_run} s"
            f" = about {len(scenarios) * 2 * (per_run + 0.3) / 60:.1f} min"
        )
        for index, s in enumerate(scenarios):
            order = list(BUILDS) if index % 2 == 0 else list(reversed(BUILDS))
            for build in order:
                pid = procs[build].pid
                base = bases[build]
                wrk(meter, base, s, build, token, THROUGHPUT_CONNECTIONS, args.warmup, pid)
                s.results[build] = {
                    "latency": wrk(meter, base, s, build, token, 1, duration, pid),
                    "throughput": wrk(
                        meter, base, s, build, token, THROUGHPUT_CONNECTIONS, duration, pid
                    ),
                }
            o, st = s.results["ours"], s.results["stock"]
            speed = ratio(o["throughput"]["rps"], st["throughput"]["rps"])
            log(
                f"{s.name[:44]:44} {s.channel:>4}  ours {o['throughput']['rps']:8.1f}/s "
                f"p50 {fmt(o['latency']['p50_ms'], 2):>8}  stock {st['throughput']['rps']:8.1f}/s "
                f"p50 {fmt(st['latency']['p50_ms'], 2):>8}  x{fmt(speed, 1)}"
                f"  load {os.getloadavg()[0]:.1f}"
            )
    finally:
        for proc in procs.values():
            stop(proc)
        removed = delete_created(url, history_floor)
        posts = sum(
            run["requests"]
            for scenario in scenarios
            if scenario.method == "POST"
            for build_runs in scenario.results.values()
            for run in build_runs.values()
        )
        log(
            f"cleaned up: {removed} customers created by POSTs (the measured runs counted"
            f" {posts} answers; warm-ups, checks and requests in flight add the rest)"
        )

    explain = []
    stamp = dt.datetime.now(dt.UTC)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"{stamp:%Y-%m-%d}-{mode}"
    if not args.no_explain:
        requests = [
            {"name": s.name, "path": s.path}
            for s in scenarios
            if s.channel == big.label
            and s.method == "GET"
            and (
                s.group == "filter" or s.name.startswith(("list page 1 limit 10", "cursor", "deep"))
            )
        ]
        spec_file = work / "explain.json"
        spec_file.write_text(json.dumps({"token": token, "requests": requests}))
        explain = json.loads(
            run_checked(
                [PY, str(PERF / "explain.py"), str(spec_file), str(args.out / f"{name}-plans.txt")],
                env,
            )
        )
        log(f"EXPLAIN ANALYZE of {len(requests)} requests: {args.out / f'{name}-plans.txt'}")

    import_rows = (
        args.import_rows if args.import_rows is not None else (20_000 if args.quick else 200_000)
    )
    bulk_import = measure_import(url, env, work, import_rows) if import_rows else None

    flatness, targets = summarise(scenarios, (big.label, small.label))
    if bulk_import:
        targets.append(import_target(bulk_import))
    report = {
        "date": f"{stamp:%Y-%m-%d %H:%M} UTC",
        "mode": mode,
        "command": " ".join(["bench/perf/run.py", *sys.argv[1:]]),
        "code": code_at_start
        if code_version() == code_at_start
        else f"{code_at_start} at the start, {code_version()} at the end",
        "machine": machine(),
        "versions": versions(url),
        "config": {
            "warmup_s": args.warmup,
            "duration_s": duration,
            "latency_connections": 1,
            "throughput_connections": THROUGHPUT_CONNECTIONS,
            "server": f"gunicorn -c config/gunicorn.conf.py, {WORKERS} workers x {THREADS}"
            f" threads, taskset -c {SERVER_CORE}",
            "client": f"wrk -t1, taskset -c {WRK_CORE}",
        },
        "dataset": dataset_info,
        "bulk_import": bulk_import,
        "labels": [big.label, small.label],
        "notes": notes,
        "scenarios": [
            {
                "name": s.name,
                "channel": s.channel,
                "group": s.group,
                "method": s.method,
                "path": s.path,
                "stock_path": s.stock_path or s.path,
                "check": s.check,
                "note": s.note,
                "results": s.results,
            }
            for s in scenarios
        ],
        "flatness": flatness,
        "targets": targets,
        "explain": explain,
        "load_avg_start": load_start,
        "load_avg_end": round(os.getloadavg()[0], 2),
        "seconds": round(time.monotonic() - started, 1),
    }
    (args.out / f"{name}.json").write_text(dump_report(report))
    text = markdown(report)
    (args.out / f"{name}.md").write_text(text)
    log()
    log(text)
    log(f"written: {args.out / (name + '.json')} and .md; total {report['seconds'] / 60:.1f} min")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
