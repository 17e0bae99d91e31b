"""bench/load/loadtest.py: an 8 s run on gunicorn (2 workers) and the test DB; its checker."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from saleschannel.accounts.services import api_user_create
from saleschannel.customers.models import Customer

BASE_DIR = Path(settings.BASE_DIR)
LOADTEST = BASE_DIR / "bench" / "load" / "loadtest.py"
DURATION = 8
OPERATIONS = {"seed", "retrieve", "list", "filtered", "create", "patch"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def this_tests_database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            pytest.skip("an in-memory SQLite test database cannot be shared with a server")
        return f"sqlite:///{Path(name).resolve()}"
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{db['HOST'] or ''}{port}/{quote(db['NAME'], safe='')}"


@pytest.fixture
def server(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "REDIS_URL"}
        and not key.startswith(("WEB_", "RATE_LIMIT"))
    }
    port = free_port()
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": this_tests_database_url(),
            "DATA_DIR": str(tmp_path / "data"),
            "STATIC_ROOT": str(tmp_path / "static"),
            "RATE_LIMIT_PER_TOKEN": "off",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": "2",
            "GRACEFUL_TIMEOUT": "5",
        }
    )
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.conf.py",
             "config.wsgi"],
            env=env, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            yield base, log_path
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@pytest.mark.django_db(transaction=True)
def test_loadtest_for_8_seconds_has_no_5xx_and_the_database_matches_its_201s(
    server, channel, tmp_path
):
    base, log_path = server
    _, token = api_user_create(username="load", superuser=True)
    report_path = tmp_path / "report.json"
    run_id = f"lt{secrets.token_hex(3)}"

    done = subprocess.run(
        [sys.executable, str(LOADTEST), "--url", base, "--token", token,
         "--channel", str(channel.pk), "--duration", str(DURATION), "--concurrency", "4",
         "--run-id", run_id, "--out", str(report_path)],
        capture_output=True, text=True, timeout=DURATION + 120,
    )  # fmt: skip

    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{log_path.read_text()}"
    report = json.loads(report_path.read_text())
    assert json.loads(done.stdout) == report
    print(json.dumps(report))  # the numbers, for the record (pytest -s)
    assert report["ok"] is True
    assert report["failures"] == []
    assert report["server_errors_5xx"] == 0
    assert report["transport_errors"] == {}
    assert set(report["operations"]) == OPERATIONS
    assert all(op["count"] > 0 for op in report["operations"].values())
    assert DURATION <= report["duration_s"] < DURATION + 30
    assert report["requests"] == sum(
        op["count"] for name, op in report["operations"].items() if name != "seed"
    )
    assert report["requests_per_s"] > 0

    # The database itself (not only the API) holds exactly the customers the run created.
    created = report["verification"]["created_201"]
    assert created == report["operations"]["seed"]["count"] + report["operations"]["create"][
        "statuses"
    ].get("201", 0)
    customers = Customer.objects.filter(channel=channel)
    assert customers.count() == created
    assert all(
        email.startswith(f"{run_id}-") for email in customers.values_list("email", flat=True)
    )
    patched = customers.exclude(first_name="Seed")
    assert patched.count() == report["verification"]["patched_customers"]
    assert all(name.startswith("w") for name in patched.values_list("first_name", flat=True))


# --- the load test's own checker can fail ----------------------------------------------------


def load_module():
    spec = importlib.util.spec_from_file_location("loadtest", LOADTEST)
    module = importlib.util.module_from_spec(spec)
    sys.modules["loadtest"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


loadtest = load_module()


def clean_run():
    """Three 201s; customer 1 PATCHed twice in sequence, customer 2 twice concurrently."""
    state = loadtest.State(run_id="lt")
    state.created = {1: "lt-1@x.com", 2: "lt-2@x.com", 3: "lt-3@x.com"}
    state.patch_acks[1] = [loadtest.Ack(0.0, 1.0, "a"), loadtest.Ack(2.0, 3.0, "b")]
    state.patch_acks[2] = [loadtest.Ack(0.0, 2.0, "c"), loadtest.Ack(1.0, 3.0, "d")]
    rows = [
        {"pk": 1, "email": "lt-1@x.com", "first_name": "b"},
        {"pk": 2, "email": "lt-2@x.com", "first_name": "c"},
        {"pk": 3, "email": "lt-3@x.com", "first_name": "Seed"},
    ]
    return state, rows


def test_loadtest_verify_passes_a_consistent_read_back_including_overlapping_patches():
    state, rows = clean_run()

    result = loadtest.verify(state, rows, "3")

    assert (result["created_201"], result["found"], result["x_total_count"]) == (3, 3, 3)
    assert (result["patched_customers"], result["patch_acks"]) == (2, 4)
    for key in ("missing", "wrong_email", "unexpected_extra", "duplicate_pks",
                "duplicate_emails", "final_state_not_acknowledged", "lost_updates"):  # fmt: skip
        assert result[key] == [], key


@pytest.mark.parametrize(
    ("fault", "key", "expected"),
    [
        ("drop-row", "missing", [3]),
        ("extra-row", "unexpected_extra", [9]),
        ("changed-email", "wrong_email", [3]),
        ("same-email-twice", "duplicate_emails", ["lt-1@x.com"]),
        ("unacknowledged-value", "final_state_not_acknowledged", [{"pk": 2, "final": "zz"}]),
        ("lost-update", "lost_updates", [{"pk": 1, "final": "a", "acknowledged_later": ["b"]}]),
    ],
)
def test_loadtest_verify_reports_each_kind_of_inconsistency(fault, key, expected):
    state, rows = clean_run()
    if fault == "drop-row":
        rows = rows[:2]
    elif fault == "extra-row":
        rows.append({"pk": 9, "email": "lt-9@x.com", "first_name": ""})
    elif fault == "changed-email":
        rows[2]["email"] = "other@x.com"
    elif fault == "same-email-twice":
        rows.append({"pk": 9, "email": "LT-1@x.com", "first_name": ""})
    elif fault == "unacknowledged-value":
        rows[1]["first_name"] = "zz"
    elif fault == "lost-update":
        rows[0]["first_name"] = "a"  # "b" was sent after "a" was acknowledged: it must win

    result = loadtest.verify(state, rows, str(len(rows)))

    assert result[key] == expected


class AlwaysFails(BaseHTTPRequestHandler):
    def answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"detail": "A server error occurred.", "code": "server_error"}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = answer

    def log_message(self, *args) -> None:
        pass


def test_loadtest_exits_1_and_counts_5xx_when_the_server_answers_500(capsys):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), AlwaysFails)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        code = loadtest.main(
            ["--url", f"http://127.0.0.1:{httpd.server_port}", "--token", "t", "--channel", "1",
             "--duration", "0.5", "--concurrency", "2", "--seed", "3"]
        )  # fmt: skip
    finally:
        httpd.shutdown()
        httpd.server_close()

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["ok"] is False
    assert report["operations"]["seed"]["statuses"] == {"500": 3}
    assert report["server_errors_5xx"] == sum(report["status_counts"].values()) + 3
    assert report["failures"][0] == f"{report['server_errors_5xx']} responses were 5xx"
    assert report["verification"]["error"].startswith("RuntimeError: read-back")
