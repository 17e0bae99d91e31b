"""bench/load/loadtest.py: an 8 s run on gunicorn (2 workers) and the test DB; its checker."""

from __future__ import annotations

import importlib.util
import json
import secrets
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from saleschannel.accounts.services import api_user_create
from saleschannel.customers.models import Customer

from .servers import BASE_DIR, AppServer, server_env, this_tests_database_url

LOADTEST = BASE_DIR / "bench" / "load" / "loadtest.py"
DURATION = 8
OPERATIONS = {"seed", "retrieve", "list", "filtered", "create", "patch"}


@pytest.fixture
def server(tmp_path):
    """The production server (2 workers) on the test database, without a rate limit."""
    env = server_env(tmp_path, DATABASE_URL=this_tests_database_url(), RATE_LIMIT_PER_TOKEN="off")
    app = AppServer("gunicorn", env, tmp_path)
    try:
        app.wait_healthy()
        yield app
    finally:
        app.stop()


@pytest.mark.django_db(transaction=True)
def test_loadtest_for_8_seconds_has_no_5xx_and_the_database_matches_its_201s(
    server, channel, tmp_path
):
    _, token = api_user_create(username="load", superuser=True)
    report_path = tmp_path / "report.json"
    run_id = f"lt{secrets.token_hex(3)}"

    done = subprocess.run(
        [sys.executable, str(LOADTEST), "--url", server.base, "--token", token,
         "--channel", str(channel.pk), "--duration", str(DURATION), "--concurrency", "4",
         "--run-id", run_id, "--out", str(report_path)],
        capture_output=True, text=True, timeout=DURATION + 120,
    )  # fmt: skip

    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{server.log()}"
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
