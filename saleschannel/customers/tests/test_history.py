"""Customer history at `/customers/{id}/history/`: one entry per create, changing update and
delete, with each changed field as [old, new]; newest first, paginated, kept after deletion,
scoped to the channel, and never written by a failed or no-op write."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saleschannel.customers.models import Customer, CustomerHistory
from saleschannel.customers.tests.factories import CustomerFactory
from saleschannel.orders.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

NOT_FOUND = {"detail": "Not found.", "code": "not_found"}
ENTRY_KEYS = {"id", "customer_id", "action", "user", "changes", "created_date"}
# Set by the server on every write: never part of a change record.
UNTRACKED = {"pk", "created_date", "modified_date"}
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")


def list_url(channel) -> str:
    return f"/api/v1/channel/{channel.pk}/customers/"


def detail_url(channel, pk: int) -> str:
    return f"{list_url(channel)}{pk}/"


def history_url(channel, pk: int) -> str:
    return f"{detail_url(channel, pk)}history/"


def new_body(n: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "email": f"hist{n}@example.com",
        "channel_code": f"HIST-{n}",
        "is_active": True,
        "email_allowed": False,
        "sms_allowed": True,
        "call_allowed": False,
        **extra,
    }


def tracked(representation: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in representation.items() if name not in UNTRACKED}


def history(client, channel, pk: int, **params) -> list[dict[str, Any]]:
    response = client.get(history_url(channel, pk), params)
    assert response.status_code == 200, response.content
    return response.json()


def create(client, channel, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(list_url(channel), body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- Entries of each action ----------------------------------------------------------------------


def test_create_records_every_set_field_as_null_to_value(make_client, channel):
    client = make_client(channels=[channel], username="creator")
    body = new_body(
        first_name="Ada",
        attributes={"tier": "gold", "n": 1},
        date_of_birth="1990-01-02",
        gender="female",
    )

    created = create(client, channel, body)
    (entry,) = history(client, channel, created["pk"])

    assert set(entry) == ENTRY_KEYS
    assert (entry["customer_id"], entry["action"], entry["user"]) == (
        created["pk"],
        "create",
        "creator",
    )
    # Every field with a value goes from null to it; a null field did not change.
    assert entry["changes"] == {
        name: [None, value] for name, value in tracked(created).items() if value is not None
    }
    assert entry["changes"]["channel"] == [None, channel.pk]
    assert entry["changes"]["date_of_birth"] == [None, "1990-01-02"]
    assert entry["changes"]["attributes"] == [None, {"tier": "gold", "n": 1}]
    assert ISO_DATETIME.match(entry["created_date"])
    stored = CustomerHistory.objects.get(pk=entry["id"])
    assert (stored.channel_id, stored.customer_id) == (channel.pk, created["pk"])


def test_patch_records_only_the_fields_that_changed(api, channel):
    created = create(api, channel, new_body(first_name="Old", last_name="Same"))
    url = detail_url(channel, created["pk"])

    response = api.patch(
        url,
        {"first_name": "New", "last_name": "Same", "attributes": {"k": [1, 2]}, "is_active": True},
        format="json",
    )
    entries = history(api, channel, created["pk"])

    assert response.status_code == 200
    assert [e["action"] for e in entries] == ["update", "create"]
    assert entries[0]["changes"] == {
        "first_name": ["Old", "New"],
        "attributes": [{}, {"k": [1, 2]}],
    }
    assert entries[0]["customer_id"] == created["pk"]


def test_put_records_the_optional_fields_it_resets_to_their_defaults(api, channel):
    created = create(
        api, channel, new_body(first_name="Ada", erp_code="ERP-1", extra_field={"x": "y"})
    )

    response = api.put(detail_url(channel, created["pk"]), new_body(), format="json")
    latest = history(api, channel, created["pk"])[0]

    assert response.status_code == 200
    assert latest["action"] == "update"
    assert latest["changes"] == {
        "first_name": ["Ada", ""],
        "erp_code": ["ERP-1", None],
        "extra_field": [{"x": "y"}, {}],
    }


@pytest.mark.parametrize(
    "patch",
    [
        pytest.param({}, id="empty-body"),
        pytest.param({"first_name": "Same", "is_active": True}, id="same-values"),
        pytest.param({"attributes": {"b": 2, "a": 1}}, id="same-object-other-key-order"),
    ],
)
def test_an_update_that_changes_nothing_records_nothing(api, channel, patch):
    created = create(api, channel, new_body(first_name="Same", attributes={"a": 1, "b": 2}))

    response = api.patch(detail_url(channel, created["pk"]), patch, format="json")

    assert response.status_code == 200
    assert [e["action"] for e in history(api, channel, created["pk"])] == ["create"]


def test_delete_records_every_value_to_null_and_history_stays_readable(api, channel):
    created = create(api, channel, new_body(first_name="Gone", erp_code="E-9"))
    url = detail_url(channel, created["pk"])
    api.patch(url, {"last_name": "Later"}, format="json")
    last_state = api.get(url).json()

    response = api.delete(url)
    entries = history(api, channel, created["pk"])

    assert response.status_code == 204
    assert not Customer.objects.filter(pk=created["pk"]).exists()
    assert [e["action"] for e in entries] == ["delete", "update", "create"]
    assert entries[0]["changes"] == {
        name: [value, None] for name, value in tracked(last_state).items() if value is not None
    }
    assert entries[0]["customer_id"] == created["pk"]


def test_entries_name_the_user_who_made_each_change(make_client, channel):
    alice = make_client(channels=[channel], username="alice")
    bob = make_client(channels=[channel], username="bob")
    created = create(alice, channel, new_body())
    url = detail_url(channel, created["pk"])

    bob.patch(url, {"first_name": "ByBob"}, format="json")
    alice.patch(url, {"first_name": "ByAlice"}, format="json")
    bob.delete(url)

    entries = history(alice, channel, created["pk"])
    assert [(e["action"], e["user"]) for e in entries] == [
        ("delete", "bob"),
        ("update", "alice"),
        ("update", "bob"),
        ("create", "alice"),
    ]


def test_the_username_stays_after_the_user_is_deleted(make_client, channel):
    writer = make_client(channels=[channel], username="leaver")
    reader = make_client(superuser=True, username="reader")
    created = create(writer, channel, new_body())
    CustomerHistory.objects.get().actor.delete()

    (entry,) = history(reader, channel, created["pk"])

    assert entry["user"] == "leaver"


# --- Failed writes record nothing ---------------------------------------------------------------


def test_a_rejected_write_records_nothing_and_changes_nothing(api, channel):
    created = create(api, channel, new_body(1, first_name="Kept"))
    create(api, channel, new_body(2))
    url = detail_url(channel, created["pk"])
    OrderFactory(customer=Customer.objects.get(pk=created["pk"]))
    before = Customer.objects.filter(pk=created["pk"]).values().get()

    rejected = [
        api.patch(url, {"email": "not-an-email"}, format="json"),
        api.patch(url, {"first_name": "Lost", "email": "hist2@example.com"}, format="json"),
        api.put(
            url, {**new_body(1), "channel_code": "HIST-2", "first_name": "Lost"}, format="json"
        ),
        api.delete(url),
    ]

    assert [(r.status_code, r.json()["code"]) for r in rejected] == [
        (400, "invalid"),
        (400, "unique"),
        (400, "unique"),
        (400, "protected"),
    ]
    assert [e["action"] for e in history(api, channel, created["pk"])] == ["create"]
    assert Customer.objects.filter(pk=created["pk"]).values().get() == before


# --- Pagination and order -----------------------------------------------------------------------


def test_history_is_newest_first_and_paginated_like_the_lists(api, channel):
    created = create(api, channel, new_body(first_name="V0"))
    url = detail_url(channel, created["pk"])
    for n in range(1, 12):
        api.patch(url, {"first_name": f"V{n}"}, format="json")
    everything = history(api, channel, created["pk"], limit=100)
    ids = [entry["id"] for entry in everything]

    pages = [
        api.get(history_url(channel, created["pk"]), {"limit": 5, "page": p}) for p in (1, 2, 3)
    ]
    past_the_end = api.get(history_url(channel, created["pk"]), {"limit": 5, "page": 4})

    assert len(everything) == 12
    assert ids == sorted(ids, reverse=True)
    assert [e["changes"]["first_name"] for e in everything[:-1]] == [
        [f"V{n - 1}", f"V{n}"] for n in range(11, 0, -1)
    ]
    assert [e for page in pages for e in page.json()] == everything
    assert [len(page.json()) for page in pages] == [5, 5, 2]
    assert all(page["X-Total-Count"] == "12" for page in pages)
    assert 'rel="next"' in pages[0]["Link"] and 'rel="prev"' not in pages[0]["Link"]
    assert 'rel="next"' in pages[1]["Link"] and 'rel="prev"' in pages[1]["Link"]
    assert 'rel="next"' not in pages[2]["Link"] and 'rel="prev"' in pages[2]["Link"]
    assert (past_the_end.status_code, past_the_end.json()) == (
        404,
        {"detail": "Invalid page.", "code": "not_found"},
    )


def test_default_page_holds_ten_entries(api, channel):
    created = create(api, channel, new_body(first_name="V0"))
    for n in range(1, 12):
        api.patch(detail_url(channel, created["pk"]), {"first_name": f"V{n}"}, format="json")

    response = api.get(history_url(channel, created["pk"]))

    assert len(response.json()) == 10
    assert response["X-Total-Count"] == "12"


@pytest.mark.parametrize("limit", ["0", "1001", "x"])
def test_a_bad_limit_is_a_400(api, channel, limit):
    created = create(api, channel, new_body())

    response = api.get(history_url(channel, created["pk"]), {"limit": limit})

    assert response.status_code == 400
    assert set(response.json()) == {"limit", "code"}


def test_history_is_served_without_the_trailing_slash(api, channel):
    created = create(api, channel, new_body())

    response = api.get(history_url(channel, created["pk"]).rstrip("/"))

    assert response.status_code == 200
    assert [e["action"] for e in response.json()] == ["create"]


# --- Scope and 404s ------------------------------------------------------------------------------


def test_a_customer_without_history_lists_an_empty_page(api, channel):
    customer = CustomerFactory(channel=channel)  # written outside the API: no history

    response = api.get(history_url(channel, customer.pk))

    assert (response.status_code, response.json(), response["X-Total-Count"]) == (200, [], "0")


def test_an_unknown_customer_with_no_history_is_404(api, channel):
    customer = CustomerFactory(channel=channel)

    response = api.get(history_url(channel, customer.pk + 1000))

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("deleted", [False, True], ids=["existing", "deleted"])
def test_history_through_another_channels_url_is_404(api, channel, other_channel, deleted):
    created = create(api, channel, new_body())
    if deleted:
        api.delete(detail_url(channel, created["pk"]))

    response = api.get(history_url(other_channel, created["pk"]))

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_history_of_a_channel_not_granted_is_404_and_read_only_users_can_read_it(
    make_client, channel, other_channel
):
    writer = make_client(channels=[channel], username="writer")
    outsider = make_client(channels=[other_channel], username="outsider")
    reader = make_client(channels=[channel], read_only=True, username="reader")
    created = create(writer, channel, new_body())

    hidden = outsider.get(history_url(channel, created["pk"]))
    visible = reader.get(history_url(channel, created["pk"]))

    assert (hidden.status_code, hidden.json()) == (404, NOT_FOUND)
    assert visible.status_code == 200
    assert [(e["action"], e["user"]) for e in visible.json()] == [("create", "writer")]


def test_history_without_a_token_is_401(anon, api, channel):
    created = create(api, channel, new_body())

    response = anon.get(history_url(channel, created["pk"]))

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_history_is_read_only(api, channel, method):
    created = create(api, channel, new_body())

    response = getattr(api, method)(history_url(channel, created["pk"]), {}, format="json")

    assert (response.status_code, response.json()["code"]) == (405, "method_not_allowed")
    assert CustomerHistory.objects.count() == 1


# --- Replaying history rebuilds the customer ----------------------------------------------------

PATCHES = st.fixed_dictionaries(
    {},
    optional={
        "first_name": st.sampled_from(["A", "B", "C"]),
        "is_active": st.booleans(),
        "attributes": st.sampled_from([{}, {"k": 1}, {"k": 2}]),
        "date_of_birth": st.sampled_from([None, "2000-01-01", "2001-02-03"]),
    },
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(patches=st.lists(PATCHES, max_size=6))
def test_history_records_exactly_the_diff_of_each_patch(api, channel, patches):
    n = Customer.objects.count() + 1000
    created = create(api, channel, new_body(n, first_name="A"))
    pk, state = created["pk"], tracked(created)
    url = detail_url(channel, pk)
    expected: list[dict[str, list[Any]]] = []
    for patch in patches:
        response = api.patch(url, patch, format="json")
        assert response.status_code == 200
        changes = {k: [state[k], v] for k, v in patch.items() if state[k] != v}
        if changes:
            expected.append(changes)
        state = tracked(response.json())

    updates = [e for e in history(api, channel, pk, limit=100) if e["action"] == "update"]

    assert [e["changes"] for e in reversed(updates)] == expected
