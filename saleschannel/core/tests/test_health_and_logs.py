"""Health endpoints and the per-request log line."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_directly_without_auth():
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_database_and_migrations_ready():
    response = Client().get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "migrations": "ok"}


@pytest.fixture
def unreachable_database(tmp_path):
    """Point the default connection at a database that cannot be reached, then restore it."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = str(tmp_path / "missing-dir" / "db.sqlite3")
    else:
        connection.settings_dict["PORT"] = "1"  # nothing listens on port 1
        connection.settings_dict["OPTIONS"] = {**saved["OPTIONS"], "connect_timeout": 2}
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_json_when_the_database_is_unreachable(unreachable_database):
    response = Client().get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["database"] == "unreachable"


@pytest.mark.django_db(transaction=True)
def test_api_answers_503_json_when_the_database_is_unreachable(unreachable_database):
    response = Client().get("/api/v1/active_user/", HTTP_AUTHORIZATION="Token " + "0" * 40)

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


def _lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "saleschannel.requests"]


def test_each_request_logs_one_json_line_without_secrets(request_log, make_client, channel):
    client = make_client(superuser=True)
    request_log.clear()

    response = client.get(
        f"/api/v1/channel/{channel.pk}/customers/",
        {"email": "secret.person@example.com"},
        HTTP_X_REQUEST_ID="req-123",
    )

    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-123"
    lines = _lines(request_log)
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "req-123"
    assert line["method"] == "GET"
    assert line["path"] == f"/api/v1/channel/{channel.pk}/customers/"
    assert line["status"] == 200
    assert line["query_keys"] == ["email"]
    assert isinstance(line["duration_ms"], float)
    assert isinstance(line["user"], int)
    raw = request_log.text
    assert "secret.person" not in raw
    assert client.token_key not in raw


def test_request_id_is_generated_when_missing_or_unsafe(request_log, anon):
    first = anon.get("/healthz")
    unsafe = anon.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")

    assert len(first["X-Request-ID"]) == 32
    assert unsafe["X-Request-ID"] != "bad id\nwith newline"
    assert len(unsafe["X-Request-ID"]) == 32
    ids = [line["request_id"] for line in _lines(request_log)]
    assert ids == [first["X-Request-ID"], unsafe["X-Request-ID"]]
    assert [line["user"] for line in _lines(request_log)] == [None, None]
