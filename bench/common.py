"""Helpers the benchmark drivers share: ports, stopping servers, wrk latencies, process CPU."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM (a graceful stop), then SIGKILL after `timeout` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wrk_ms(text: str) -> float:
    """A wrk duration (`850.00us`, `23.10ms`, `1.20s`, `1.00m`) in milliseconds."""
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def wrk_percentile_ms(output: str, percent: int) -> float:
    """A percentile of wrk's `--latency` distribution, in milliseconds."""
    return wrk_ms(re.search(rf"^\s+{percent}%\s+(\S+)", output, re.M).group(1))


def tree_cpu_seconds(root_pid: int) -> float:
    """User + system CPU time of a process and its live descendants (the server's workers)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # After "(comm)": state ppid ... utime(12) stime(13), 0-based here from `state`.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK)
    tree, changed = {root_pid}, True
    while changed:
        changed = False
        for pid, (ppid, _) in stats.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return sum(stats.get(pid, (0, 0.0))[1] for pid in tree)


def proc_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK
