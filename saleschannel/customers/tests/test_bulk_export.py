"""`manage.py export_customers`: the API's representation and filters, streamed in pk order,
and a round trip through `import_customers` into an empty channel, field for field."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from saleschannel.customers.bulk import WRITABLE_FIELDS, customers_export
from saleschannel.customers.models import Customer
from saleschannel.customers.serializers import CustomerSerializer

from .factories import CustomerFactory

SERVER_SET = {"pk", "channel", "created_date", "modified_date"}


def export(channel_id: int, *options: str) -> tuple[str, str]:
    """(stdout, stderr) of the command."""
    out, err = io.StringIO(), io.StringIO()
    call_command("export_customers", str(channel_id), *options, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def representation(channel) -> dict[str, dict[str, Any]]:
    """The API's representation of the channel's customers without server-set fields."""
    customers = Customer.objects.filter(channel=channel).order_by("pk")
    return {
        data["channel_code"]: {key: value for key, value in data.items() if key not in SERVER_SET}
        for data in CustomerSerializer(customers, many=True).data
    }


@pytest.fixture
def varied(channel):
    """Customers with unicode, nulls, empty and nested JSON, offsets and microseconds."""
    specs = [
        {
            "email": "cagri@örnek.com",
            "first_name": "Çağrı",
            "last_name": 'Öztürk, "Jr"\nII',
            "phone_number": None,
            "erp_code": None,
            "attributes": {"sizes": [1, 2.5, -0.001], "nested": {"ü": None, "t": True}},
            "attribute_kwargs": {},
            "localized_attributes": {"tr": {"ad": "Şule"}, "en": {"name": "Shule"}},
            "localized_attribute_kwargs": {"x": [[], {}]},
            "extra_field": {"big": 2**62, "emoji": "🎉", "quote": 'a,b"c'},
            "date_joined": dt.datetime(2021, 3, 4, 5, 6, 7, 890123, tzinfo=dt.UTC),
            "gender": "female",
            "user_type": "registered",
            "date_of_birth": dt.date(1988, 2, 29),
            "is_active": False,
            "email_allowed": True,
            "sms_allowed": False,
            "call_allowed": True,
        },
        {
            "email": "Plain@Example.com",
            "first_name": "",
            "last_name": "",
            "phone_number": "+90 555 000 11 22",
            "erp_code": "ERP-7",
            "gender": None,
            "user_type": None,
            "date_joined": None,
            "date_of_birth": None,
        },
        {"email": "third@example.com", "channel_code": "code with spaces & ünï"},
    ]
    return [CustomerFactory(channel=channel, **spec) for spec in specs]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_then_import_into_an_empty_channel_gives_the_same_customers(
    channel, other_channel, varied, tmp_path, fmt
):
    path = tmp_path / f"customers.{fmt}"

    _, err = export(channel.pk, "-o", str(path))
    out = io.StringIO()
    call_command("import_customers", str(other_channel.pk), str(path), stdout=out)

    assert json.loads(err)["exported"] == len(varied)
    assert json.loads(out.getvalue())["created"] == len(varied)
    assert representation(other_channel) == representation(channel)


def test_jsonl_export_is_the_apis_representation_of_every_writable_field_in_pk_order(
    api, channel, varied
):
    out, err = export(channel.pk)

    lines = [json.loads(line) for line in out.splitlines()]
    listed = api.get(f"/api/v1/channel/{channel.pk}/customers/").json()
    assert lines == [
        {key: value for key, value in item.items() if key not in SERVER_SET} for item in listed
    ]
    assert [list(line) for line in lines] == [WRITABLE_FIELDS] * len(varied)
    summary = json.loads(err)
    assert set(summary) == {"exported", "seconds"}
    assert summary["exported"] == len(varied)


def test_csv_export_writes_booleans_json_text_and_null_as_an_empty_cell(channel, varied):
    out, _ = export(channel.pk, "--format", "csv")

    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == WRITABLE_FIELDS
    first, second = rows[0], rows[1]
    assert first["last_name"] == 'Öztürk, "Jr"\nII'
    assert first["phone_number"] == ""
    assert (first["is_active"], first["email_allowed"]) == ("false", "true")
    assert json.loads(first["attributes"]) == varied[0].attributes
    assert first["date_joined"] == "2021-03-04T05:06:07.890123Z"
    assert first["date_of_birth"] == "1988-02-29"
    assert second["first_name"] == ""
    assert second["attribute_kwargs"] == "{}"
    assert second["gender"] == ""


def test_export_filters_are_the_apis_list_filters(api, channel):
    for n in range(12):
        CustomerFactory(
            channel=channel,
            is_active=n % 2 == 0,
            attributes={"color": "red" if n % 3 == 0 else "blue"},
            email=f"{'ali' if n < 6 else 'veli'}{n}@example.com",
        )
    filters = ["is_active=true", "attributes__color=red", "email__startswith=ali"]

    out, err = export(channel.pk, *[arg for item in filters for arg in ("--filter", item)])

    query = "&".join(filters)
    listed = api.get(f"/api/v1/channel/{channel.pk}/customers/?{query}&limit=100").json()
    assert [json.loads(line)["channel_code"] for line in out.splitlines()] == [
        item["channel_code"] for item in listed
    ]
    assert len(listed) == 1
    assert json.loads(err)["exported"] == 1


def test_a_bad_filter_value_is_an_error_with_the_apis_message(api, channel):
    with pytest.raises(CommandError) as raised:
        export(channel.pk, "--filter", "is_active=maybe", "--filter", "pk__in=1,x")

    body = api.get(f"/api/v1/channel/{channel.pk}/customers/?is_active=maybe&pk__in=1,x").json()
    assert json.loads(str(raised.value)) == body
    assert body["code"] == "invalid"


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("colour=red", "--filter colour: not a filter of the customer list."),
        ("sort=-email", "--filter sort: exports are the whole result, in pk order."),
        ("is_active", "--filter 'is_active': expected KEY=VALUE."),
    ],
)
def test_a_filter_that_is_not_one_is_an_error(channel, argument, message):
    with pytest.raises(CommandError, match="^" + re.escape(message)):
        export(channel.pk, "--filter", argument)


def test_export_reads_in_chunks_and_keeps_pk_order(channel, other_channel):
    made = [CustomerFactory(channel=channel) for _ in range(7)]
    CustomerFactory(channel=other_channel)
    stream = io.BytesIO()

    count = customers_export(channel=channel, params={}, stream=stream, chunk_size=3)

    codes = [json.loads(line)["channel_code"] for line in stream.getvalue().splitlines()]
    assert count == 7
    assert codes == [customer.channel_code for customer in sorted(made, key=lambda c: c.pk)]


def test_export_to_a_file_leaves_no_temporary_file(channel, varied, tmp_path):
    export(channel.pk, "-o", str(tmp_path / "out.jsonl"))

    assert [path.name for path in tmp_path.iterdir()] == ["out.jsonl"]
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == len(varied)


def test_export_of_an_unknown_channel_is_an_error(db):
    with pytest.raises(CommandError, match=r"^Channel 424242 does not exist\.$"):
        export(424242)


def test_an_empty_string_and_null_are_both_an_empty_csv_cell(channel, tmp_path, other_channel):
    CustomerFactory(channel=channel, phone_number="", erp_code=None)
    path = Path(tmp_path / "c.csv")

    export(channel.pk, "-o", str(path))
    call_command("import_customers", str(other_channel.pk), str(path), stdout=io.StringIO())

    row = next(csv.DictReader(path.open(encoding="utf-8", newline="")))
    assert (row["phone_number"], row["erp_code"]) == ("", "")
    imported = Customer.objects.get(channel=other_channel)
    assert (imported.phone_number, imported.erp_code) == (None, None)
