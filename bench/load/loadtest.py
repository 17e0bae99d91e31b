#!/usr/bin/env python3
"""A bounded load test of the customers API, with a consistency check at the end.

N worker threads (each with its own keep-alive http.client connection) run a mix of reads
(retrieve, list, filtered list) and writes (create with unique emails, PATCH of first_name) against
one channel for DURATION seconds. Then the test reads back, through the API, every customer the
run created and checks:

- every 201 is there exactly once (same pk, same email), and nothing else was created;
- X-Total-Count of the run's customers equals the number of 201s;
- every PATCHed customer holds an acknowledged value, and not one that a later acknowledged
  PATCH (sent after the first one's answer came back) must have overwritten (no lost update).

It prints one JSON report (requests/s, p50/p99 per operation, status counts) and exits 1 on any
5xx, transport error, unexpected status, wrong answer or failed check. Standard library only.

    python bench/load/loadtest.py --url http://127.0.0.1:8000 --token KEY --channel 1 \
        --duration 60 --concurrency 8
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import re
import secrets
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

EXPECTED = {
    "seed": {201},
    "create": {201},
    "retrieve": {200},
    "list": {200},
    "filtered": {200},
    "patch": {200},
}
DEFAULT_MIX = "retrieve=30,list=15,filtered=15,create=20,patch=20"
NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


@dataclass
class Ack:
    start: float
    end: float
    value: str


@dataclass
class State:
    run_id: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    created: dict[int, str] = field(default_factory=dict)  # pk -> email of every 201
    pks: list[int] = field(default_factory=list)
    patch_acks: dict[int, list[Ack]] = field(default_factory=lambda: defaultdict(list))
    # PATCH values whose outcome is unknown (5xx, transport error): they may have been written.
    patch_unknown: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    transport_errors: Counter = field(default_factory=Counter)
    wrong_answers: list[str] = field(default_factory=list)
    counter: int = 0

    def next_number(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def record(self, op: str, status: int | str, seconds: float) -> None:
        with self.lock:
            self.latencies[op].append(seconds)
            self.statuses[op][str(status)] += 1

    def wrong(self, message: str) -> None:
        with self.lock:
            if len(self.wrong_answers) < 50:
                self.wrong_answers.append(message)


class Client:
    """One keep-alive connection; reconnects after a transport error."""

    def __init__(self, url: str, token: str, timeout: float):
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, self.prefix + path, body=data, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        parsed = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, parsed


def customer_body(state: State, n: int) -> dict[str, Any]:
    return {
        "email": f"{state.run_id}-{n}@load.example.com",
        "channel_code": f"{state.run_id}-{n}",
        "first_name": "Seed",
        "last_name": f"Customer {n}",
        "is_active": n % 5 != 0,
        "email_allowed": n % 2 == 0,
        "sms_allowed": False,
        "call_allowed": False,
        "attributes": {"load_run": state.run_id, "n": n},
    }


class Worker:
    def __init__(self, number: int, state: State, args: argparse.Namespace, ops, weights):
        self.number = number
        self.state = state
        self.base = f"/api/v1/channel/{args.channel}/customers/"
        self.client = Client(args.url, args.token, args.timeout)
        self.random = random.Random(f"{state.run_id}-{number}")
        self.ops = ops
        self.weights = weights
        self.patches = 0

    def timed(self, op: str, method: str, path: str, body: Any = None, *, retry: bool = False):
        """(status or None, headers, body, start, end); None status = transport error."""
        attempts = 2 if retry else 1
        for attempt in range(attempts):
            reused = self.client.conn is not None
            start = time.monotonic()
            try:
                status, headers, data = self.client.request(method, path, body)
            except (OSError, http.client.HTTPException) as exc:
                end = time.monotonic()
                # A GET on a reused keep-alive connection that the server had closed: try again.
                if attempt + 1 < attempts and reused:
                    continue
                self.state.record(op, f"error:{type(exc).__name__}", end - start)
                with self.state.lock:
                    self.state.transport_errors[type(exc).__name__] += 1
                return None, {}, None, start, end
            end = time.monotonic()
            self.state.record(op, status, end - start)
            if status not in EXPECTED[op]:
                self.state.wrong(f"{op} {method} {path}: {status} {str(data)[:200]}")
            return status, headers, data, start, end
        raise AssertionError("unreachable")

    def random_pk(self) -> int | None:
        with self.state.lock:
            if not self.state.pks:
                return None
            return self.random.choice(self.state.pks)

    def create(self, op: str = "create") -> None:
        n = self.state.next_number()
        body = customer_body(self.state, n)
        status, _, data, _, _ = self.timed(op, "POST", self.base, body)
        if status == 201:
            if not isinstance(data, dict) or data.get("email") != body["email"]:
                self.state.wrong(f"create {n}: answered {str(data)[:200]}")
                return
            with self.state.lock:
                if data["pk"] in self.state.created:
                    self.state.wrong(f"create {n}: pk {data['pk']} given twice")
                self.state.created[data["pk"]] = body["email"]
                self.state.pks.append(data["pk"])

    def retrieve(self) -> None:
        pk = self.random_pk()
        if pk is None:
            return self.create()
        status, _, data, _, _ = self.timed("retrieve", "GET", f"{self.base}{pk}/", retry=True)
        if status == 200 and (not isinstance(data, dict) or data.get("pk") != pk):
            self.state.wrong(f"retrieve {pk}: answered {str(data)[:200]}")

    def list(self) -> None:
        with self.state.lock:
            full_pages = max(1, len(self.state.pks) // 20)  # a page past the end is a 404
        query = urlencode({"page": self.random.randint(1, min(full_pages, 5)), "limit": 20})
        status, _, data, _, _ = self.timed("list", "GET", f"{self.base}?{query}", retry=True)
        if status == 200 and not isinstance(data, list | dict):
            self.state.wrong(f"list: answered {str(data)[:200]}")

    def filtered(self) -> None:
        kind = self.random.randrange(3)
        with self.state.lock:
            sample = self.random.sample(self.state.pks, min(3, len(self.state.pks)))
        if kind == 0 or not sample:
            params = {"email__startswith": f"{self.state.run_id}-", "limit": 20, "sort": "-pk"}
        elif kind == 1:
            params = {"pk__in": ",".join(map(str, sample))}
        else:
            params = {"is_active": "true", "email_allowed": "false", "limit": 10}
        path = f"{self.base}?{urlencode(params)}"
        status, _, data, _, _ = self.timed("filtered", "GET", path, retry=True)
        if status != 200:
            return
        rows = data["results"] if isinstance(data, dict) else data
        if not isinstance(rows, list):
            self.state.wrong(f"filtered {params}: answered {str(data)[:200]}")
        elif kind == 1 and sample and {row["pk"] for row in rows} != set(sample):
            self.state.wrong(f"filtered pk__in={sample}: got {[row['pk'] for row in rows]}")
        elif kind == 2 and any(not r["is_active"] or r["email_allowed"] for r in rows):
            self.state.wrong(f"filtered {params}: a row does not match the filter")

    def patch(self) -> None:
        pk = self.random_pk()
        if pk is None:
            return self.create()
        self.patches += 1
        value = f"w{self.number}-{self.patches}"
        status, _, data, start, end = self.timed(
            "patch", "PATCH", f"{self.base}{pk}/", {"first_name": value}
        )
        with self.state.lock:
            if status == 200:
                self.state.patch_acks[pk].append(Ack(start, end, value))
            elif status is None or status >= 500:
                self.state.patch_unknown[pk].add(value)
        if status == 200 and (not isinstance(data, dict) or data.get("first_name") != value):
            self.state.wrong(f"patch {pk}={value}: answered {str(data)[:200]}")

    def run(self, deadline: float) -> None:
        try:
            while time.monotonic() < deadline:
                op = self.random.choices(self.ops, self.weights)[0]
                getattr(self, op)()
        finally:
            self.client.close()


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return round(sorted_values[rank - 1] * 1000, 2)


def read_back(client: Client, base: str, run_id: str) -> tuple[list[dict], str | None]:
    """Every customer of this run, through the API, following Link rel="next"."""
    rows: list[dict] = []
    query = urlencode({"email__startswith": f"{run_id}-", "limit": 1000, "sort": "pk"})
    path: str | None = f"{base}?{query}"
    total = None
    while path:
        status, headers, data = client.request("GET", path)
        if status != 200:
            raise RuntimeError(f"read-back {path}: {status} {str(data)[:200]}")
        if total is None:
            total = headers.get("x-total-count")
        rows.extend(data["results"] if isinstance(data, dict) else data)
        found = NEXT_LINK.search(headers.get("link", ""))
        if found:
            next_url = urlsplit(found.group(1))
            path = next_url.path[len(client.prefix) :] + "?" + next_url.query
        else:
            path = None
    return rows, total


def verify(state: State, rows: list[dict], total: str | None) -> dict[str, Any]:
    by_pk: dict[int, dict] = {}
    duplicate_pks = []
    for row in rows:
        if row["pk"] in by_pk:
            duplicate_pks.append(row["pk"])
        by_pk[row["pk"]] = row
    emails = Counter(row["email"].lower() for row in rows)
    missing = sorted(pk for pk in state.created if pk not in by_pk)
    wrong_email = sorted(
        pk for pk, email in state.created.items() if pk in by_pk and by_pk[pk]["email"] != email
    )
    extra = sorted(pk for pk in by_pk if pk not in state.created)

    not_acknowledged, lost_updates = [], []
    for pk, acks in state.patch_acks.items():
        final = by_pk.get(pk, {}).get("first_name")
        values = {ack.value for ack in acks}
        if final not in values | state.patch_unknown.get(pk, set()):
            not_acknowledged.append({"pk": pk, "final": final})
            continue
        mine = next((ack for ack in acks if ack.value == final), None)
        if mine is not None:
            later = [ack.value for ack in acks if ack.start > mine.end]
            if later:
                lost_updates.append({"pk": pk, "final": final, "acknowledged_later": later})
    return {
        "created_201": len(state.created),
        "found": len(by_pk),
        "x_total_count": int(total) if total is not None else None,
        "missing": missing[:20],
        "wrong_email": wrong_email[:20],
        "unexpected_extra": extra[:20],
        "duplicate_pks": duplicate_pks[:20],
        "duplicate_emails": [e for e, n in emails.items() if n > 1][:20],
        "patched_customers": len(state.patch_acks),
        "patch_acks": sum(len(acks) for acks in state.patch_acks.values()),
        "final_state_not_acknowledged": not_acknowledged[:20],
        "lost_updates": lost_updates[:20],
    }


def parse_mix(text: str) -> tuple[list[str], list[int]]:
    ops, weights = [], []
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in {"retrieve", "list", "filtered", "create", "patch"}:
            raise argparse.ArgumentTypeError(f"unknown operation {name!r} in --mix")
        ops.append(name)
        weights.append(int(weight))
    return ops, weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("LOADTEST_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("LOADTEST_TOKEN"))
    parser.add_argument("--channel", type=int, default=os.environ.get("LOADTEST_CHANNEL"))
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--concurrency", type=int, default=8, help="worker threads (default 8)")
    parser.add_argument("--seed", type=int, default=None, help="customers created first")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"weights (default {DEFAULT_MIX})")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--run-id", default=None, help="email prefix of this run's customers")
    parser.add_argument("--out", default=None, help="also write the report to this file")
    args = parser.parse_args(argv)
    if not args.token or args.channel is None:
        parser.error("--token and --channel are required (or LOADTEST_TOKEN/LOADTEST_CHANNEL)")
    if args.duration <= 0 or args.concurrency < 1:
        parser.error("--duration must be > 0 and --concurrency >= 1")
    ops, weights = parse_mix(args.mix)
    state = State(run_id=args.run_id or f"lt{secrets.token_hex(4)}")

    seeder = Worker(-1, state, args, ops, weights)
    for _ in range(args.seed if args.seed is not None else 2 * args.concurrency):
        seeder.create("seed")
    seeder.client.close()

    workers = [Worker(i, state, args, ops, weights) for i in range(args.concurrency)]
    started = time.monotonic()
    deadline = started + args.duration
    threads = [threading.Thread(target=w.run, args=(deadline,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    reader = Client(args.url, args.token, args.timeout)
    base = f"/api/v1/channel/{args.channel}/customers/"
    try:
        rows, total = read_back(reader, base, state.run_id)
        verification = verify(state, rows, total)
    except (OSError, http.client.HTTPException, RuntimeError, KeyError, TypeError) as exc:
        verification = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        reader.close()

    timed_ops = [op for op in state.latencies if op != "seed"]
    requests = sum(len(state.latencies[op]) for op in timed_ops)
    status_counts: Counter = Counter()
    for op in timed_ops:
        status_counts.update(state.statuses[op])
    operations = {}
    for op in sorted(state.latencies):
        values = sorted(state.latencies[op])
        operations[op] = {
            "count": len(values),
            "p50_ms": percentile(values, 50),
            "p99_ms": percentile(values, 99),
            "max_ms": percentile(values, 100),
            "statuses": dict(sorted(state.statuses[op].items())),
        }
    all_statuses: Counter = Counter()
    for counter in state.statuses.values():
        all_statuses.update(counter)
    server_errors = sum(n for s, n in all_statuses.items() if s.isdigit() and int(s) >= 500)
    transport = sum(state.transport_errors.values())

    failures = []
    if server_errors:
        failures.append(f"{server_errors} responses were 5xx")
    if transport:
        failures.append(f"{transport} transport errors {dict(state.transport_errors)}")
    if state.wrong_answers:
        failures.append(f"{len(state.wrong_answers)} unexpected statuses or wrong answers")
    if "error" in verification:
        failures.append(f"read-back failed: {verification['error']}")
    else:
        if verification["missing"] or verification["wrong_email"]:
            failures.append("acknowledged creates are missing or changed")
        if verification["unexpected_extra"] or verification["duplicate_pks"]:
            failures.append("customers exist that no 201 acknowledged")
        if verification["duplicate_emails"]:
            failures.append("an email exists twice")
        if verification["found"] != verification["created_201"]:
            failures.append("read-back count differs from the number of 201s")
        if verification["x_total_count"] != verification["created_201"]:
            failures.append("X-Total-Count differs from the number of 201s")
        if verification["final_state_not_acknowledged"] or verification["lost_updates"]:
            failures.append("a PATCHed customer holds a value no PATCH could have left")

    report = {
        "run_id": state.run_id,
        "url": args.url,
        "channel": args.channel,
        "concurrency": args.concurrency,
        "duration_s": round(elapsed, 2),
        "requests": requests,
        "requests_per_s": round(requests / elapsed, 1) if elapsed else 0.0,
        "operations": operations,
        "status_counts": dict(sorted(status_counts.items())),
        "server_errors_5xx": server_errors,
        "transport_errors": dict(state.transport_errors),
        "wrong_answers": state.wrong_answers[:10],
        "verification": verification,
        "ok": not failures,
        "failures": failures,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
