"""Building blocks of the bulk import/export commands, shared by every resource.

- `read_lines`: the lines of a binary stream, one at a time, a too-long line skipped unread.
- `parse_json_line`: one JSON document exactly as the API's parser reads a request body
  (same values, same errors), with orjson as the fast path.
- `FastValidationMixin`: a serializer's own validation, 5x faster for well-formed rows.
- `LineError`, `ImportSummary`: per-line error reports in the API's error format, and the
  summary a command prints.
- `BatchWriter`: writes batches in a second thread on the same database connection, so the
  next batch is parsed and validated while the database works on the previous one.
- `Progress`: a one-line progress display for a terminal; `CountingReader` counts bytes read.
- For the commands: `batch_size_type` (the `--batch-size` argument), `channel_or_error`,
  `open_input` (FILE or `-`), `ImportReporter` (bad lines and the progress line on stderr),
  `failure_message`.

Used by `import_customers` (saleschannel/customers/bulk.py) and `import_orders`
(saleschannel/orders/services.py).
"""

from __future__ import annotations

import argparse
import codecs
import datetime as dt
import io
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management.base import CommandError, OutputWrapper
from django.core.validators import MaxLengthValidator, ProhibitNullCharactersValidator
from django.db import connections, transaction
from rest_framework import exceptions, serializers
from rest_framework.fields import SkipField, empty
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import ISO_8601, api_settings
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from saleschannel.channels.models import Channel

from .db import INT64_MAX
from .errors import error_body, first_code
from .fields import MAX_JSON_DEPTH, JSONObjectField
from .parsers import loads_strict
from .renderers import dumps

NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY
MAX_REPORTED_ERRORS = 100

Errors = dict[str, Any]  # the API's 400 body: {"field": ["message", ...], ..., "code": "..."}


# --- Reading --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawLine:
    lineno: int
    data: bytes
    too_long: bool = False


def read_lines(*, stream: IO[bytes], max_line_bytes: int) -> Iterator[RawLine]:
    """The non-blank lines of a binary stream without their line ends, numbered from 1.

    A line longer than `max_line_bytes` is skipped without being held in memory and comes back
    with `too_long=True`. A UTF-8 byte order mark at the start of the stream is dropped.
    """
    lineno = 0
    while True:
        chunk = stream.readline(max_line_bytes + 1)
        if not chunk:
            return
        lineno += 1
        if len(chunk) > max_line_bytes and not chunk.endswith(b"\n"):
            while chunk and not chunk.endswith(b"\n"):
                chunk = stream.readline(max_line_bytes + 1)
            yield RawLine(lineno=lineno, data=b"", too_long=True)
            continue
        if lineno == 1 and chunk.startswith(codecs.BOM_UTF8):
            chunk = chunk[len(codecs.BOM_UTF8) :]
        if chunk.endswith(b"\n"):
            chunk = chunk[:-2] if chunk.endswith(b"\r\n") else chunk[:-1]
        if chunk.strip():
            yield RawLine(lineno=lineno, data=chunk)


class CountingReader(io.RawIOBase):
    """A binary stream that counts the bytes read through it (for progress displays)."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self.raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.bytes_read += size
        return size

    def readline(self, size: int | None = -1) -> bytes:
        line = self.raw.readline(-1 if size is None else size)
        self.bytes_read += len(line)
        return line


def stream_size(stream: IO[bytes]) -> int | None:
    """The size of a regular file behind `stream`, else None (a pipe, a terminal, a socket)."""
    try:
        info = os.fstat(stream.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    return info.st_size if info.st_mode & 0o170000 == 0o100000 else None


# --- Parsing JSON like the API ------------------------------------------------------------

# An integer literal past 64 bits has 19 digits or more. orjson reads one past 2**64 as a float
# where the API's parser refuses it; such lines (rare) take the API parser's own path.
_LONG_NUMBER = re.compile(rb"\d{19}")
# Deep nesting: Python's parser may hit its recursion limit before orjson's depth limit.
_MAX_FAST_BRACKETS = 256


def parse_json_line(
    raw: bytes, *, parse_float: Callable[[str], Any] | None = None, int64: bool = True
) -> Any:
    """One JSON document, with the values and the errors of the API's request parser.

    Raises rest_framework.exceptions.ParseError exactly where the API answers 400
    `parse_error` (invalid UTF-8, NaN, integers past 64 bits, lone surrogates, ...).
    orjson reads the common case; whatever it refuses or might read differently goes through
    the API's parser (`saleschannel.core.parsers.loads_strict`). `parse_float` and `int64`
    are passed on to it: with `parse_float` (e.g. `decimal.Decimal`, for exact amounts) a
    document with a non-integer number is read by it, never by orjson.
    """
    if raw.count(b"[") + raw.count(b"{") <= _MAX_FAST_BRACKETS and not _LONG_NUMBER.search(raw):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if parse_float is None or not _has_float(value):
                return value
    return loads_strict(raw, parse_float=parse_float, int64=int64)


def _has_float(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float:
            return True
        if kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
    return False


# --- Errors and summaries --------------------------------------------------------------------


def error_detail(exc: Exception, *, with_code: bool = True) -> Errors:
    """The API's 400 body for a validation or parse error: `{"field": [...], "code": ...}`.

    Errors that are not about a field (a parse error, a body that is not an object) are listed
    under `non_field_errors`, so every report has the same shape. `with_code=False` leaves
    `code` out (`{"field": [...]}`, the format of import_orders' reports).
    """
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, exceptions.ValidationError):
        body = error_body(exc)
        return {
            name: value if name == "code" else _plain(value)
            for name, value in body.items()
            if with_code or name != "code"
        }
    if isinstance(exc, exceptions.APIException):
        if not with_code:
            return {NON_FIELD: [str(exc.detail)]}
        return {NON_FIELD: [str(exc.detail)], "code": first_code(exc.get_codes())}
    raise TypeError(f"not an API error: {exc!r}")


def _plain(value: Any) -> Any:
    """ErrorDetail strings and lazy translations as plain str (JSON-ready, comparable)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return str(value)


def line_error(lineno: int, message: str, code: str | None = None) -> LineError:
    """A whole-line problem (unreadable line) in the API's error format (no `code` if None)."""
    if code is None:
        return LineError(lineno=lineno, errors={NON_FIELD: [message]})
    return LineError(lineno=lineno, errors={NON_FIELD: [message], "code": code})


@dataclass(frozen=True, slots=True)
class LineError:
    lineno: int
    errors: Errors

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.lineno, "errors": self.errors}


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[LineError] = field(default_factory=list)


@dataclass
class ImportSummary:
    """What an import did. `errors` keeps the first MAX_REPORTED_ERRORS; `failed` counts all."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[LineError] = field(default_factory=list)
    seconds: float = 0.0
    rolled_back: bool = False
    interrupted: bool = False
    started: float = field(default_factory=time.perf_counter, repr=False)

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed

    def add(self, result: BatchResult) -> None:
        self.created += result.created
        self.updated += result.updated
        self.unchanged += result.unchanged
        for error in result.errors:
            self.failed += 1
            if len(self.errors) < MAX_REPORTED_ERRORS:
                self.errors.append(error)

    def roll_back(self) -> None:
        """Nothing was written after all (an --atomic import with a bad line)."""
        self.created = self.updated = self.unchanged = 0
        self.rolled_back = True

    def stop_clock(self) -> None:
        self.seconds = time.perf_counter() - self.started

    def as_dict(self, *, timing: bool = True) -> dict[str, Any]:
        """The summary a command prints; `timing=False` leaves out seconds/rows_per_second."""
        counts = {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
        }
        if timing:
            counts["seconds"] = round(self.seconds, 3)
            counts["rows_per_second"] = round(self.rows / self.seconds) if self.seconds > 0 else 0
        return {**counts, "errors": [error.as_dict() for error in self.errors]}


class ImportInterrupted(KeyboardInterrupt):
    """Ctrl-C during an import: `summary` counts what was committed before it."""

    def __init__(self, summary: ImportSummary) -> None:
        super().__init__()
        self.summary = summary


# --- Command plumbing -------------------------------------------------------------------------


def batch_size_type(maximum: int) -> Callable[[str], int]:
    """An argparse type: an integer from 1 to `maximum`."""

    def parse(value: str) -> int:
        try:
            size = int(value)
        except ValueError:
            size = 0
        if not 1 <= size <= maximum:
            raise argparse.ArgumentTypeError(f"must be an integer from 1 to {maximum}")
        return size

    return parse


def channel_or_error(channel_id: int) -> Channel:
    """The channel an import writes to; CommandError `Channel N does not exist.` if none."""
    channel = None
    if 1 <= channel_id <= INT64_MAX:
        channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        raise CommandError(f"Channel {channel_id} does not exist.")
    return channel


@contextmanager
def open_input(path: str) -> Iterator[IO[bytes]]:
    """The binary stream of a FILE argument, closed at the end; `-` is standard input (left
    open). CommandError `Cannot read PATH: <reason>.` if the file cannot be opened."""
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc
    with stream:
        yield stream


def failure_message(summary: ImportSummary, noun: str) -> str:
    """`1 row was not imported.`, `3 rows were not imported.`, or with --atomic
    `3 rows failed; --atomic: nothing was written.` (`noun`: "row", "line")."""
    count = f"1 {noun}" if summary.failed == 1 else f"{summary.failed} {noun}s"
    if summary.rolled_back:
        return f"{count} failed; --atomic: nothing was written."
    were = "was" if summary.failed == 1 else "were"
    return f"{count} {were} not imported."


class ImportReporter:
    """What an import command shows on stderr while it runs: each bad line as
    `line N: {"field": [...], ...}`, warnings as `warning: ...`, and, when stderr is a
    terminal, a `Progress` line (`on_progress` is None otherwise) kept below them."""

    def __init__(self, stderr: OutputWrapper, stream: IO[bytes], *, noun: str = "rows") -> None:
        self.stderr = stderr
        self.progress: Progress | None = None
        if stderr.isatty():
            self.progress = Progress(stderr._out, total_bytes=stream_size(stream), noun=noun)
        self._done = (0, 0)

    def error(self, error: LineError) -> None:
        if self.progress is not None:
            self.progress.clear()
        self.stderr.write(f"line {error.lineno}: {dumps(error.errors).decode()}")

    def warning(self, message: str) -> None:
        if self.progress is not None:
            self.progress.clear()
        self.stderr.write(f"warning: {message}")

    @property
    def on_progress(self) -> Callable[[int, int], None] | None:
        """`on_progress(rows_read, bytes_read)` for the import, or None off a terminal."""
        return self._advance if self.progress is not None else None

    def _advance(self, rows: int, bytes_read: int) -> None:
        self._done = (rows, bytes_read)
        self.progress.update(rows, bytes_read)

    def close(self) -> None:
        """Draw the last progress line and end it (nothing off a terminal)."""
        if self.progress is not None:
            self.progress.close(*self._done)
            self.progress = None


# --- Fast serializer validation -----------------------------------------------------------


class _Unsure(Exception):
    """The fast path cannot tell: run the serializer's own validation."""


_SURROGATE = re.compile("[\ud800-\udfff]")
# `get_value` implementations that read a plain dict as `data.get(name, empty)`.
_PLAIN_GET_VALUE = (serializers.Field.get_value, serializers.JSONField.get_value)
_KNOWN_CHAR_VALIDATORS = (
    MaxLengthValidator,
    ProhibitNullCharactersValidator,
    ProhibitSurrogateCharactersValidator,
)


class FastValidationMixin(serializers.Serializer):
    """DRF's `Serializer.to_internal_value` with a fast path for well-formed input.

    Put it after the serializer in the bases: `class Fast(MySerializer, FastValidationMixin)`.
    It then replaces only DRF's per-field loop, below every override of the serializer
    (`to_internal_value`, `validate_<field>`, `validate`, validators), which still run.

    Strings, booleans and choices that are plainly valid are checked inline (the checks of
    CharField/EmailField/BooleanField/ChoiceField and their validators); every other field runs
    its own `run_validation`. On anything unusual (a wrong type, a value to trim, a value out
    of range, any error) the whole row goes through DRF's own loop instead, so the result and
    every error message are exactly the serializer's. Reuse one instance for many rows.
    """

    _fast_plan: list[tuple[str, Callable[[Any], Any], str | None, Any]] | None = None
    _fast_plan_exact = False

    def to_internal_value(self, data: Any) -> Any:
        if type(data) is not dict:
            return super().to_internal_value(data)
        plan = self._fast_plan
        if plan is None:
            plan = self._fast_plan = self._build_fast_plan()
        if not plan and self._fast_plan_exact:
            return super().to_internal_value(data)
        ret: dict[str, Any] = {}
        try:
            for name, check, attr, validate_method in plan:
                try:
                    value = check(data.get(name, empty))
                except SkipField:
                    continue
                if validate_method is not None:
                    value = validate_method(value)
                if attr is None:
                    self.set_value(ret, self.fields[name].source_attrs, value)
                else:
                    ret[attr] = value
        except (_Unsure, exceptions.ValidationError, DjangoValidationError):
            return super().to_internal_value(data)
        return ret

    def run_validators(self, value: Any) -> None:
        # DRF merges the read-only fields' defaults into `value` only to feed the serializer's
        # validators: with none there is nothing to do.
        if self.validators:
            super().run_validators(value)

    def _build_fast_plan(self) -> list[tuple[str, Callable[[Any], Any], str | None, Any]]:
        plan = []
        for field_ in self._writable_fields:
            if type(field_).get_value not in _PLAIN_GET_VALUE:
                # A field that reads its input its own way: no fast path for this serializer.
                self._fast_plan_exact = True
                return []
            if isinstance(field_, serializers.DateTimeField) and not hasattr(field_, "timezone"):
                # Read the active time zone once (DRF reads it for every value).
                field_.timezone = field_.default_timezone()
            name = field_.field_name
            attrs = field_.source_attrs
            plan.append(
                (
                    name,
                    _fast_check(field_),
                    attrs[0] if len(attrs) == 1 else None,
                    getattr(self, "validate_" + name, None),
                )
            )
        return plan


def _fast_check(field_: serializers.Field) -> Callable[[Any], Any]:
    """One function per field: the value as DRF would return it, raising _Unsure (or a
    validation error) where DRF might answer differently. The plain case is tested first."""
    kind = type(field_)
    check = None
    if field_.validators and kind not in (serializers.CharField, serializers.EmailField):
        check = None
    elif kind is JSONObjectField:
        check = _json_object_check(field_)
    elif kind in (serializers.CharField, serializers.EmailField):
        check = _char_check(field_)
    elif kind is serializers.BooleanField:
        check = _bool_check(field_)
    elif kind is serializers.ChoiceField and not field_.allow_blank:
        check = _choice_check(field_)
    elif kind is serializers.DateTimeField and _iso_only(field_, "DATETIME_INPUT_FORMATS"):
        check = _datetime_check(field_)
    elif kind is serializers.DateField and _iso_only(field_, "DATE_INPUT_FORMATS"):
        check = _date_check(field_)
    return check if check is not None else field_.run_validation  # exact by definition


def _empty_handler(field_: serializers.Field) -> Callable[[Any], Any]:
    """DRF's `validate_empty_values` for an absent or null value: SkipField, None or _Unsure."""
    required = field_.required
    has_default = field_.default is not empty
    allow_null = field_.allow_null

    def on_empty(value: Any) -> Any:
        if value is empty:
            if required or has_default:
                raise _Unsure
            raise SkipField
        if value is None and allow_null:
            return None
        raise _Unsure

    return on_empty


def _iso_only(field_: serializers.Field, setting: str) -> bool:
    formats = getattr(field_, "input_formats", getattr(api_settings, setting))
    return list(formats) == [ISO_8601]


def _bool_check(field_: serializers.BooleanField) -> Callable[[Any], Any]:
    on_empty = _empty_handler(field_)

    def check(value: Any) -> Any:
        if value is True or value is False:
            return value
        return on_empty(value)

    return check


def _choice_check(field_: serializers.ChoiceField) -> Callable[[Any], Any]:
    on_empty = _empty_handler(field_)
    choices = field_.choice_strings_to_values

    def check(value: Any) -> Any:
        if type(value) is str and value in choices:
            return choices[value]
        return on_empty(value)

    return check


def _datetime_check(field_: serializers.DateTimeField) -> Callable[[Any], Any]:
    """An ISO 8601 text with an offset: `parse_datetime` then `enforce_timezone`, as DRF."""
    on_empty = _empty_handler(field_)
    zone = field_.timezone
    if zone is None:
        return None

    def check(value: Any) -> Any:
        if type(value) is str:
            try:
                parsed = dt.datetime.fromisoformat(value)
                if parsed.utcoffset() is None:
                    raise _Unsure  # naive: DRF's make_aware path
                return parsed.astimezone(zone)
            except (ValueError, OverflowError):
                raise _Unsure from None
        return on_empty(value)

    return check


def _date_check(field_: serializers.DateField) -> Callable[[Any], Any]:
    on_empty = _empty_handler(field_)

    def check(value: Any) -> Any:
        if type(value) is str:
            try:
                return dt.date.fromisoformat(value)  # what parse_date tries first
            except ValueError:
                raise _Unsure from None
        return on_empty(value)

    return check


# In orjson's text of a value: an escaped NUL, a number of 19+ digits (past 64 bits), an
# exponent (a float far from zero), null (orjson writes NaN and infinities as null). Any of
# them: let JSONObjectField look for itself.
_JSON_SUSPECT = re.compile(rb"\\u0000|\d{19}|\d[eE]|null")


def _json_object_check(field_: JSONObjectField) -> Callable[[Any], Any]:
    """JSONObjectField's checks via one orjson.dumps: a JSON object whose text has fewer than
    MAX_JSON_DEPTH brackets, no NUL and no big number is what the field accepts as it is."""
    on_empty = _empty_handler(field_)
    limit = MAX_JSON_DEPTH - 1
    run_validation = field_.run_validation

    def check(value: Any) -> Any:
        if type(value) is not dict:
            return on_empty(value)
        try:
            text = orjson.dumps(value)
        except TypeError:
            return run_validation(value)
        if text.count(b"{") + text.count(b"[") > limit or _JSON_SUSPECT.search(text):
            return run_validation(value)
        return value

    return check


def _char_check(field_: serializers.CharField) -> Callable[[Any], Any] | None:
    on_empty = _empty_handler(field_)
    trim = field_.trim_whitespace
    allow_blank = field_.allow_blank
    max_length = None
    others = []
    for validator in field_.validators:
        if type(validator) is MaxLengthValidator and isinstance(validator.limit_value, int):
            max_length = validator.limit_value
        elif type(validator) not in _KNOWN_CHAR_VALIDATORS:
            others.append(validator)
    if any(getattr(validator, "requires_context", False) for validator in others):
        return None

    def check(value: Any) -> Any:
        if type(value) is not str:
            return on_empty(value)
        text = value.strip() if trim else value
        if not text:  # DRF's "blank" case
            if allow_blank:
                return ""
            raise _Unsure
        if max_length is not None and len(text) > max_length:
            raise _Unsure
        if "\x00" in text or (not text.isascii() and _SURROGATE.search(text)):
            raise _Unsure
        for validator in others:
            validator(text)  # an error sends the row down the exact path
        return text

    return check


# --- Writing in a background thread -------------------------------------------------------

_DONE = object()


class BatchWriter:
    """Hands batches to `handle` in a second thread that uses the caller's database connection.

    While the database works on one batch (which releases the GIL), the caller reads and
    validates the next one: on a machine with two cores an import runs about as fast as the
    slower of the two halves instead of their sum. The caller must not use the database
    between `start()` and `close()`/`abort()`; the connection is shared with the thread
    (Django's `inc_thread_sharing`), so the caller's transaction, if any, is the thread's.

    With `atomic=True` every batch runs inside one outer transaction; `finish` runs last,
    inside it (it may call `transaction.set_rollback(True)`). Exceptions raised in the thread
    are raised again in the caller by `submit` and `close`.
    """

    def __init__(
        self,
        *,
        handle: Callable[[Any], None],
        using: str,
        atomic: bool = False,
        finish: Callable[[], None] | None = None,
        depth: int = 1,
    ) -> None:
        self.handle = handle
        self.using = using
        self.atomic = atomic
        self.finish = finish
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._aborted = False
        self._error: BaseException | None = None
        self._connection = connections[using]
        self._shared = False
        self._thread = threading.Thread(target=self._run, name="bulk-writer", daemon=True)

    def start(self) -> BatchWriter:
        self._connection.inc_thread_sharing()
        self._shared = True
        self._thread.start()
        return self

    def submit(self, batch: Any) -> None:
        self._put(batch)

    def close(self) -> None:
        """Write what is queued, run `finish`, wait for the thread; raise its error if any."""
        self._put(_DONE)
        self._join()

    def abort(self) -> None:
        """Drop the queued batches; the batch being written is completed (or, with `atomic`,
        everything is rolled back). Waits for the thread; does not raise its error."""
        self._aborted = True
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(_DONE)
        self._join(raise_error=False)

    def _put(self, item: Any) -> None:
        while True:
            if self._error is not None or not self._thread.is_alive():
                self._join()
                raise RuntimeError("the writer thread stopped")  # pragma: no cover
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _join(self, *, raise_error: bool = True) -> None:
        if self._thread.ident is not None:
            self._thread.join()
        if self._shared:
            self._shared = False
            self._connection.dec_thread_sharing()
        if raise_error and self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        connections[self.using] = self._connection
        try:
            outer = transaction.atomic(using=self.using) if self.atomic else nullcontext()
            with outer:
                while True:
                    item = self._queue.get()
                    if item is _DONE:
                        if self._aborted:
                            if self.atomic:
                                transaction.set_rollback(True, using=self.using)
                        elif self.finish is not None:
                            self.finish()
                        return
                    if not self._aborted:
                        self.handle(item)
        except BaseException as exc:  # handed to the caller's thread
            self._error = exc
            # Keep the queue moving so the caller never blocks on a dead thread.
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break


# --- Progress ---------------------------------------------------------------------------------


class Progress:
    """`12,345 rows  9,876 rows/s  45%  ETA 0:01:02` on one terminal line, redrawn in place.

    `total_bytes` (when known) and the bytes read so far give the percentage and the ETA.
    Draws at most `interval` seconds apart; `close()` ends the line.
    """

    def __init__(
        self,
        out: IO[str],
        *,
        total_bytes: int | None = None,
        interval: float = 0.25,
        noun: str = "rows",
    ) -> None:
        self.out = out
        self.total_bytes = total_bytes
        self.interval = interval
        self.noun = noun
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False

    def update(self, rows: int, bytes_done: int | None = None, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < self.interval:
            return
        self._last_draw = now
        self.out.write("\r" + self.line(rows, bytes_done, now - self.started) + "\x1b[K")
        self.out.flush()
        self._drawn = True

    def line(self, rows: int, bytes_done: int | None, elapsed: float) -> str:
        rate = rows / elapsed if elapsed > 0 else 0.0
        text = f"{rows:,} {self.noun}  {rate:,.0f} {self.noun}/s"
        if self.total_bytes and bytes_done is not None:
            fraction = min(bytes_done / self.total_bytes, 1.0)
            text += f"  {fraction:.0%}"
            if 0 < fraction < 1:
                remaining = elapsed * (1 - fraction) / fraction
                text += f"  ETA {_clock(remaining)}"
        return text

    def clear(self) -> None:
        """Wipe the line (before printing something else on the terminal)."""
        if self._drawn:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self._drawn = False

    def close(self, rows: int, bytes_done: int | None = None) -> None:
        self.update(rows, bytes_done, force=True)
        self.out.write("\n")
        self.out.flush()
        self._drawn = False


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
