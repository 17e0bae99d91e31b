"""Run one `manage.py import_customers` and report its rate, its peak memory and the CPU time
spent by the command and by PostgreSQL (the server processes working on the database).

    python bench/import/measure.py DB_NAME LABEL -- manage.py import_customers CHANNEL FILE

The command runs under GNU time (`/usr/bin/time -v`) for its peak RSS and CPU time; the
server's CPU time is sampled from /proc every 0.2 s (backends and autovacuum workers whose
title names DB_NAME). CPU time per row is what the rate would be bound by on an idle machine:
with the two halves overlapped, about 1 / max(command, server) rows per second per core pair.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu(database: str) -> dict[int, float]:
    seconds = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if not title.startswith("postgres:") or f" {database} " not in f"{title} ":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICKS
    return seconds


def main() -> None:
    database, label = sys.argv[1], sys.argv[2]
    command = sys.argv[sys.argv.index("--") + 1 :]
    with tempfile.NamedTemporaryFile(suffix=".time") as report:
        before = server_cpu(database)
        process = subprocess.Popen(
            ["/usr/bin/time", "-v", "-o", report.name, sys.executable, *command],
            stdout=subprocess.PIPE,
        )
        peak: dict[int, float] = {}
        while process.poll() is None:
            for pid, seconds in server_cpu(database).items():
                peak[pid] = max(peak.get(pid, 0.0), seconds)
            time.sleep(0.2)
        output = process.stdout.read()
        timing = Path(report.name).read_text()
    summary = json.loads(output)
    server = sum(seconds - before.get(pid, 0.0) for pid, seconds in peak.items())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", timing).group(1))
    user = float(re.search(r"User time \(seconds\): (\S+)", timing).group(1))
    system = float(re.search(r"System time \(seconds\): (\S+)", timing).group(1))
    rows = sum(summary[key] for key in ("created", "updated", "unchanged", "failed"))
    counts = {key: summary[key] for key in ("created", "updated", "unchanged", "failed")}
    print(
        f"{label}: {summary['rows_per_second']:,} rows/s ({rows:,} rows in {summary['seconds']} s)"
        f"; peak RSS {rss / 1024:.0f} MiB; CPU per row: command "
        f"{(user + system) / rows * 1e6:.1f} us, PostgreSQL {server / rows * 1e6:.1f} us; {counts}"
    )


if __name__ == "__main__":
    main()
