#!/usr/bin/env python3
"""EXPLAIN (ANALYZE, BUFFERS) of the SQL the app really runs for some list requests.

Run by bench/perf/run.py (Django settings and DATABASE_URL in the environment):

    explain.py REQUESTS.json PLANS.txt   ->  JSON summary on stdout

REQUESTS.json: {"token": "...", "requests": [{"name": ..., "path": ...}, ...]}. Each request is
sent once through the app in-process (Django's test client, the real middleware, auth and
views) while its queries are captured; every captured SELECT that reads customers_customer is
then explained with `psql` (EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON), and once more as text for
PLANS.txt). The summary per request and query: the plan's top node, the indexes it uses, any
sequential scan, execution time and buffers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def psql(database_url: str, statement: str) -> str:
    result = subprocess.run(
        ["psql", database_url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"],
        input=statement,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def walk(node: dict, found: list[dict]) -> None:
    found.append(node)
    for child in node.get("Plans", []):
        walk(child, found)


def summarise(plan_json: list) -> dict:
    root = plan_json[0]
    nodes: list[dict] = []
    walk(root["Plan"], nodes)
    top = root["Plan"]
    indexes = []
    for node in nodes:
        name = node.get("Index Name")
        if name and name not in indexes:
            indexes.append(name)
    seq_scans = sorted(
        {node.get("Relation Name", "?") for node in nodes if node["Node Type"] == "Seq Scan"}
    )
    return {
        "top_node": top["Node Type"],
        "access": [
            f"{node['Node Type']} {node.get('Index Name') or node.get('Relation Name')}"
            for node in nodes
            if "Scan" in node["Node Type"]
        ],
        "indexes": indexes,
        "seq_scans": seq_scans,
        "execution_ms": round(root.get("Execution Time", 0.0), 3),
        "shared_hit": top.get("Shared Hit Blocks", 0),
        "shared_read": top.get("Shared Read Blocks", 0),
        "rows": top.get("Actual Rows", 0),
    }


def main() -> None:
    requests_file, plans_file = sys.argv[1], sys.argv[2]
    spec = json.loads(Path(requests_file).read_text())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    database_url = os.environ["DATABASE_URL"]
    client = Client(HTTP_AUTHORIZATION=f"Token {spec['token']}")
    summary = []
    text_out = []
    for item in spec["requests"]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(item["path"])
        queries = [
            q["sql"]
            for q in captured.captured_queries
            if q["sql"].lstrip().upper().startswith("SELECT") and "customers_customer" in q["sql"]
        ]
        entry = {"name": item["name"], "path": item["path"], "status": response.status_code}
        entry["queries"] = []
        text_out.append(f"==== {item['name']}  GET {item['path']}  -> {response.status_code}\n")
        for sql in queries:
            plan = json.loads(psql(database_url, f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}"))
            text = psql(database_url, f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            kind = "count" if "COUNT(" in sql.upper() else "rows"
            entry["queries"].append({"kind": kind, **summarise(plan)})
            text_out.append(f"-- {sql}\n{text}\n")
        summary.append(entry)
    Path(plans_file).write_text("".join(text_out))
    json.dump(summary, sys.stdout)


if __name__ == "__main__":
    main()
