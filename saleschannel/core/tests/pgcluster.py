"""Private PostgreSQL clusters for tests: throw-away primaries and their streaming replicas, each
in its own directory on its own loopback port (the app servers that use them: servers.py).

PostgreSQL refuses to run as root, so when the tests run as root every server binary runs as the
`postgres` OS user (runuser), in a temporary directory handed to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from .servers import free_port

INITDB = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


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
        """Start with fsync off (a throw-away cluster) and `conf` as extra `-c key=value`s."""
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

    def create_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

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
