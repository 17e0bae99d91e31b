#!/usr/bin/env python3
"""Compare production servers for this app with wrk: same app, same database, 2 workers each.

Usage (from the repository root; DATABASE_URL must be a PostgreSQL database this may fill):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scc_bench .venv/bin/python bench/servers/run.py

Options: --duration S (per measurement, default 6), --reps N (default 3), --connections C
(default 16), --customers N (default 1000), --only NAME[,NAME] (a subset of the servers).
Needs `wrk` (apt-get install -y wrk) and granian, uvicorn, uvloop, httptools in .venv.

Each repetition is a round over every server, in a rotated order, so load from anything else on
the machine is spread over all servers instead of landing on one. Per server and round: start it
(pinned to core 0 with taskset), wait for /healthz, warm both endpoints up for 1 s, measure each
endpoint for --duration seconds with one wrk thread pinned to core 1, stop it with SIGTERM. The
table shows the median over the rounds of req/s and of wrk's p50 and p99 latency. PostgreSQL is a
shared system service and is not pinned: it runs wherever the scheduler puts it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script: the repository root is not on sys.path
from bench.common import free_port, stop, tree_cpu_seconds, wrk_percentile_ms  # noqa: E402

BIN = Path(os.environ.get("BIN", ROOT / ".venv" / "bin"))
PY = str(BIN / "python")
SERVER_CORE = "0"
WRK_CORE = "1"


def server_commands(port: int) -> dict[str, tuple[list[str], dict[str, str]]]:
    """name -> (argv, extra environment). Access logs off everywhere; the app logs each request."""
    bind = ["--bind", f"127.0.0.1:{port}"]
    gunicorn = [str(BIN / "gunicorn"), "config.wsgi", *bind, "--workers", "2"]
    gunicorn += ["--no-control-socket", "--log-level", "warning"]
    gthread = [*gunicorn, "--worker-class", "gthread", "--threads"]
    return {
        "gunicorn sync 2w": ([*gunicorn, "--worker-class", "sync"], {}),
        "gunicorn gthread 2w x 2t": ([*gthread, "2"], {}),
        "gunicorn gthread 2w x 4t": ([*gthread, "4"], {}),
        "gunicorn gthread 2w x 8t": ([*gthread, "8"], {}),
        "granian wsgi 2w x 4bt": (
            [
                str(BIN / "granian"),
                "--interface", "wsgi",
                "--host", "127.0.0.1",
                "--port", str(port),
                "--workers", "2",
                "--blocking-threads", "4",
                "--no-ws",
                "--log-level", "warning",
                "config.wsgi:application",
            ],
            {},
        ),
        # Django's docs: under ASGI persistent connections must be off (each request runs in a
        # new thread and would leave its connection open), so CONN_MAX_AGE=0 here.
        "uvicorn asgi 2w": (
            [
                str(BIN / "uvicorn"),
                "config.asgi:application",
                "--host", "127.0.0.1",
                "--port", str(port),
                "--workers", "2",
                "--loop", "uvloop",
                "--http", "httptools",
                "--no-access-log",
                "--log-level", "warning",
            ],
            {"CONN_MAX_AGE": "0"},
        ),
    }  # fmt: skip


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [PY, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


SEED = """
from saleschannel.customers.models import Customer
channel_id = {channel_id}
Customer.objects.bulk_create(
    Customer(
        channel_id=channel_id,
        email=f"bench{{i}}@example.com",
        channel_code=f"BENCH-{{i:06d}}",
        first_name=f"First{{i}}",
        last_name=f"Last{{i}}",
        is_active=True,
        erp_code=f"ERP-{{i}}",
        attributes={{"segment": "gold" if i % 2 else "silver", "visits": i}},
        phone_number="+905551112233",
        gender="female" if i % 2 else "male",
        user_type="registered",
    )
    for i in range({count})
)
print(Customer.objects.filter(channel_id=channel_id).order_by("pk")[{count} // 2].pk)
"""


def prepare(env: dict[str, str], customers: int) -> tuple[int, int, str]:
    manage(env, "migrate", "--noinput", "-v", "0")
    name = f"bench-{secrets.token_hex(4)}"
    channel = json.loads(
        manage(env, "create_channel", "--name", name, "--channel-type", "web", "--catalog", "1")
    )
    token = json.loads(manage(env, "create_api_user", name, "--superuser"))["token"]
    seeded = manage(
        env, "shell", "-v", "0", stdin=SEED.format(channel_id=channel["id"], count=customers)
    )
    pk = int(seeded.split()[-1])
    return channel["id"], pk, token


def get(url: str, token: str | None = None, timeout: float = 5) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_healthy(base: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if get(f"{base}/healthz", timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not become healthy")


def wrk(url: str, token: str, seconds: int, connections: int, server_pid: int) -> dict[str, float]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    argv += ["-H", f"Authorization: Token {token}", url]
    if shutil.which("taskset"):
        argv = ["taskset", "-c", WRK_CORE, *argv]
    cpu_before = tree_cpu_seconds(server_pid)
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    cpu = tree_cpu_seconds(server_pid) - cpu_before
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = wrk_percentile_ms(out, 50)
    p99 = wrk_percentile_ms(out, 99)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": int(bad.group(1)) if bad else 0,
        # Server CPU (all its processes) per request: far less sensitive than req/s to other
        # load on a shared machine.
        "cpu_ms_per_req": 1000 * cpu / max(requests, 1),
        # A closed keep-alive connection (sync workers close after each response) is no error.
        "timeouts": int(errors.group(4)) if errors else 0,
    }


def machine() -> dict[str, str]:
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break

    def version(module: str) -> str:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as v

        try:
            return v(module)
        except PackageNotFoundError:
            return "-"

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "versions": ", ".join(
            f"{name} {version(name)}"
            for name in (
                "Django",
                "gunicorn",
                "granian",
                "uvicorn",
                "uvloop",
                "httptools",
                "psycopg",
            )
        )
        + f", wrk {wrk_version}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--only", default="")
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to a PostgreSQL database this benchmark may fill")
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")
    started = time.monotonic()
    data_dir = tempfile.mkdtemp(prefix="scc-bench-")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE", "CONN_MAX_AGE"}
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATA_DIR": data_dir,
        "PYTHONUNBUFFERED": "1",
        # The per-token limit (on in production) would answer 429 within a second of load: this
        # measures the servers, so it is off. Its cost is one cache increment per request.
        "RATE_LIMIT_PER_TOKEN": "off",
    }
    (Path(data_dir) / "static").mkdir()
    channel_id, pk, token = prepare(env, args.customers)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    endpoints = {
        "retrieve": f"{base}/api/v1/channel/{channel_id}/customers/{pk}/",
        "list100": f"{base}/api/v1/channel/{channel_id}/customers/?limit=100",
    }
    servers = server_commands(port)
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        servers = {name: spec for name, spec in servers.items() if name in wanted}
        if not servers:
            sys.exit(
                f"--only matches no server; the servers are: {', '.join(server_commands(port))}"
            )
    pin = ["taskset", "-c", SERVER_CORE] if shutil.which("taskset") else []
    info = machine()
    print(f"# {info['date']}  nproc={info['nproc']}  cpu={info['cpu']}  python {info['python']}")
    print(f"# {info['versions']}")
    print(
        f"# {args.customers} customers, wrk -t1 -c{args.connections} -d{args.duration}s, "
        f"{args.reps} rounds; server on core {SERVER_CORE}, wrk on core {WRK_CORE}; "
        f"load average before: {os.getloadavg()[0]:.2f}",
        flush=True,
    )

    results: dict[str, dict[str, list[dict[str, float]]]] = {
        name: {endpoint: [] for endpoint in endpoints} for name in servers
    }
    names = list(servers)
    for rep in range(args.reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            argv, extra = servers[name]
            log = open(Path(data_dir) / f"{name.replace(' ', '_')}.log", "ab")  # noqa: SIM115
            proc = subprocess.Popen(
                [*pin, *argv], cwd=ROOT, env=env | extra, stdout=log, stderr=log
            )
            try:
                wait_healthy(base, proc)
                for url in endpoints.values():
                    status, body = get(url, token)
                    if status != 200:
                        raise RuntimeError(f"{name}: {url} answered {status}: {body[:200]!r}")
                    wrk(url, token, 1, args.connections, proc.pid)  # warm-up, discarded
                for endpoint, url in endpoints.items():
                    run = wrk(url, token, args.duration, args.connections, proc.pid)
                    results[name][endpoint].append(run)
                    print(
                        f"round {rep + 1} {name:26} {endpoint:8} {run['rps']:8.1f} req/s "
                        f"p50 {run['p50_ms']:7.2f} ms p99 {run['p99_ms']:7.2f} ms "
                        f"cpu {run['cpu_ms_per_req']:5.2f} ms/req load {os.getloadavg()[0]:.1f}"
                        + (f"  NON-2xx {run['non_2xx']}" if run["non_2xx"] else ""),
                        flush=True,
                    )
            finally:
                stop(proc, timeout=20)
                log.close()

    print()
    print(f"load average after: {os.getloadavg()[0]:.2f}; total {time.monotonic() - started:.0f} s")
    print()
    print(
        "| server | endpoint | req/s (median) | p50 ms | p99 ms | server CPU ms/req "
        "| req/s per round |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for name in servers:
        for endpoint in endpoints:
            runs = results[name][endpoint]
            rps = statistics.median(r["rps"] for r in runs)
            p50 = statistics.median(r["p50_ms"] for r in runs)
            p99 = statistics.median(r["p99_ms"] for r in runs)
            cpu = statistics.median(r["cpu_ms_per_req"] for r in runs)
            rounds = " / ".join(f"{r['rps']:.0f}" for r in runs)
            bad = sum(r["non_2xx"] for r in runs)
            flag = f" ({bad} non-2xx!)" if bad else ""
            print(
                f"| {name} | {endpoint} | {rps:.0f}{flag} | {p50:.1f} | {p99:.1f} "
                f"| {cpu:.2f} | {rounds} |"
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "results": results}, indent=1))
    if any(r["non_2xx"] for e in results.values() for runs in e.values() for r in runs):
        print(f"\nnon-2xx answers: the servers' logs are kept in {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
