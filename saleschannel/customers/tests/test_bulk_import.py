"""`manage.py import_customers`: upsert by channel_code with the API's validation and errors,
batches, --atomic, CSV cells, interruption, and the fast paths' equivalence with the API."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import exceptions

from saleschannel.core.bulk import Progress, parse_json_line
from saleschannel.core.parsers import loads_strict
from saleschannel.customers.bulk import (
    FastCustomerSerializer,
    ImportInterrupted,
    PlannerStatistics,
    customers_import,
)
from saleschannel.customers.models import Customer
from saleschannel.customers.serializers import CustomerSerializer
from saleschannel.customers.services import UNIQUE_MESSAGES

from .factories import CustomerFactory

SUMMARY_KEYS = {
    "created",
    "updated",
    "unchanged",
    "failed",
    "seconds",
    "rows_per_second",
    "errors",
}
COUNTS = ("created", "updated", "unchanged", "failed")


@dataclass
class Run:
    summary: dict[str, Any]
    stdout: str
    stderr: str
    returncode: int


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_import(channel_id: int, path: Path | str, *options: str, stderr=None) -> Run:
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    returncode = 0
    try:
        call_command(
            "import_customers", str(channel_id), str(path), *options, stdout=out, stderr=err
        )
    except CommandError as exc:
        returncode = exc.returncode
        err.write(f"CommandError: {exc}\n")
    stdout = out.getvalue()
    return Run(json.loads(stdout) if stdout else {}, stdout, err.getvalue(), returncode)


def counts(summary: dict[str, Any]) -> tuple[int, ...]:
    return tuple(summary[key] for key in COUNTS)


def row(n: int, /, **overrides: Any) -> dict[str, Any]:
    """A valid import row (the API's PUT body) for customer number `n`."""
    data = {
        "email": f"person{n}@example.com",
        "channel_code": f"C{n:06d}",
        "first_name": ["Ayşe", "Çağrı", "Zoë", "Li"][n % 4],
        "last_name": f"Öztürk-{n}",
        "phone_number": f"+90555{n:07d}" if n % 3 else None,
        "is_active": n % 2 == 0,
        "email_allowed": n % 3 == 0,
        "sms_allowed": n % 5 == 0,
        "call_allowed": False,
        "erp_code": f"ERP{n}" if n % 4 else None,
        "attributes": {"n": n, "tier": ["gold", "silver"][n % 2], "tags": ["a", {"b": n}]},
        "extra_field": {"source": "import"},
        "date_joined": f"2023-0{1 + n % 9}-1{n % 10}T10:20:30.{n % 1000:03d}+03:00",
        "gender": ["male", "female", None][n % 3],
        "user_type": "registered",
        "date_of_birth": f"19{50 + n % 50}-0{1 + n % 9}-2{n % 8}",
    }
    data.update(overrides)
    return data


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    """Dicts are written as JSON; str and bytes lines as they are."""
    with path.open("wb") as handle:
        for line in lines:
            if isinstance(line, bytes):
                handle.write(line + b"\n")
            elif isinstance(line, str):
                handle.write(line.encode() + b"\n")
            else:
                handle.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
    return path


def parsed(name: str, value: Any) -> Any:
    """What the database holds for a valid input value."""
    if value is None:
        return None
    if name == "date_joined":
        return dt.datetime.fromisoformat(value)
    if name == "date_of_birth":
        return dt.date.fromisoformat(value)
    return value


def assert_stored(customer: Customer, data: dict[str, Any]) -> None:
    for name, value in data.items():
        assert getattr(customer, name) == parsed(name, value), name


def snapshot(channel) -> dict[str, tuple]:
    return {
        code: (pk, version, modified, created)
        for code, pk, version, modified, created in Customer.objects.filter(
            channel=channel
        ).values_list("channel_code", "pk", "version", "modified_date", "created_date")
    }


def api_error(api, channel, body: Any) -> dict[str, Any]:
    """The API's 400 body for a POST of `body` (raw bytes are sent as they are)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = api.post(
        f"/api/v1/channel/{channel.pk}/customers/", data=raw, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    return response.json()


# --- The 10,000-row import ----------------------------------------------------------------


def test_10k_row_import_creates_the_valid_rows_and_reports_each_bad_row_as_the_api_does(
    api, channel, tmp_path
):
    holder = CustomerFactory(channel=channel, email="taken@example.com", channel_code="HOLDER")
    lines: list[Any] = [row(n) for n in range(1, 10_001)]
    bad = {
        17: {key: value for key, value in row(17).items() if key != "is_active"},
        1500: row(1500, email="not-an-email"),
        2222: row(2222, gender="unknown"),
        2500: row(2500, channel_code=lines[2000]["channel_code"]),  # repeats line 2001's code
        4321: row(4321, email="TAKEN@Example.com"),
        6000: b'{"email": "broken@example.com", "channel_code": "X"',
        7777: row(7777, attributes=["not", "an", "object"]),
        9999: row(9999, extra_field="text"),
    }
    for lineno, bad_line in bad.items():
        lines[lineno - 1] = bad_line
    path = write_jsonl(tmp_path / "customers.jsonl", lines)

    run = run_import(channel.pk, path)

    created = 10_000 - len(bad)
    assert counts(run.summary) == (created, 0, 0, len(bad))
    assert run.returncode == 1
    expected_errors = []
    for lineno, bad_line in bad.items():
        body = api_error(api, channel, bad_line)
        if "detail" in body:  # a body the API cannot parse: the same message, for the line
            body = {"non_field_errors": [body["detail"]], "code": body["code"]}
        expected_errors.append({"line": lineno, "errors": body})
    assert run.summary["errors"] == expected_errors
    assert [error["errors"]["code"] for error in expected_errors] == [
        "required",
        "invalid",
        "invalid_choice",
        "unique",
        "unique",
        "parse_error",
        "not_an_object",
        "not_an_object",
    ]
    assert run.stderr.splitlines()[: len(bad)] == [
        f"line {error['line']}: "
        + json.dumps(error["errors"], separators=(",", ":"), ensure_ascii=False)
        for error in expected_errors
    ]
    stored = {c.channel_code: c for c in Customer.objects.filter(channel=channel)}
    assert len(stored) == created + 1
    assert stored["HOLDER"].email == holder.email
    for lineno in (1, 2, 999, 1000, 1001, 2001, 5000, 9998, 10_000):
        assert_stored(stored[lines[lineno - 1]["channel_code"]], lines[lineno - 1])
    assert all(customer.version == 1 for customer in stored.values())
    missing = {row(n)["channel_code"] for n in bad if n != 2500}
    assert missing.isdisjoint(stored)


def test_reimporting_the_same_file_writes_nothing(channel, tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [row(n) for n in range(1, 1201)])
    first = run_import(channel.pk, path, "--batch-size", "500")
    before = snapshot(channel)

    again = run_import(channel.pk, path, "--batch-size", "500")

    assert counts(first.summary) == (1200, 0, 0, 0)
    assert counts(again.summary) == (0, 0, 1200, 0)
    assert again.returncode == 0
    assert again.stderr == ""
    assert snapshot(channel) == before


def test_changed_rows_are_updated_and_only_they(channel, tmp_path):
    original = [row(n) for n in range(1, 301)]
    run_import(channel.pk, write_jsonl(tmp_path / "a.jsonl", original), "--batch-size", "100")
    before = snapshot(channel)
    changes = {
        3: {"first_name": "Değişti"},
        40: {"attributes": {"n": 40, "tier": "gold", "tags": ["a", {"b": 41}]}},
        41: {"phone_number": None},
        150: {"gender": "female" if original[149]["gender"] != "female" else "male"},
        151: {"date_joined": "2020-02-29T23:59:59.999999Z"},
        250: {"email": "PERSON250@example.com"},
        299: {"is_active": not original[298]["is_active"], "erp_code": ""},
    }
    edited = [dict(data) for data in original]
    for n, change in changes.items():
        edited[n - 1].update(change)
    assert original[200]["erp_code"] is not None
    del edited[200]["erp_code"]  # omitted: PUT semantics reset it to its default (null)
    changed = {*changes, 201}

    run = run_import(channel.pk, write_jsonl(tmp_path / "b.jsonl", edited), "--batch-size", "100")

    assert counts(run.summary) == (0, len(changed), 300 - len(changed), 0)
    after = snapshot(channel)
    for n in range(1, 301):
        code = original[n - 1]["channel_code"]
        pk, version, modified, created = before[code]
        if n in changed:
            assert after[code][:2] == (pk, version + 1)
            assert after[code][2] > modified
            assert after[code][3] == created
        else:
            assert after[code] == before[code]
    for n in changed:
        customer = Customer.objects.get(
            channel=channel, channel_code=original[n - 1]["channel_code"]
        )
        assert_stored(customer, {**edited[n - 1], "erp_code": edited[n - 1].get("erp_code")})


# --- Uniqueness ---------------------------------------------------------------------------


def test_email_taken_case_insensitively_by_another_customer_is_rejected(channel, tmp_path):
    CustomerFactory(channel=channel, email="ali@example.com", channel_code="OLD")
    path = write_jsonl(tmp_path / "c.jsonl", [row(1, email="Ali@Example.COM"), row(2)])

    run = run_import(channel.pk, path)

    assert counts(run.summary) == (1, 0, 0, 1)
    assert run.summary["errors"] == [
        {"line": 1, "errors": {"email": [UNIQUE_MESSAGES["email"]], "code": "unique"}}
    ]


def test_an_email_given_up_earlier_in_the_batch_can_be_taken_by_a_later_row(channel, tmp_path):
    # The new code sorts before the old one: written in code order the insert would clash,
    # so the batch is redone row by row, in file order (the API's outcome).
    CustomerFactory(channel=channel, email="a@example.com", channel_code="Z-OLD")
    lines = [row(1, channel_code="Z-OLD", email="z@example.com"), row(2, email="a@example.com")]
    lines[1]["channel_code"] = "A-NEW"

    run = run_import(channel.pk, write_jsonl(tmp_path / "c.jsonl", lines))

    assert counts(run.summary) == (1, 1, 0, 0)
    emails = dict(Customer.objects.filter(channel=channel).values_list("channel_code", "email"))
    assert emails == {"Z-OLD": "z@example.com", "A-NEW": "a@example.com"}


def test_an_email_given_up_later_in_the_batch_cannot_be_taken_by_an_earlier_row(channel, tmp_path):
    CustomerFactory(channel=channel, email="a@example.com", channel_code="Z-OLD")
    lines = [row(2, channel_code="A-NEW", email="a@example.com"), row(1, channel_code="Z-OLD")]

    run = run_import(channel.pk, write_jsonl(tmp_path / "c.jsonl", lines))

    assert counts(run.summary) == (0, 1, 0, 1)
    assert run.summary["errors"] == [
        {"line": 1, "errors": {"email": [UNIQUE_MESSAGES["email"]], "code": "unique"}}
    ]
    assert not Customer.objects.filter(channel=channel, channel_code="A-NEW").exists()


def test_a_row_repeating_an_earlier_rows_email_in_the_batch_is_rejected(channel, tmp_path):
    lines = [row(1), row(2, email="PERSON1@example.com")]

    run = run_import(channel.pk, write_jsonl(tmp_path / "c.jsonl", lines))

    assert counts(run.summary) == (1, 0, 0, 1)
    assert run.summary["errors"][0]["errors"] == {
        "email": [UNIQUE_MESSAGES["email"]],
        "code": "unique",
    }


def test_customers_of_another_channel_do_not_clash(channel, other_channel, tmp_path):
    CustomerFactory(channel=other_channel, email="person1@example.com", channel_code="C000001")

    run = run_import(channel.pk, write_jsonl(tmp_path / "c.jsonl", [row(1)]))

    assert counts(run.summary) == (1, 0, 0, 0)
    assert Customer.objects.filter(channel=other_channel).count() == 1
    assert Customer.objects.get(channel=channel).channel_code == "C000001"


# --- --atomic, batches, interruption ------------------------------------------------------


def test_atomic_import_with_one_bad_row_writes_nothing(channel, tmp_path):
    lines = [row(n) for n in range(1, 51)]
    lines[44] = row(45, email="bad")
    path = write_jsonl(tmp_path / "c.jsonl", lines)

    run = run_import(channel.pk, path, "--atomic", "--batch-size", "10")

    assert counts(run.summary) == (0, 0, 0, 1)
    assert run.returncode == 1
    assert "1 row failed; --atomic: nothing was written." in run.stderr
    assert Customer.objects.filter(channel=channel).count() == 0


def test_the_same_file_without_atomic_writes_every_good_row(channel, tmp_path):
    lines = [row(n) for n in range(1, 51)]
    lines[44] = row(45, email="bad")
    path = write_jsonl(tmp_path / "c.jsonl", lines)

    run = run_import(channel.pk, path, "--batch-size", "10")

    assert counts(run.summary) == (49, 0, 0, 1)
    assert Customer.objects.filter(channel=channel).count() == 49


def test_atomic_import_of_good_rows_writes_them_all(channel, tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [row(n) for n in range(1, 26)])

    run = run_import(channel.pk, path, "--atomic", "--batch-size", "10")

    assert counts(run.summary) == (25, 0, 0, 0)
    assert run.returncode == 0
    assert Customer.objects.filter(channel=channel).count() == 25


def interrupt_after(rows: int):
    def progress(read: int, bytes_read: int) -> None:
        if read == rows:
            raise KeyboardInterrupt

    return progress


@pytest.mark.parametrize("atomic", [False, True])
def test_interrupted_import_leaves_whole_batches_and_reports_them(channel, tmp_path, atomic):
    path = write_jsonl(tmp_path / "c.jsonl", [row(n) for n in range(1, 101)])

    with path.open("rb") as stream, pytest.raises(ImportInterrupted) as raised:
        customers_import(
            channel=channel,
            stream=stream,
            atomic=atomic,
            batch_size=10,
            on_progress=interrupt_after(55),
        )

    summary = raised.value.summary
    stored = Customer.objects.filter(channel=channel).count()
    assert summary.interrupted
    assert summary.created == stored
    assert stored % 10 == 0
    assert stored <= 50
    if atomic:
        assert stored == 0
        assert summary.rolled_back
    else:
        codes = set(Customer.objects.filter(channel=channel).values_list("channel_code", flat=True))
        assert codes == {row(n)["channel_code"] for n in range(1, stored + 1)}


class _InterruptingStdin:
    """Standard input whose bytes run out with a Ctrl-C after `lines` lines."""

    def __init__(self, data: bytes, lines: int) -> None:
        self.buffer = self
        self._lines = data.splitlines(keepends=True)[:lines]

    def readline(self, size: int = -1) -> bytes:
        if not self._lines:
            raise KeyboardInterrupt
        return self._lines.pop(0)


def test_ctrl_c_prints_the_summary_so_far_and_exits_130(channel, tmp_path, monkeypatch):
    data = write_jsonl(tmp_path / "c.jsonl", [row(n) for n in range(1, 41)]).read_bytes()
    monkeypatch.setattr(sys, "stdin", _InterruptingStdin(data, 25))

    run = run_import(channel.pk, "-", "--batch-size", "10")

    assert run.returncode == 130
    assert set(run.summary) == SUMMARY_KEYS
    assert run.summary["created"] == Customer.objects.filter(channel=channel).count()
    assert run.summary["created"] in (10, 20)
    assert "Interrupted" in run.stderr


# --- CSV ----------------------------------------------------------------------------------


def test_csv_cells_become_api_values(api, channel, tmp_path):
    header = (
        "email,channel_code,first_name,last_name,phone_number,is_active,email_allowed,"
        "sms_allowed,call_allowed,attributes,extra_field,gender,date_of_birth,erp_code,notes"
    )
    rows = [
        'cagri@örnek.com,K1,Çağrı,"Öztürk, ""Jr""\nII",,true,false,true,false,'
        '"{""sizes"": [1, 2.5], ""nested"": {""ü"": null}}",,,1990-02-28,E-1,ignored',
        "b@example.com,K2,,Lee,+90 555,false,true,false,true,{},"
        '"{""a"": {""b"": [true, false]}}",female,,,',
        "c@example.com,K3,C,D,,true,true,true,true,{not json,,,,,",
        "d@example.com,K4,C,D,,maybe,true,true,true,,,,,,",
        "e@example.com,K5,too,few",
    ]
    path = tmp_path / "c.csv"
    path.write_bytes(codecs.BOM_UTF8 + "\r\n".join([header, *rows]).encode() + b"\r\n")

    run = run_import(channel.pk, path)

    assert counts(run.summary) == (2, 0, 0, 3)
    assert "warning: column 'notes' is not a customer field; it is ignored." in run.stderr
    first = Customer.objects.get(channel=channel, channel_code="K1")
    assert_stored(
        first,
        {
            "email": "cagri@örnek.com",
            "first_name": "Çağrı",
            "last_name": 'Öztürk, "Jr"\nII',
            "phone_number": None,
            "is_active": True,
            "email_allowed": False,
            "sms_allowed": True,
            "call_allowed": False,
            "attributes": {"sizes": [1, 2.5], "nested": {"ü": None}},
            "extra_field": {},
            "gender": None,
            "date_of_birth": "1990-02-28",
            "erp_code": "E-1",
            "user_type": None,
            "date_joined": None,
        },
    )
    second = Customer.objects.get(channel=channel, channel_code="K2")
    assert_stored(
        second,
        {
            "first_name": "",
            "phone_number": "+90 555",
            "is_active": False,
            "attributes": {},
            "extra_field": {"a": {"b": [True, False]}},
            "gender": "female",
            "date_of_birth": None,
            "erp_code": None,
        },
    )
    errors = {error["line"]: error["errors"] for error in run.summary["errors"]}
    assert errors[5] == {"attributes": ["Value must be valid JSON."], "code": "invalid"}
    maybe = {
        "email": "d@example.com",
        "channel_code": "K4",
        "first_name": "C",
        "last_name": "D",
        "phone_number": None,
        "is_active": "maybe",
        "email_allowed": True,
        "sms_allowed": True,
        "call_allowed": True,
    }
    assert errors[6] == api_error(api, channel, maybe)
    assert errors[7] == {
        "non_field_errors": ["The row has 4 cells; the header has 15."],
        "code": "parse_error",
    }


def test_csv_without_a_required_column_is_refused_before_writing(channel, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("email,channel_code,is_active\na@example.com,A,true\n")

    run = run_import(channel.pk, path)

    assert run.returncode == 1
    assert "The header has no column for: email_allowed, sms_allowed, call_allowed." in run.stderr
    assert Customer.objects.filter(channel=channel).count() == 0


def test_csv_with_invalid_utf8_in_a_row_reports_that_row(channel, tmp_path):
    path = tmp_path / "c.csv"
    header = b"email,channel_code,is_active,email_allowed,sms_allowed,call_allowed,first_name\n"
    path.write_bytes(
        header
        + b"a@example.com,A,true,true,true,true,\xff\xfe\nb@example.com,B,true,true,true,true,B\n"
    )

    run = run_import(channel.pk, path)

    assert counts(run.summary) == (1, 0, 0, 1)
    assert run.summary["errors"] == [
        {
            "line": 2,
            "errors": {
                "non_field_errors": ["CSV parse error - invalid UTF-8"],
                "code": "parse_error",
            },
        }
    ]


def test_jsonl_with_a_byte_order_mark_crlf_and_blank_lines_is_read(channel, tmp_path):
    lines = [json.dumps(row(n)).encode() for n in (1, 2)]
    path = tmp_path / "c.jsonl"
    path.write_bytes(codecs.BOM_UTF8 + lines[0] + b"\r\n\r\n" + lines[1] + b"\r\n[]\r\n")

    run = run_import(channel.pk, path)

    assert counts(run.summary) == (2, 0, 0, 1)
    assert [error["line"] for error in run.summary["errors"]] == [4]


def test_format_comes_from_the_extension_or_the_option(channel, tmp_path):
    csv_text = "email,channel_code,is_active,email_allowed,sms_allowed,call_allowed\n"
    path = tmp_path / "customers.txt"
    path.write_text(csv_text + "a@example.com,A,true,false,false,false\n")

    unknown = run_import(channel.pk, path)
    given_format = run_import(channel.pk, path, "--format", "csv")

    assert unknown.returncode == 1
    assert "Cannot tell the format of" in unknown.stderr
    assert counts(given_format.summary) == (1, 0, 0, 0)


# --- Command plumbing ---------------------------------------------------------------------


def test_unknown_channel_is_an_error(db, tmp_path):
    run = run_import(987654, write_jsonl(tmp_path / "c.jsonl", [row(1)]))

    assert run.returncode == 1
    assert "Channel 987654 does not exist." in run.stderr


def test_summary_is_one_json_document_with_the_documented_keys(channel, tmp_path):
    run = run_import(channel.pk, write_jsonl(tmp_path / "c.jsonl", [row(1), "[1]"]))

    assert run.stdout.count("\n") == 1
    assert set(json.loads(run.stdout)) == SUMMARY_KEYS
    assert isinstance(run.summary["rows_per_second"], int)
    assert run.summary["rows_per_second"] > 0


def test_progress_is_drawn_on_a_terminal_only(channel, tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [row(n) for n in range(1, 31)])

    quiet = run_import(channel.pk, path)
    shown = run_import(channel.pk, path, stderr=TTY())

    assert quiet.stderr == ""
    assert shown.stderr.startswith("\r1 rows  ")
    last = shown.stderr.rsplit("\r", 1)[1]
    assert last.startswith("30 rows  ")
    assert last.endswith(" rows/s  100%\x1b[K\n")


def test_progress_line_shows_rate_share_and_time_left():
    progress = Progress(io.StringIO(), total_bytes=1000)

    assert progress.line(500, 250, 10.0) == "500 rows  50 rows/s  25%  ETA 0:00:30"
    assert progress.line(7, None, 2.0) == "7 rows  4 rows/s"


# --- The fast paths are the API's behaviour -----------------------------------------------


class _Channel:
    pk = 7


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


TEXT = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["", " ", " padded ", "a\x00b", "x" * 256, "\ud800", "Ünï", "é " * 3]),
)
EMAILS = st.one_of(
    st.sampled_from(["a@example.com", "A@Example.COM", "bad", " a@example.com ", "a@ö.com"]),
    st.emails(),
    TEXT,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=6,
)
ANY = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT, JSON_VALUES)
FIELD_VALUES = {
    "email": EMAILS,
    "channel_code": st.one_of(TEXT, st.integers()),
    "first_name": TEXT,
    "last_name": TEXT,
    "phone_number": st.one_of(st.none(), TEXT),
    "erp_code": st.one_of(st.none(), TEXT, st.floats()),
    "is_active": st.one_of(st.booleans(), st.sampled_from(["true", "no", 1, 2, None])),
    "email_allowed": st.booleans(),
    "sms_allowed": st.one_of(st.booleans(), st.none()),
    "call_allowed": st.booleans(),
    "attributes": st.one_of(st.dictionaries(st.text(max_size=3), JSON_VALUES, max_size=3), ANY),
    "extra_field": st.one_of(
        st.sampled_from(
            [
                {"a": 2**64},
                {"a\x00": 1},
                {"a": [float("inf")]},
                {"a": float("nan")},
                {"a": None, "b": 9.3e18},
                {"a": 1e16, "b": "\\u0000"},
                {"a": nested(31)},
                {"a": nested(30)},
            ]
        ),
        JSON_VALUES,
    ),
    "gender": st.one_of(st.sampled_from(["male", "female", "", "Male", None]), ANY),
    "user_type": st.sampled_from(["guest", "registered", "x", None]),
    "date_joined": st.one_of(
        st.sampled_from(
            [
                "2024-01-02T03:04:05Z",
                "2024-01-02T03:04:05+03:00",
                "2024-01-02 03:04:05",
                "2024-01-02T03:04:05.123456789Z",
                "2024-01-02T03:04:05+25:00",
                "0001-01-01T00:00:00+01:00",
                "2024-02-30",
                "2024-01-02",
                "",
            ]
        ),
        st.datetimes(timezones=st.timezones()).map(dt.datetime.isoformat),
        st.datetimes().map(dt.datetime.isoformat),
        ANY,
    ),
    "date_of_birth": st.one_of(
        st.sampled_from(
            ["1990-01-02", "1990-13-01", "1990-01-02T00:00", "19900102", "1990-1-2", "", None]
        ),
        st.dates().map(dt.date.isoformat),
        ANY,
    ),
    "channel": st.sampled_from([None, 7, 8, "7"]),
    "pk": ANY,
}
ROWS = st.fixed_dictionaries(
    {},
    optional=FIELD_VALUES,
) | st.one_of(st.none(), st.lists(st.integers(), max_size=2), TEXT)


def outcome(serializer: CustomerSerializer, data: Any) -> tuple[str, str]:
    """The validated data or the error, as repr(): types, time zones and codes count."""
    try:
        return ("ok", repr(serializer.run_validation(data)))
    except exceptions.ValidationError as exc:
        return ("error", repr(exc.detail))


@settings(max_examples=50, deadline=None)
@given(data=ROWS)
def test_fast_validation_gives_the_serializers_result_and_errors(data):
    context = {"channel": _Channel()}

    fast = outcome(FastCustomerSerializer(context=context), data)

    assert fast == outcome(CustomerSerializer(context=context), data)


ABSENT = object()


@pytest.mark.parametrize("name", sorted(FIELD_VALUES))
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_fast_validation_of_one_field_in_a_valid_row_matches_the_serializer(name, data):
    value = data.draw(st.one_of(st.just(ABSENT), FIELD_VALUES[name]), label=name)
    valid = {key: item for key, item in row(1).items() if key != name}
    if value is not ABSENT:
        valid[name] = value
    context = {"channel": _Channel()}

    assert outcome(FastCustomerSerializer(context=context), valid) == outcome(
        CustomerSerializer(context=context), valid
    )


JSON_TEXTS = st.one_of(
    JSON_VALUES.map(json.dumps),  # infinities come out as `Infinity`: refused by both
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: f'{{"a": {n}}}'),
    st.sampled_from(
        [
            '{"a": 1e400}',
            '{"a": NaN}',
            '"\\ud800"',
            '{"a": "\\ud83d\\ude00"}',
            "[" * 300 + "]" * 300,
            '{"a": 1, "a": 2}',
            '{"a": -0}',
            '{"a": 0.1e-400}',
            "{",
            '{"a": 18446744073709551615}',
            '{"a": 9223372036854775807}',
        ]
    ),
)


def parse_outcome(parse, raw: bytes) -> tuple[str, Any]:
    try:
        value = parse(raw)
    except exceptions.ParseError as exc:
        return ("error", str(exc.detail))
    return ("ok", json.dumps(value, sort_keys=False), repr(value))


@settings(max_examples=50, deadline=None)
@given(text=JSON_TEXTS)
def test_json_lines_are_read_as_the_api_parser_reads_a_body(text):
    raw = text.encode("utf-8", "surrogatepass")

    assert parse_outcome(parse_json_line, raw) == parse_outcome(loads_strict, raw)


@pytest.mark.parametrize(
    "raw", [b'{"a": 123456789012345678901}', b'{"a": "\xff"}', b"[" * 2000 + b"]" * 2000]
)
def test_json_lines_the_api_refuses_are_refused_with_its_message(raw):
    with pytest.raises(exceptions.ParseError) as api:
        loads_strict(raw)

    with pytest.raises(exceptions.ParseError) as ours:
        parse_json_line(raw)

    assert str(ours.value.detail) == str(api.value.detail)


def test_a_growing_channel_gets_fresh_planner_statistics_on_postgresql(
    channel, tmp_path, monkeypatch, on_postgres
):
    if not on_postgres:
        pytest.skip("planner statistics are PostgreSQL's")
    monkeypatch.setattr(PlannerStatistics, "ANALYZE_MIN_ROWS", 100)
    path = write_jsonl(tmp_path / "c.jsonl", [row(n) for n in range(1, 1501)])

    run = run_import(channel.pk, path, "--batch-size", "100")

    assert counts(run.summary) == (1500, 0, 0, 0)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
            [Customer._meta.db_table],
        )
        # Analyzed when the channel had doubled since the last look: 200, 400, 800 rows.
        assert cursor.fetchone()[0] == 800
