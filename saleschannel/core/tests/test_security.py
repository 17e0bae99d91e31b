"""Token revocation, secrets kept out of bodies and logs, security headers, CORS, prod settings."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from saleschannel.accounts.models import ApiToken, hash_token
from saleschannel.accounts.services import api_user_create
from saleschannel.customers.tests.factories import CustomerFactory

from .servers import run_manage, server_env, this_tests_database_url

pytestmark = pytest.mark.django_db

ACTIVE_USER = "/api/v1/active_user/"
BASE_DIR = Path(django_settings.BASE_DIR)


def revoke(*args: str) -> dict:
    out = StringIO()
    call_command("revoke_token", *args, stdout=out)
    return json.loads(out.getvalue())


def status_of(client: APIClient) -> int:
    return client.get(ACTIVE_USER).status_code


def assert_invalid_token(client: APIClient) -> None:
    response = client.get(ACTIVE_USER)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token.", "code": "authentication_failed"}
    assert response["WWW-Authenticate"] == "Token"


# --- revoke_token -------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["key", "prefix"])
def test_revoke_token_by_key_or_prefix_stops_that_token_on_the_next_request_only(make_client, form):
    victim = make_client(username="victim")
    sibling = make_client(username="victim")  # another token of the same user
    bystander = make_client(username="bystander")
    assert [status_of(c) for c in (victim, sibling, bystander)] == [200, 200, 200]
    argument = victim.token_key if form == "key" else victim.token_key[:8]

    assert revoke(argument) == {"revoked": 1}

    assert_invalid_token(victim)
    assert [status_of(sibling), status_of(bystander)] == [200, 200]
    assert not ApiToken.objects.filter(digest=hash_token(victim.token_key)).exists()
    assert ApiToken.objects.filter(user__username="victim").count() == 1


def test_revoke_token_by_user_revokes_every_token_of_that_user_only(make_client):
    tokens = [make_client(username="leaver") for _ in range(3)]
    stayer = make_client(username="stayer")

    assert revoke("--user", "leaver") == {"revoked": 3}

    for client in tokens:
        assert_invalid_token(client)
    assert status_of(stayer) == 200
    assert not ApiToken.objects.filter(user__username="leaver").exists()
    assert ApiToken.objects.filter(user__username="stayer").count() == 1


def test_revoke_token_prefix_shared_by_two_tokens_is_refused_and_revokes_nothing(make_client):
    first = make_client(username="one")
    second = make_client(username="two")
    # Keys are random; give the second token the first one's prefix, as a collision would.
    ApiToken.objects.filter(digest=hash_token(second.token_key)).update(prefix=first.token_key[:8])

    with pytest.raises(CommandError, match="several tokens"):
        revoke(first.token_key[:8])

    assert [status_of(first), status_of(second)] == [200, 200]
    assert revoke(second.token_key) == {"revoked": 1}
    assert_invalid_token(second)
    assert status_of(first) == 200


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("f" * 40,), id="unknown-key"),
        pytest.param(("ffffffff",), id="unknown-prefix"),
        pytest.param(("ffff",), id="short-prefix"),
        pytest.param(("--user", "nobody"), id="unknown-user"),
        pytest.param(("--user", "tokenless"), id="user-without-tokens"),
    ],
)
def test_revoke_token_that_matches_nothing_is_a_command_error(make_client, django_user_model, args):
    django_user_model.objects.create(username="tokenless")
    keeper = make_client(username="keeper")
    before = ApiToken.objects.count()

    with pytest.raises(CommandError, match="No such token"):
        revoke(*args)

    assert ApiToken.objects.count() == before
    assert status_of(keeper) == 200


@pytest.mark.parametrize("args", [(), ("abcdefgh", "--user", "keeper")])
def test_revoke_token_needs_exactly_one_of_token_or_user(make_client, args):
    keeper = make_client(username="keeper")

    with pytest.raises(CommandError, match="either a token"):
        revoke(*args)

    assert status_of(keeper) == 200


@pytest.mark.django_db(transaction=True)
def test_revoke_token_command_line_prints_json_and_fails_with_exit_1_on_no_match(tmp_path):
    _, key = api_user_create(username="cli-victim")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert status_of(client) == 200
    env = server_env(tmp_path, DATABASE_URL=this_tests_database_url())

    done = run_manage(env, "revoke_token", key)
    again = run_manage(env, "revoke_token", key)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"revoked": 1}
    assert key not in done.stdout + done.stderr
    assert_invalid_token(client)
    assert again.returncode == 1
    assert again.stdout == ""
    assert "CommandError: No such token." in again.stderr


# --- secrets never echoed -------------------------------------------------------------------------


def assert_secret_absent(response, secret: str) -> None:
    assert secret not in response.content.decode("utf-8", "replace")
    for name, value in response.headers.items():
        assert secret not in value, name


def test_a_valid_token_is_in_no_response_body_header_or_log_line(request_log, make_client, channel):
    cache.clear()
    writer = make_client(channels=[channel])
    reader = make_client(channels=[channel], read_only=True)
    customer = CustomerFactory(channel=channel)
    base = f"/api/v1/channel/{channel.pk}/customers/"
    body = {
        "email": "new@example.com",
        "channel_code": "NEW-1",
        "is_active": True,
        "email_allowed": False,
        "sms_allowed": False,
        "call_allowed": False,
    }

    responses = [
        writer.get(ACTIVE_USER),
        writer.get(base, {"token": writer.token_key}),
        writer.get(f"{base}{customer.pk}/"),
        writer.get(f"{base}detailed/"),
        writer.post(base, body, format="json"),
        writer.post(base, body, format="json"),  # duplicate: 400
        writer.get(f"{base}999999999/"),  # 404
        writer.get(f"/api/v1/channel/{channel.pk + 1000}/customers/"),  # 404 channel
        reader.patch(f"{base}{customer.pk}/", {"first_name": "X"}, format="json"),  # 403
        writer.delete(ACTIVE_USER),  # 405
        writer.get("/no/such/url/"),
    ]

    assert [r.status_code for r in responses] == [
        200, 200, 200, 200, 201, 400, 404, 404, 403, 405, 404,
    ]  # fmt: skip
    for response in responses:
        assert_secret_absent(response, writer.token_key)
        assert_secret_absent(response, reader.token_key)
    lines = [r.getMessage() for r in request_log.records if r.name == "saleschannel.requests"]
    assert len(lines) == len(responses)
    assert {json.loads(line)["status"] for line in lines} == {200, 201, 400, 403, 404, 405}
    assert json.loads(lines[1])["query_keys"] == ["token"]
    for secret in (writer.token_key, reader.token_key, writer.token_key[:8]):
        assert secret not in request_log.text


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Token {secret}", id="unknown-key"),
        pytest.param("Token {secret} {secret}", id="two-parts"),
        pytest.param("Bearer {secret}", id="other-scheme"),
        pytest.param("Token {secret}\u00e9", id="non-ascii"),
    ],
)
def test_a_rejected_token_is_not_echoed_in_the_401_body_headers_or_log(request_log, anon, header):
    secret = secrets.token_hex(20)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.format(secret=secret))

    response = client.get(ACTIVE_USER)

    assert response.status_code == 401
    assert response.json()["code"] in {"authentication_failed", "not_authenticated"}
    assert_secret_absent(response, secret)
    assert secret not in request_log.text
    assert [json.loads(r.getMessage())["status"] for r in request_log.records] == [401]


def test_a_refused_login_echoes_neither_password_nor_username_in_body_or_log(request_log, anon):
    cache.clear()
    api_user_create(username="secretive", password="right-password-1")
    password = secrets.token_hex(12)

    response = anon.post(
        "/api/v1/auth/login/", {"username": "secretive", "password": password}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Unable to log in with provided credentials."],
        "code": "authorization",
    }
    assert_secret_absent(response, password)
    assert password not in request_log.text
    assert "secretive" not in request_log.text
    cache.clear()


def test_login_shows_the_new_key_once_in_its_body_and_nowhere_else(request_log, anon):
    cache.clear()
    api_user_create(username="shown", password="right-password-1")

    response = anon.post(
        "/api/v1/auth/login/",
        {"username": "shown", "password": "right-password-1"},
        format="json",
    )

    assert response.status_code == 200
    key = response.json()["key"]
    assert ApiToken.objects.filter(digest=hash_token(key), user__username="shown").exists()
    for name, value in response.headers.items():
        assert key not in value, name
    assert key not in request_log.text
    assert key[:8] not in request_log.text
    cache.clear()


# --- security headers -----------------------------------------------------------------------------

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def security_cases(channel_id: int, client: APIClient, anon: APIClient) -> dict:
    base = f"/api/v1/channel/{channel_id}/customers/"
    return {
        "200-list": lambda: client.get(base),
        "401": lambda: anon.get(base),
        "404-url": lambda: client.get("/no/such/url/"),
        "400-bad-json": lambda: client.generic(
            "POST", base, "{not json", content_type="application/json"
        ),
        "healthz": lambda: anon.get("/healthz"),
        "413": lambda: client.generic(
            "POST", base, "x" * (django_settings.MAX_REQUEST_BODY_BYTES + 1), "application/json"
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "200-list",
        "401",
        "404-url",
        "400-bad-json",
        "healthz",
        "413",
    ],
)
def test_security_headers_on_api_responses_and_no_server_header(api, channel, anon, case):
    response = security_cases(channel.pk, api, anon)[case]()

    expected = int(case[:3]) if case[0].isdigit() else 200
    assert response.status_code == expected
    assert response["Content-Type"] == "application/json"
    for name, value in SECURITY_HEADERS.items():
        assert response.get(name) == value, name
    assert "Server" not in response
    assert "X-Powered-By" not in response


# --- CORS ---------------------------------------------------------------------------------------


def test_cors_is_off_by_default_no_allow_origin_on_get_or_preflight(api, channel):
    assert django_settings.CORS_ALLOWED_ORIGINS == []
    base = f"/api/v1/channel/{channel.pk}/customers/"

    get = api.get(base, HTTP_ORIGIN="https://admin.example.com")
    preflight = APIClient().options(
        base,
        HTTP_ORIGIN="https://admin.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )

    assert get.status_code == 200
    for response in (get, preflight):
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]


CORS_PROBE = r"""
import json
import django
django.setup()
from django.test import Client

def probe(method, path, origin, **extra):
    client = Client()
    response = getattr(client, method)(path, HTTP_ORIGIN=origin, **extra)
    return {
        "status": response.status_code,
        "headers": {k.lower(): v for k, v in response.headers.items()},
    }

preflight = {
    "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "PATCH",
    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization, content-type, if-match",
}
print(json.dumps({
    "preflight_allowed": probe("options", "/api/v1/channel/1/customers/",
                               "https://admin.example.com", **preflight),
    "preflight_other": probe("options", "/api/v1/channel/1/customers/",
                             "https://evil.example.net", **preflight),
    "get_allowed": probe("get", "/healthz", "https://admin.example.com"),
    "get_other": probe("get", "/healthz", "https://evil.example.net"),
    "get_second_allowed": probe("get", "/healthz", "http://localhost:3000"),
}))
"""


def test_cors_with_allowed_origins_echoes_only_those_origins(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "CORS_ALLOWED_ORIGINS": "https://admin.example.com, http://localhost:3000",
            "DATA_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", CORS_PROBE],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)

    allowed = result["preflight_allowed"]
    assert allowed["status"] == 200
    assert allowed["headers"]["access-control-allow-origin"] == "https://admin.example.com"
    assert "PATCH" in allowed["headers"]["access-control-allow-methods"].split(", ")
    allow_headers = allowed["headers"]["access-control-allow-headers"].split(", ")
    assert {"authorization", "content-type", "if-match"} <= set(allow_headers)
    assert "access-control-allow-credentials" not in allowed["headers"]

    get = result["get_allowed"]
    assert get["status"] == 200
    assert get["headers"]["access-control-allow-origin"] == "https://admin.example.com"
    exposed = set(get["headers"]["access-control-expose-headers"].split(", "))
    assert {"etag", "link", "x-total-count", "retry-after", "ratelimit-remaining"} <= exposed
    second = result["get_second_allowed"]["headers"]
    assert second["access-control-allow-origin"] == "http://localhost:3000"

    for name in ("preflight_other", "get_other"):
        headers = result[name]["headers"]
        assert "access-control-allow-origin" not in headers, name
        assert not [h for h in headers if h.startswith("access-control-")], name


# --- production settings ------------------------------------------------------------------------

PRINT_DEBUG = (
    "import django; django.setup(); from django.conf import settings; "
    "print(json.dumps({'DEBUG': settings.DEBUG, 'key': settings.SECRET_KEY}))"
)


def production_python(code: str, tmp_path: Path, **env_vars: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DATA_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        }
    )
    env.update(env_vars)
    return subprocess.run(
        [sys.executable, "-c", "import json; " + code],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("secret_env", [{}, {"SECRET_KEY": ""}], ids=["unset", "empty"])
def test_production_settings_refuse_to_load_without_secret_key(tmp_path, secret_env):
    done = production_python(PRINT_DEBUG, tmp_path, **secret_env)

    assert done.returncode != 0
    assert done.stdout == ""
    assert "django.core.exceptions.ImproperlyConfigured: SECRET_KEY must be set" in done.stderr


@pytest.mark.parametrize("debug", ["true", "1", ""])
def test_production_settings_force_debug_off_whatever_the_environment_says(tmp_path, debug):
    key = secrets.token_urlsafe(50)

    done = production_python(PRINT_DEBUG, tmp_path, SECRET_KEY=key, DEBUG=debug)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"DEBUG": False, "key": key}
