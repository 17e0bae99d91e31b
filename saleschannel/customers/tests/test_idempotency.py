"""`Idempotency-Key` on customer create: replays of the first response, key reuse with another
request (422), per-user keys, key validation, failed requests storing nothing, the TTL and
`manage.py purge_idempotency_records`."""

from __future__ import annotations

import datetime as dt
import io
import json
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saleschannel.core.idempotency import IdempotencyKeyReused
from saleschannel.core.models import IdempotencyRecord
from saleschannel.customers.models import Customer, CustomerHistory
from saleschannel.customers.services import UNIQUE_MESSAGES
from saleschannel.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

KEY_REUSED = {"detail": str(IdempotencyKeyReused.default_detail), "code": "idempotency_key_reused"}
INVALID_KEY = {"Idempotency-Key": ["Use 1 to 255 visible ASCII characters."], "code": "invalid"}


def list_url(channel) -> str:
    return f"/api/v1/channel/{channel.pk}/customers/"


def body_for(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "email": f"idem{n}@example.com",
        "channel_code": f"IDEM-{n}",
        "is_active": True,
        "email_allowed": False,
        "sms_allowed": False,
        "call_allowed": False,
        **extra,
    }


def post(client, channel, body: Any, key: str | None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(list_url(channel), body, format="json", **headers)


def age_records(seconds: float) -> None:
    """Move every record's creation `seconds` into the past."""
    IdempotencyRecord.objects.update(created=timezone.now() - dt.timedelta(seconds=seconds))


# --- Replays ---------------------------------------------------------------------------------


def test_retry_with_the_same_key_and_body_replays_the_201_and_creates_nothing(api, channel):
    body = body_for(1, first_name="Ada")

    first = post(api, channel, body, "key-1")
    retries = [post(api, channel, body, "key-1") for _ in range(3)]

    assert first.status_code == 201
    assert first.has_header("Idempotent-Replayed") is False
    created = Customer.objects.get(channel=channel)
    assert first.json()["pk"] == created.pk
    assert first["ETag"] == f'"{created.pk}.1"'
    for retry in retries:
        assert retry.status_code == 201
        assert retry.json() == first.json()
        assert retry["ETag"] == first["ETag"]
        assert retry["Idempotent-Replayed"] == "true"
    assert Customer.objects.count() == 1
    assert CustomerHistory.objects.filter(customer_id=created.pk).count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_retry_with_the_same_body_in_another_key_order_is_a_replay(api, channel):
    body = body_for(2, first_name="Ada", attributes={"b": 1, "a": 2})
    reordered = dict(reversed(list(body.items())))
    reordered["attributes"] = {"a": 2, "b": 1}

    first = post(api, channel, body, "order-key")
    retry = post(api, channel, reordered, "order-key")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Customer.objects.count() == 1


def test_replay_returns_the_stored_response_even_after_the_customer_changed(api, channel):
    body = body_for(3, first_name="Original")
    first = post(api, channel, body, "stored-key")
    pk = first.json()["pk"]
    api.patch(f"{list_url(channel)}{pk}/", {"first_name": "Changed"}, format="json")

    retry = post(api, channel, body, "stored-key")

    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.json()["first_name"] == "Original"
    assert retry["ETag"] == f'"{pk}.1"'
    assert retry["Idempotent-Replayed"] == "true"
    assert Customer.objects.get(pk=pk).first_name == "Changed"


def test_posts_without_a_key_are_not_deduplicated(api, channel):
    body = body_for(4)

    first = post(api, channel, body, None)
    second = post(api, channel, body, None)

    assert first.status_code == 201
    assert (second.status_code, second.json()) == (
        400,
        {
            "email": [UNIQUE_MESSAGES["email"]],
            "channel_code": [UNIQUE_MESSAGES["channel_code"]],
            "code": "unique",
        },
    )
    assert not IdempotencyRecord.objects.exists()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    key=st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=255
    )
)
def test_any_visible_ascii_key_up_to_255_characters_is_accepted_and_replayed(api, channel, key):
    IdempotencyRecord.objects.all().delete()  # examples share the database: start each fresh
    n = Customer.objects.count() + 100
    body = body_for(n)

    first = post(api, channel, body, key)
    retry = post(api, channel, body, key)

    assert first.status_code == 201
    assert (retry.status_code, retry.json()) == (201, first.json())
    assert retry["Idempotent-Replayed"] == "true"
    assert Customer.objects.filter(email=body["email"]).count() == 1
    assert IdempotencyRecord.objects.filter(key=key).count() == 1


# --- Reuse with another request ----------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda body: {**body, "first_name": "Other"}, id="added-field"),
        pytest.param(lambda body: {**body, "is_active": not body["is_active"]}, id="changed-value"),
        pytest.param(lambda body: body_for(99), id="other-customer"),
    ],
)
def test_same_key_with_a_different_body_is_422_and_creates_nothing(api, channel, change):
    body = body_for(5)
    first = post(api, channel, body, "reused")

    response = post(api, channel, change(body), "reused")

    assert first.status_code == 201
    assert (response.status_code, response.json()) == (422, KEY_REUSED)
    assert list(Customer.objects.values_list("pk", flat=True)) == [first.json()["pk"]]
    record = IdempotencyRecord.objects.get()
    assert (record.status_code, record.response_body) == (201, first.json())


def test_same_key_and_body_for_another_channel_is_422(api, channel, other_channel):
    body = body_for(6)
    first = post(api, channel, body, "per-request")

    response = post(api, other_channel, body, "per-request")

    assert first.status_code == 201
    assert (response.status_code, response.json()) == (422, KEY_REUSED)
    assert not Customer.objects.filter(channel=other_channel).exists()


# --- Keys are per user ---------------------------------------------------------------------------


def test_another_users_same_key_is_independent(make_client, channel):
    alice = make_client(channels=[channel], username="alice")
    bob = make_client(channels=[channel], username="bob")

    from_alice = post(alice, channel, body_for(7), "shared-key")
    from_bob = post(bob, channel, body_for(8), "shared-key")
    alice_again = post(alice, channel, body_for(7), "shared-key")

    assert (from_alice.status_code, from_bob.status_code) == (201, 201)
    assert from_bob.has_header("Idempotent-Replayed") is False
    assert from_bob.json()["email"] == "idem8@example.com"
    assert from_bob.json()["pk"] != from_alice.json()["pk"]
    assert (alice_again.status_code, alice_again.json()) == (201, from_alice.json())
    assert alice_again["Idempotent-Replayed"] == "true"
    assert sorted(Customer.objects.values_list("email", flat=True)) == [
        "idem7@example.com",
        "idem8@example.com",
    ]
    assert sorted(IdempotencyRecord.objects.values_list("user__username", flat=True)) == [
        "alice",
        "bob",
    ]


def test_another_user_replaying_the_same_key_and_body_does_not_get_the_first_users_response(
    make_client, channel
):
    alice = make_client(channels=[channel], username="alice")
    bob = make_client(channels=[channel], username="bob")
    body = body_for(9)
    post(alice, channel, body, "same-everything")

    response = post(bob, channel, body, "same-everything")

    # Bob's request runs on its own: the email is taken, so he gets the uniqueness error.
    assert response.status_code == 400
    assert response.json()["code"] == "unique"
    assert response.has_header("Idempotent-Replayed") is False
    assert Customer.objects.count() == 1


# --- Invalid keys --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param("k" * 256, id="256-chars"),
        pytest.param("has space", id="space"),
        pytest.param("tab\tkey", id="tab"),
        pytest.param("ключ", id="non-ascii"),
        pytest.param("caf\u00e9", id="latin-1"),
    ],
)
def test_invalid_key_is_400_naming_the_header_and_creates_nothing(api, channel, key):
    response = post(api, channel, body_for(10), key)

    assert (response.status_code, response.json()) == (400, INVALID_KEY)
    assert not Customer.objects.exists()
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("length", [1, 255])
def test_key_of_1_and_255_characters_is_accepted(api, channel, length):
    key = "k" * length

    response = post(api, channel, body_for(11), key)

    assert response.status_code == 201
    assert IdempotencyRecord.objects.get().key == key


# --- Failed requests store nothing -----------------------------------------------------------


def test_a_400_stores_nothing_and_the_corrected_retry_with_the_same_key_succeeds(api, channel):
    bad = body_for(12, email="not-an-email")

    failed = post(api, channel, bad, "fix-me")
    assert failed.status_code == 400
    assert failed.json()["code"] == "invalid"
    assert not IdempotencyRecord.objects.exists()

    fixed = post(api, channel, body_for(12), "fix-me")
    replay = post(api, channel, body_for(12), "fix-me")

    assert fixed.status_code == 201
    assert fixed.has_header("Idempotent-Replayed") is False
    assert (replay.status_code, replay.json(), replay["Idempotent-Replayed"]) == (
        201,
        fixed.json(),
        "true",
    )
    assert list(Customer.objects.values_list("email", flat=True)) == ["idem12@example.com"]


def test_a_unique_conflict_stores_nothing_so_the_retry_runs_again(api, channel):
    taken = CustomerFactory(channel=channel, email="idem13@example.com")

    first = post(api, channel, body_for(13), "conflict")
    assert (first.status_code, first.json()["code"]) == (400, "unique")
    assert not IdempotencyRecord.objects.exists()
    taken.delete()

    retry = post(api, channel, body_for(13), "conflict")

    assert retry.status_code == 201
    assert retry.has_header("Idempotent-Replayed") is False
    assert Customer.objects.get().pk == retry.json()["pk"]


def test_a_404_channel_stores_nothing_so_the_key_is_still_free(api, channel):
    missing = SimpleNamespace(pk=channel.pk + 1000)

    not_found = post(api, missing, body_for(14), "after-404")
    created = post(api, channel, body_for(14), "after-404")

    assert (not_found.status_code, not_found.json()["code"]) == (404, "not_found")
    assert created.status_code == 201
    assert created.has_header("Idempotent-Replayed") is False
    assert IdempotencyRecord.objects.count() == 1


# --- Time to live ------------------------------------------------------------------------------


def test_a_record_younger_than_the_ttl_is_still_replayed(api, channel, settings):
    settings.IDEMPOTENCY_TTL_SECONDS = 3600
    first = post(api, channel, body_for(15), "young")
    age_records(3600 - 60)

    retry = post(api, channel, body_for(15), "young")

    assert (retry.status_code, retry.json(), retry["Idempotent-Replayed"]) == (
        201,
        first.json(),
        "true",
    )
    assert Customer.objects.count() == 1


def test_an_expired_record_is_replaced_by_a_new_request_with_the_same_key(api, channel, settings):
    settings.IDEMPOTENCY_TTL_SECONDS = 3600
    first = post(api, channel, body_for(16), "old-key")
    age_records(3600 + 60)

    # A different body would be a 422 within the TTL; past it the key is free again.
    second = post(api, channel, body_for(17), "old-key")
    replay = post(api, channel, body_for(17), "old-key")

    assert first.status_code == 201
    assert second.status_code == 201
    assert second.has_header("Idempotent-Replayed") is False
    assert second.json()["email"] == "idem17@example.com"
    assert (replay.status_code, replay.json(), replay["Idempotent-Replayed"]) == (
        201,
        second.json(),
        "true",
    )
    record = IdempotencyRecord.objects.get()
    assert record.response_body == second.json()
    assert timezone.now() - record.created < dt.timedelta(seconds=60)
    assert Customer.objects.count() == 2


def test_an_expired_record_is_not_replayed_to_the_same_request(api, channel, settings):
    settings.IDEMPOTENCY_TTL_SECONDS = 3600
    post(api, channel, body_for(18), "expired-same")
    age_records(3600 + 60)

    retry = post(api, channel, body_for(18), "expired-same")

    # The request runs again, and its customer already exists.
    assert (retry.status_code, retry.json()["code"]) == (400, "unique")
    assert retry.has_header("Idempotent-Replayed") is False
    assert Customer.objects.count() == 1


# --- purge_idempotency_records -------------------------------------------------------------------


def run_purge() -> dict[str, Any]:
    out = io.StringIO()
    call_command("purge_idempotency_records", stdout=out)
    return json.loads(out.getvalue())


def test_purge_deletes_only_expired_records_and_reports_how_many(api, channel, settings):
    settings.IDEMPOTENCY_TTL_SECONDS = 3600
    for n in range(5):
        post(api, channel, body_for(20 + n), f"purge-{n}")
    now = timezone.now()
    ages = {"purge-0": 7200, "purge-1": 3660, "purge-2": 3540, "purge-3": 60, "purge-4": 0}
    for key, age in ages.items():
        IdempotencyRecord.objects.filter(key=key).update(created=now - dt.timedelta(seconds=age))

    result = run_purge()

    expired = [key for key, age in ages.items() if age > 3600]
    assert result == {"deleted": len(expired)}
    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == sorted(
        key for key in ages if key not in expired
    )
    assert Customer.objects.count() == 5  # purging records never touches customers


def test_purge_with_nothing_expired_deletes_nothing(api, channel):
    post(api, channel, body_for(30), "fresh")

    assert run_purge() == {"deleted": 0}
    assert IdempotencyRecord.objects.count() == 1
