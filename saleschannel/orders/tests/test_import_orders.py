"""`manage.py import_orders`: JSON Lines upsert by number, bad-line reports, --atomic, summary."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Max, Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saleschannel.customers.models import Customer
from saleschannel.customers.tests.factories import CustomerFactory
from saleschannel.orders.models import Order
from saleschannel.orders.services import MAX_LINE_BYTES, MAX_REPORTED_ERRORS, order_line_parse
from saleschannel.orders.tests.factories import OrderFactory

SUMMARY_KEYS = {"created", "updated", "unchanged", "failed", "errors"}


@dataclass
class Run:
    summary: dict[str, Any]
    stdout: str
    stderr: str
    returncode: int


def write_jsonl(tmp_path: Path, lines: list[Any], name: str = "orders.jsonl") -> Path:
    """Dicts are written as JSON; str and bytes lines are written as they are."""
    path = tmp_path / name
    with path.open("wb") as handle:
        for line in lines:
            if isinstance(line, bytes):
                handle.write(line + b"\n")
            elif isinstance(line, str):
                handle.write(line.encode() + b"\n")
            else:
                handle.write(json.dumps(line).encode() + b"\n")
    return path


def run_import(channel_id: int, path: Path | str, *options: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    returncode = 0
    try:
        call_command("import_orders", str(channel_id), str(path), *options, stdout=out, stderr=err)
    except CommandError as exc:
        returncode = exc.returncode
        err.write(f"CommandError: {exc}\n")
    stdout = out.getvalue()
    return Run(json.loads(stdout), stdout, err.getvalue(), returncode)


def order_line(owner: Customer, number: str, /, **overrides: Any) -> dict[str, Any]:
    """A valid line for `owner`; `overrides` replace or add keys (a key set to None stays)."""
    line = {
        "number": number,
        "customer": owner.pk,
        "amount": "100.00",
        "status": "400",
        "currency": "TRY",
    }
    line.update(overrides)
    return line


def stored(channel) -> dict[str, dict[str, Any]]:
    return {
        order["number"]: order
        for order in Order.objects.filter(channel=channel).values(
            "number",
            "customer_id",
            "status",
            "currency",
            "amount",
            "discount_amount",
            "refund_amount",
            "created_date",
            "modified_date",
        )
    }


@pytest.fixture
def customer(channel):
    return CustomerFactory(channel=channel)


@pytest.fixture
def other_customer(other_channel):
    return CustomerFactory(channel=other_channel)


# --- Happy path ---------------------------------------------------------------------------


def test_import_creates_every_order_with_exact_values(channel, customer, tmp_path):
    second = CustomerFactory(channel=channel)
    path = write_jsonl(
        tmp_path,
        [
            order_line(
                customer,
                "ORD-1",
                amount="120.50",
                discount_amount="10.05",
                refund_amount=0.1,
                currency="try",
                status="550",
                created_date="2024-05-01T10:00:00+03:00",
            ),
            order_line(
                second,
                "ORD-2",
                amount=7,
                currency="eUr",
                created_date="2023-12-31T23:59:59.123456Z",
            ),
        ],
    )

    run = run_import(channel.pk, path)

    assert run.summary == {"created": 2, "updated": 0, "unchanged": 0, "failed": 0, "errors": []}
    assert run.returncode == 0
    assert run.stderr == ""
    rows = stored(channel)
    assert set(rows) == {"ORD-1", "ORD-2"}
    first = rows["ORD-1"]
    assert first["customer_id"] == customer.pk
    assert first["status"] == "550"
    assert first["currency"] == "TRY"
    assert (first["amount"], first["discount_amount"], first["refund_amount"]) == (
        Decimal("120.50"),
        Decimal("10.05"),
        Decimal("0.10"),
    )
    assert first["created_date"] == dt.datetime(2024, 5, 1, 7, 0, tzinfo=dt.UTC)
    other = rows["ORD-2"]
    assert other["customer_id"] == second.pk
    assert other["currency"] == "EUR"
    assert other["status"] == "400"
    assert (other["amount"], other["discount_amount"], other["refund_amount"]) == (
        Decimal("7.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    )
    assert other["created_date"] == dt.datetime(2023, 12, 31, 23, 59, 59, 123456, tzinfo=dt.UTC)


def test_summary_is_one_json_document_on_stdout(channel, customer, tmp_path):
    path = write_jsonl(tmp_path, [order_line(customer, "A"), "not json"])

    run = run_import(channel.pk, path)

    assert run.stdout.count("\n") == 1
    assert run.stdout.endswith("\n")
    assert set(json.loads(run.stdout)) == SUMMARY_KEYS
    assert run.summary["created"] == 1
    assert run.summary["failed"] == 1


def test_created_date_defaults_to_the_import_time(channel, customer, tmp_path):
    path = write_jsonl(tmp_path, [order_line(customer, "NOW-1")])
    before = timezone.now()

    run_import(channel.pk, path)

    after = timezone.now()
    created = Order.objects.get(channel=channel, number="NOW-1").created_date
    assert before <= created <= after


def test_naive_created_date_is_read_as_utc(channel, customer, tmp_path):
    path = write_jsonl(tmp_path, [order_line(customer, "N", created_date="2024-01-02T03:04:05")])

    run_import(channel.pk, path)

    assert Order.objects.get(number="N").created_date == dt.datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC
    )


@pytest.mark.parametrize("key", ["customer", "customer_channel_code"])
def test_customer_is_found_by_pk_or_by_channel_code(channel, tmp_path, key):
    CustomerFactory(channel=channel)  # a decoy customer in the same channel
    target = CustomerFactory(channel=channel, channel_code="MP-77")
    line = order_line(target, "ORD-C")
    del line["customer"]
    line[key] = target.pk if key == "customer" else target.channel_code
    path = write_jsonl(tmp_path, [line])

    run = run_import(channel.pk, path)

    assert run.summary["created"] == 1
    assert Order.objects.get(channel=channel, number="ORD-C").customer_id == target.pk


def test_customer_given_as_null_lets_channel_code_decide(channel, customer, tmp_path):
    line = order_line(
        customer, "NULLPK", customer=None, customer_channel_code=customer.channel_code
    )
    path = write_jsonl(tmp_path, [line])

    run = run_import(channel.pk, path)

    assert run.summary["created"] == 1
    assert Order.objects.get(number="NULLPK").customer_id == customer.pk


def test_blank_lines_and_a_byte_order_mark_are_skipped_but_counted(channel, customer, tmp_path):
    path = tmp_path / "bom.jsonl"
    good = json.dumps(order_line(customer, "B1")).encode()
    path.write_bytes(b"\xef\xbb\xbf" + good + b"\n\n   \r\n" + b"{bad\n" + b"\n")

    run = run_import(channel.pk, path)

    assert run.summary["created"] == 1
    assert run.summary["failed"] == 1
    assert [error["line"] for error in run.summary["errors"]] == [4]


def test_file_without_trailing_newline_imports_its_last_line(channel, customer, tmp_path):
    path = tmp_path / "nonl.jsonl"
    path.write_text(
        json.dumps(order_line(customer, "L1")) + "\n" + json.dumps(order_line(customer, "L2"))
    )

    run = run_import(channel.pk, path)

    assert run.summary["created"] == 2
    assert set(stored(channel)) == {"L1", "L2"}


def test_dash_reads_standard_input(channel, customer, monkeypatch):
    data = json.dumps(order_line(customer, "STDIN-1")).encode() + b"\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

    run = run_import(channel.pk, "-")

    assert run.summary["created"] == 1
    assert Order.objects.filter(channel=channel, number="STDIN-1").exists()


# --- Bad lines ----------------------------------------------------------------------------


def _json_error(text: str) -> str:
    try:
        json.loads(text)
    except ValueError as exc:
        return f"JSON parse error - {exc}"
    raise AssertionError(f"{text!r} is valid JSON")


def _unknown_customer_pk(owner: Customer) -> tuple[dict[str, Any], dict[str, list[str]]]:
    missing = Customer.objects.aggregate(top=Max("pk"))["top"] + 1000
    return (
        order_line(owner, "X", customer=missing),
        {"customer": [f'Invalid pk "{missing}" - object does not exist.']},
    )


# Each case: (the bad line, built from the fixtures) -> the exact errors expected for it.
BAD_LINES = {
    "invalid_json": lambda c, o: (
        '{"number": "X",',
        {"non_field_errors": [_json_error('{"number": "X",')]},
    ),
    "not_an_object": lambda c, o: (
        "[1, 2]",
        {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
    ),
    "a_string": lambda c, o: (
        '"ORD-1"',
        {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
    ),
    "nan_amount": lambda c, o: (
        json.dumps(order_line(c, "X", amount=float("nan"))),
        {"non_field_errors": ["JSON parse error - NaN is not valid JSON"]},
    ),
    "invalid_utf8": lambda c, o: (
        b'{"number": "\xff"}',
        {"non_field_errors": ["JSON parse error - invalid UTF-8 at byte 12"]},
    ),
    "lone_surrogate": lambda c, o: (
        json.dumps(order_line(c, "X\ud800")),
        {"non_field_errors": ["JSON parse error - lone surrogate in a string"]},
    ),
    "missing_number": lambda c, o: (
        {k: v for k, v in order_line(c, "X").items() if k != "number"},
        {"number": ["This field is required."]},
    ),
    "blank_number": lambda c, o: (
        order_line(c, "  "),
        {"number": ["This field may not be blank."]},
    ),
    "long_number": lambda c, o: (
        order_line(c, "N" * 129),
        {"number": ["Ensure this field has no more than 128 characters."]},
    ),
    "nul_in_number": lambda c, o: (
        order_line(c, "A\x00B"),
        {"number": ["Null characters are not allowed."]},
    ),
    "missing_amount": lambda c, o: (
        {k: v for k, v in order_line(c, "X").items() if k != "amount"},
        {"amount": ["This field is required."]},
    ),
    "negative_amount": lambda c, o: (
        order_line(c, "X", amount="-0.01"),
        {"amount": ["Ensure this value is greater than or equal to 0."]},
    ),
    "three_places": lambda c, o: (
        order_line(c, "X", discount_amount="1.005"),
        {"discount_amount": ["Ensure that there are no more than 2 decimal places."]},
    ),
    "thirteen_digits": lambda c, o: (
        order_line(c, "X", refund_amount="12345678901.00"),
        {"refund_amount": ["Ensure that there are no more than 12 digits in total."]},
    ),
    "text_amount": lambda c, o: (
        order_line(c, "X", amount="ten"),
        {"amount": ["A valid number is required."]},
    ),
    "boolean_amount": lambda c, o: (
        order_line(c, "X", amount=True),
        {"amount": ["A valid number is required."]},
    ),
    "missing_status": lambda c, o: (
        {k: v for k, v in order_line(c, "X").items() if k != "status"},
        {"status": ["This field is required."]},
    ),
    "long_status": lambda c, o: (
        order_line(c, "X", status="123456789"),
        {"status": ["Ensure this field has no more than 8 characters."]},
    ),
    "two_letter_currency": lambda c, o: (
        order_line(c, "X", currency="TR"),
        {"currency": ["Enter a valid ISO 4217 currency code (three letters)."]},
    ),
    "digit_in_currency": lambda c, o: (
        order_line(c, "X", currency="T1Y"),
        {"currency": ["Enter a valid ISO 4217 currency code (three letters)."]},
    ),
    "missing_currency": lambda c, o: (
        {k: v for k, v in order_line(c, "X").items() if k != "currency"},
        {"currency": ["This field is required."]},
    ),
    "impossible_date": lambda c, o: (
        order_line(c, "X", created_date="2024-02-30T10:00:00Z"),
        {
            "created_date": [
                "Datetime has wrong format. Use one of these formats instead: "
                "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
            ]
        },
    ),
    "unknown_key": lambda c, o: (
        order_line(c, "X", colour="red"),
        {"colour": ["This field is not allowed."]},
    ),
    "no_customer": lambda c, o: (
        {k: v for k, v in order_line(c, "X").items() if k != "customer"},
        {"non_field_errors": ["Exactly one of customer and customer_channel_code is required."]},
    ),
    "both_customer_keys": lambda c, o: (
        order_line(c, "X", customer_channel_code=c.channel_code),
        {"non_field_errors": ["Give either customer or customer_channel_code, not both."]},
    ),
    "text_customer": lambda c, o: (
        order_line(c, "X", customer="abc"),
        {"customer": ["A valid integer is required."]},
    ),
    "unknown_customer_pk": lambda c, o: _unknown_customer_pk(c),
    "unknown_channel_code": lambda c, o: (
        {
            **{k: v for k, v in order_line(c, "X").items() if k != "customer"},
            "customer_channel_code": "NOPE",
        },
        {"customer_channel_code": ["Object with channel_code=NOPE does not exist."]},
    ),
    "other_channels_customer": lambda c, o: (
        order_line(o, "X"),
        {"customer": [f"Customer {o.pk} belongs to another channel."]},
    ),
    "other_channels_channel_code": lambda c, o: (
        {
            **{k: v for k, v in order_line(c, "X").items() if k != "customer"},
            "customer_channel_code": o.channel_code,
        },
        {"customer_channel_code": [f"Object with channel_code={o.channel_code} does not exist."]},
    ),
}


@pytest.mark.parametrize("kind", list(BAD_LINES))
def test_bad_line_is_reported_with_its_number_and_not_written(
    channel, customer, other_customer, tmp_path, kind
):
    bad, expected = BAD_LINES[kind](customer, other_customer)
    path = write_jsonl(
        tmp_path, [order_line(customer, "GOOD-1"), bad, order_line(customer, "GOOD-3")]
    )
    orders_before = Order.objects.count()

    run = run_import(channel.pk, path)

    assert run.summary == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
        "errors": [{"line": 2, "errors": expected}],
    }
    assert run.returncode == 1
    assert f"line 2: {json.dumps(expected, separators=(',', ':'))}" in run.stderr
    assert run.stderr.endswith("CommandError: 1 line was not imported.\n")
    assert set(stored(channel)) == {"GOOD-1", "GOOD-3"}
    assert Order.objects.count() == orders_before + 2


def test_one_line_reports_all_of_its_field_errors(channel, customer, tmp_path):
    line = order_line(customer, "X", amount="-1", currency="??", extra=1, other=2)
    del line["status"]
    path = write_jsonl(tmp_path, [line])

    run = run_import(channel.pk, path)

    assert run.summary["errors"] == [
        {
            "line": 1,
            "errors": {
                "amount": ["Ensure this value is greater than or equal to 0."],
                "currency": ["Enter a valid ISO 4217 currency code (three letters)."],
                "status": ["This field is required."],
                "extra": ["This field is not allowed."],
                "other": ["This field is not allowed."],
            },
        }
    ]
    assert not Order.objects.exists()


def test_line_longer_than_the_limit_is_reported_and_the_next_line_imported(
    channel, customer, tmp_path
):
    huge = json.dumps(order_line(customer, "HUGE", padding="x" * MAX_LINE_BYTES))
    path = write_jsonl(tmp_path, [huge, order_line(customer, "AFTER")])

    run = run_import(channel.pk, path)

    assert run.summary["errors"] == [
        {
            "line": 1,
            "errors": {"non_field_errors": [f"Line is longer than {MAX_LINE_BYTES} bytes."]},
        }
    ]
    assert set(stored(channel)) == {"AFTER"}


def test_errors_list_is_capped_but_every_failure_is_counted_and_printed(
    channel, customer, tmp_path
):
    bad_count = MAX_REPORTED_ERRORS + 20
    path = write_jsonl(tmp_path, ["[]"] * bad_count + [order_line(customer, "LAST")])

    run = run_import(channel.pk, path, "--batch-size", "50")

    assert run.summary["failed"] == bad_count
    assert run.summary["created"] == 1
    assert [error["line"] for error in run.summary["errors"]] == list(
        range(1, MAX_REPORTED_ERRORS + 1)
    )
    printed = [line for line in run.stderr.splitlines() if line.startswith("line ")]
    assert [int(line.split(":")[0].split()[1]) for line in printed] == list(range(1, bad_count + 1))


def test_errors_are_reported_in_line_order_within_a_batch(channel, customer, tmp_path):
    # Line 1 fails at the database lookup, line 2 at validation: still reported 1, then 2.
    path = write_jsonl(
        tmp_path,
        [
            {
                **{k: v for k, v in order_line(customer, "A").items() if k != "customer"},
                "customer_channel_code": "MISSING",
            },
            "[]",
        ],
    )

    run = run_import(channel.pk, path)

    assert [error["line"] for error in run.summary["errors"]] == [1, 2]
    assert run.stderr.index("line 1:") < run.stderr.index("line 2:")


# --- Transactions: batches and --atomic ---------------------------------------------------


def test_atomic_with_one_bad_line_writes_nothing(channel, customer, tmp_path):
    existing = OrderFactory(customer=customer, number="KEEP", amount=Decimal("1.00"))
    lines = [order_line(customer, f"AT-{i}") for i in range(5)]
    lines.append(order_line(customer, "KEEP", amount="2.00"))  # would update
    lines.append(order_line(customer, "BAD", amount="-5"))
    path = write_jsonl(tmp_path, lines)

    run = run_import(channel.pk, path, "--atomic", "--batch-size", "2")

    assert run.summary == {
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
        "errors": [
            {"line": 7, "errors": {"amount": ["Ensure this value is greater than or equal to 0."]}}
        ],
    }
    assert run.returncode == 1
    assert "nothing was written" in run.stderr
    assert list(Order.objects.filter(channel=channel).values_list("number", "amount")) == [
        ("KEEP", Decimal("1.00"))
    ]
    existing.refresh_from_db()
    assert existing.amount == Decimal("1.00")


def test_atomic_reports_every_bad_line_after_the_first(channel, customer, tmp_path):
    path = write_jsonl(
        tmp_path,
        ["[]", order_line(customer, "OK"), order_line(customer, "N2", customer=10**12), "{"],
    )

    run = run_import(channel.pk, path, "--atomic", "--batch-size", "1")

    assert [error["line"] for error in run.summary["errors"]] == [1, 3, 4]
    assert run.summary["failed"] == 3
    assert not Order.objects.exists()


def test_atomic_without_bad_lines_imports_everything(channel, customer, tmp_path):
    path = write_jsonl(tmp_path, [order_line(customer, f"OK-{i}") for i in range(5)])

    run = run_import(channel.pk, path, "--atomic", "--batch-size", "2")

    assert run.summary == {"created": 5, "updated": 0, "unchanged": 0, "failed": 0, "errors": []}
    assert run.returncode == 0
    assert Order.objects.filter(channel=channel).count() == 5


def test_without_atomic_batches_before_and_after_a_bad_line_are_written(
    channel, customer, tmp_path
):
    lines = [order_line(customer, f"B-{i}") for i in range(6)]
    lines[3] = "not json"
    path = write_jsonl(tmp_path, lines)

    run = run_import(channel.pk, path, "--batch-size", "2")

    assert run.summary["created"] == 5
    assert run.summary["failed"] == 1
    assert set(stored(channel)) == {f"B-{i}" for i in (0, 1, 2, 4, 5)}


# --- Upsert -------------------------------------------------------------------------------


def test_reimporting_the_same_file_changes_nothing(channel, customer, tmp_path):
    lines = [order_line(customer, f"RE-{i}", amount=f"{i}.5", currency="usd") for i in range(1, 8)]
    lines[0]["created_date"] = "2024-01-01T00:00:00+02:00"
    path = write_jsonl(tmp_path, lines)
    first = run_import(channel.pk, path, "--batch-size", "3")
    before = stored(channel)

    second = run_import(channel.pk, path, "--batch-size", "3")

    assert first.summary["created"] == len(lines)
    assert second.summary == {
        "created": 0,
        "updated": 0,
        "unchanged": len(lines),
        "failed": 0,
        "errors": [],
    }
    assert second.returncode == 0
    assert stored(channel) == before  # modified_date included: no row was written


def test_existing_order_with_the_same_values_is_unchanged(channel, customer, tmp_path):
    order = OrderFactory(customer=customer, number="PRE", amount=Decimal("5.50"), currency="EUR")
    modified = order.modified_date
    line = order_line(customer, "PRE", amount=5.5, currency="eur", status=order.status)
    line["created_date"] = order.created_date.isoformat()
    path = write_jsonl(tmp_path, [line])

    run = run_import(channel.pk, path)

    assert run.summary["unchanged"] == 1
    order.refresh_from_db()
    assert order.modified_date == modified


@pytest.mark.parametrize(
    ("field", "new_value", "stored_value"),
    [
        ("amount", "99.99", Decimal("99.99")),
        ("discount_amount", 3, Decimal("3.00")),
        ("refund_amount", "0.01", Decimal("0.01")),
        ("status", "600", "600"),
        ("currency", "gbp", "GBP"),
        (
            "created_date",
            "2020-06-01T12:00:00Z",
            dt.datetime(2020, 6, 1, 12, 0, tzinfo=dt.UTC),
        ),
    ],
)
def test_changed_values_update_the_order(
    channel, customer, tmp_path, field, new_value, stored_value
):
    original = [order_line(customer, "UP-1"), order_line(customer, "UP-2")]
    run_import(channel.pk, write_jsonl(tmp_path, original, "first.jsonl"))
    before = stored(channel)
    changed = [dict(original[0], **{field: new_value}), original[1]]

    run = run_import(channel.pk, write_jsonl(tmp_path, changed, "second.jsonl"))

    assert run.summary == {"created": 0, "updated": 1, "unchanged": 1, "failed": 0, "errors": []}
    after = stored(channel)
    assert after["UP-1"][field] == stored_value
    assert after["UP-1"]["modified_date"] > before["UP-1"]["modified_date"]
    untouched = {name: value for name, value in after["UP-1"].items() if name != field}
    expected = {name: value for name, value in before["UP-1"].items() if name != field}
    untouched.pop("modified_date")
    expected.pop("modified_date")
    assert untouched == expected
    assert after["UP-2"] == before["UP-2"]


def test_update_can_move_an_order_to_another_customer_of_the_channel(channel, customer, tmp_path):
    other = CustomerFactory(channel=channel)
    run_import(channel.pk, write_jsonl(tmp_path, [order_line(customer, "MOVE")], "a.jsonl"))

    run = run_import(channel.pk, write_jsonl(tmp_path, [order_line(other, "MOVE")], "b.jsonl"))

    assert run.summary["updated"] == 1
    assert Order.objects.get(channel=channel, number="MOVE").customer_id == other.pk


def test_omitted_created_date_keeps_the_stored_one_on_update(channel, customer, tmp_path):
    order = OrderFactory(
        customer=customer, number="KD", created_date=dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    )
    path = write_jsonl(tmp_path, [order_line(customer, "KD", amount="1.23")])

    run = run_import(channel.pk, path)

    assert run.summary["updated"] == 1
    order.refresh_from_db()
    assert order.created_date == dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    assert order.amount == Decimal("1.23")


@pytest.mark.parametrize("batch_size", ["1", "1000"])
def test_a_number_repeated_in_one_file_applies_in_file_order(
    channel, customer, tmp_path, batch_size
):
    path = write_jsonl(
        tmp_path,
        [
            order_line(customer, "DUP", amount="1.00"),
            order_line(customer, "DUP", amount="1.00"),
            order_line(customer, "DUP", amount="2.00"),
        ],
    )

    run = run_import(channel.pk, path, "--batch-size", batch_size)

    assert run.summary == {"created": 1, "updated": 1, "unchanged": 1, "failed": 0, "errors": []}
    assert list(Order.objects.filter(channel=channel).values_list("number", "amount")) == [
        ("DUP", Decimal("2.00"))
    ]


def test_numbers_are_unique_per_channel_only(channel, customer, other_customer, tmp_path):
    theirs = OrderFactory(customer=other_customer, number="SHARED", amount=Decimal("9.00"))
    path = write_jsonl(tmp_path, [order_line(customer, "SHARED", amount="1.00")])

    run = run_import(channel.pk, path)

    assert run.summary["created"] == 1
    assert Order.objects.get(channel=channel, number="SHARED").amount == Decimal("1.00")
    theirs.refresh_from_db()
    assert theirs.amount == Decimal("9.00")


def test_five_thousand_lines_import_in_batches(channel, tmp_path):
    customers = CustomerFactory.create_batch(5, channel=channel)
    count = 5000
    lines = []
    for i in range(count):
        target = customers[i % len(customers)]
        line = order_line(target, f"BULK-{i:05d}", amount=f"{i}.{i % 100:02d}")
        if i % 2:  # every other line names its customer by channel_code
            del line["customer"]
            line["customer_channel_code"] = target.channel_code
        lines.append(line)
    path = write_jsonl(tmp_path, lines)

    run = run_import(channel.pk, path)

    assert run.summary == {
        "created": count,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
        "errors": [],
    }
    orders = Order.objects.filter(channel=channel)
    assert orders.count() == count
    expected_total = sum(Decimal(f"{i}.{i % 100:02d}") for i in range(count))
    assert orders.aggregate(total=Sum("amount"))["total"] == expected_total
    for index, customer in enumerate(customers):
        assert orders.filter(customer=customer).count() == count // len(customers), index


# --- Properties ---------------------------------------------------------------------------

_example = iter(range(10**9))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    amount=st.decimals(
        min_value=Decimal("0"), max_value=Decimal("9999999999.99"), places=2, allow_nan=False
    ),
    as_number=st.booleans(),
    currency=st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3
    ),
)
def test_valid_amounts_and_currencies_are_stored_exactly(
    channel, customer, tmp_path, amount, as_number, currency
):
    number = f"P-{next(_example)}"
    value: Any = amount if as_number else str(amount)
    path = tmp_path / f"{number}.jsonl"
    line = {**order_line(customer, number, currency=currency), "amount": "AMOUNT"}
    text = json.dumps(line).replace('"AMOUNT"', str(value) if as_number else json.dumps(value))
    path.write_text(text + "\n")

    run = run_import(channel.pk, path)

    assert run.summary["created"] == 1, run.summary
    order = Order.objects.get(channel=channel, number=number)
    assert order.amount == amount
    assert order.currency == currency.upper()


# --- Command errors and exit status -------------------------------------------------------


def test_unknown_channel_is_a_command_error(channel, customer, tmp_path):
    path = write_jsonl(tmp_path, [order_line(customer, "X")])
    missing = channel.pk + 1000

    with pytest.raises(CommandError, match=f"Channel {missing} does not exist."):
        call_command("import_orders", str(missing), str(path), stdout=io.StringIO())
    assert not Order.objects.exists()


def test_missing_file_is_a_command_error(channel, tmp_path):
    with pytest.raises(CommandError, match=r"Cannot read .*nope\.jsonl: No such file or directory"):
        call_command("import_orders", str(channel.pk), str(tmp_path / "nope.jsonl"))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["x", "f.jsonl"], "argument channel_id: invalid int value: 'x'"),
        (["1", "f.jsonl", "--batch-size", "0"], "must be an integer from 1 to 10000"),
        (["1", "f.jsonl", "--batch-size", "10001"], "must be an integer from 1 to 10000"),
        ([str(2**63), "f.jsonl"], f"Channel {2**63} does not exist."),
        (["0", "f.jsonl"], "Channel 0 does not exist."),
    ],
)
def test_bad_arguments_are_command_errors(db, arguments, message):
    with pytest.raises(CommandError) as raised:
        call_command("import_orders", *arguments, stdout=io.StringIO())
    assert message in str(raised.value)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("lines", "options", "exit_code", "rows"),
    [
        (["ok", "ok"], [], None, 2),
        (["ok", "bad"], [], 1, 1),
        (["ok", "bad"], ["--atomic"], 1, 0),
    ],
)
def test_exit_status_from_the_command_line(tmp_path, capsys, lines, options, exit_code, rows):
    customer = CustomerFactory()
    content = [
        order_line(customer, f"E-{i}") if kind == "ok" else "not json"
        for i, kind in enumerate(lines)
    ]
    path = write_jsonl(tmp_path, content)
    argv = ["manage.py", "import_orders", str(customer.channel_id), str(path), *options]

    if exit_code is None:
        ManagementUtility(argv).execute()
    else:
        with pytest.raises(SystemExit) as exited:
            ManagementUtility(argv).execute()
        assert exited.value.code == exit_code
    out = capsys.readouterr()
    assert json.loads(out.out)["failed"] == lines.count("bad")
    assert Order.objects.count() == rows


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_imports_of_one_file_create_each_order_once(tmp_path):
    """Both imports insert the same new numbers at once: the loser of each batch reads again."""
    customer = CustomerFactory()
    count = 300
    path = write_jsonl(tmp_path, [order_line(customer, f"C-{i}") for i in range(count)])
    barrier = threading.Barrier(2, timeout=30)

    def run_one(_: int) -> Run:
        try:
            barrier.wait()
            return run_import(customer.channel_id, path, "--batch-size", "50")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(run_one, range(2)))

    assert [run.returncode for run in runs] == [0, 0]
    assert sum(run.summary["created"] for run in runs) == count
    assert sum(run.summary["unchanged"] for run in runs) == count
    assert sum(run.summary["updated"] + run.summary["failed"] for run in runs) == 0
    assert Order.objects.filter(channel_id=customer.channel_id).count() == count


# --- Exact numbers ------------------------------------------------------------------------

# Each case: (a key, the JSON number given for it) -> the exact errors expected for the line.
EXACT_NUMBERS = {
    # Read as a float this is 0.3, a valid amount; read exactly it has 17 digits.
    "amount_with_17_digits": (
        "amount",
        "0.30000000000000001",
        {"amount": ["Ensure that there are no more than 12 digits in total."]},
    ),
    # A number where text is expected: read as a float it would pass as the string "1.1".
    "status_as_a_fraction": ("status", "1.10", {"status": ["Not a valid string."]}),
    # Integers past 64 bits reach the fields, which report them (not a parse error).
    "amount_past_64_bits": (
        "amount",
        str(10**20),
        {"amount": ["Ensure that there are no more than 12 digits in total."]},
    ),
    "customer_past_64_bits": (
        "customer",
        str(2**64),
        {"customer": [f"Ensure this value is less than or equal to {2**63 - 1}."]},
    ),
}


@pytest.mark.parametrize("kind", list(EXACT_NUMBERS))
def test_numbers_are_read_exactly_not_as_floats(channel, customer, tmp_path, kind):
    key, literal, expected = EXACT_NUMBERS[kind]
    rest = {k: v for k, v in order_line(customer, "EXACT").items() if k != key}
    text = json.dumps(rest)[:-1] + f', "{key}": {literal}}}'
    path = write_jsonl(tmp_path, [text, order_line(customer, "NEXT")])

    run = run_import(channel.pk, path)

    assert run.summary == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
        "errors": [{"line": 1, "errors": expected}],
    }
    assert set(stored(channel)) == {"NEXT"}


JSON_NUMBERS = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
)
JSON_DOCUMENTS = st.recursive(
    st.one_of(JSON_NUMBERS, st.text(max_size=5), st.booleans(), st.none()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=50, deadline=None)
@given(document=JSON_DOCUMENTS)
def test_a_line_is_read_with_decimal_fractions_and_unbounded_integers(document):
    text = json.dumps(document)

    value = order_line_parse(raw=text.encode())

    # repr tells Decimal from float and int from float: the values and their types match.
    assert repr(value) == repr(json.loads(text, parse_float=Decimal))


# --- Progress line ------------------------------------------------------------------------


class TerminalStream(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_progress_line_below_the_bad_line_reports(channel, customer, tmp_path):
    path = write_jsonl(tmp_path, [order_line(customer, "T1"), "[]", order_line(customer, "T3")])
    out, err = io.StringIO(), TerminalStream()

    with pytest.raises(CommandError, match=r"^1 line was not imported\.$"):
        call_command(
            "import_orders", str(channel.pk), str(path), stdout=out, stderr=err, no_color=True
        )

    shown = err.getvalue()
    report = '{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}'
    # The progress line is wiped before the report, then drawn again and ended.
    assert f"\r\x1b[Kline 2: {report}\n" in shown
    assert re.fullmatch(r"3 lines  [\d,]+ lines/s  100%\x1b\[K\n", shown.rsplit("\r", 1)[1])
    assert json.loads(out.getvalue())["created"] == 2
    assert set(stored(channel)) == {"T1", "T3"}
