"""Order writes: the JSON Lines import behind `manage.py import_orders`.

A file is read one line at a time and written in batches; each batch is one transaction, so a
crash never leaves half a batch behind. Orders are upserted by `number` (unique per channel):
a new number is created, an existing order with different values is updated, and one with the
same values is left alone (not written, its `modified_date` kept).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone
from rest_framework import serializers
from rest_framework.relations import PrimaryKeyRelatedField, SlugRelatedField
from rest_framework.settings import api_settings

from saleschannel.channels.models import Channel
from saleschannel.customers.models import Customer

from .models import Order
from .serializers import OrderLineSerializer

DEFAULT_BATCH_SIZE = 1000
MAX_LINE_BYTES = 1024 * 1024
MAX_REPORTED_ERRORS = 100
# Values per `IN (...)` query: below SQLite's historical limit of 999 bound parameters.
QUERY_CHUNK = 500
# A batch whose insert collides with a concurrent import of the same numbers is run again.
BATCH_ATTEMPTS = 3
# What an order line sets; `created_date` only when the line gives it.
VALUE_FIELDS = ("customer_id", "status", "currency", "amount", "discount_amount", "refund_amount")
UPDATED_FIELDS = (*VALUE_FIELDS, "created_date", "modified_date")
NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY

Errors = dict[str, list[str]]


@dataclass(frozen=True)
class RawLine:
    lineno: int
    data: bytes
    too_long: bool = False


@dataclass(frozen=True)
class ValidLine:
    lineno: int
    data: dict[str, Any]


@dataclass(frozen=True)
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
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[LineError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS
    rolled_back: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "errors": [error.as_dict() for error in self.errors],
        }


# --- Reading and parsing ------------------------------------------------------------------


def order_lines_read(
    *, stream: IO[bytes], max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[RawLine]:
    """The non-blank lines of a binary stream without their line ends, numbered from 1.

    A line longer than `max_line_bytes` is skipped without being held in memory and comes
    back with `too_long=True`. A UTF-8 byte order mark at the start of the file is dropped.
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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def order_line_parse(*, raw: bytes) -> Any:
    """One line's JSON value, numbers with a fraction as exact Decimals.

    Raises ValueError with DRF's parse-error wording for what no database could store:
    invalid UTF-8, NaN/Infinity, lone UTF-16 surrogates, nesting past the interpreter's limit.
    """
    try:
        value = json.loads(
            raw.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant
        )
    except UnicodeDecodeError as exc:
        raise ValueError(f"JSON parse error - invalid UTF-8 at byte {exc.start}") from None
    except RecursionError:
        raise ValueError("JSON parse error - nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"JSON parse error - {exc}") from None
    if _has_lone_surrogate(value):
        raise ValueError("JSON parse error - lone surrogate in a string")
    return value


def _plain_errors(detail: Any) -> Errors:
    """DRF error detail as `{field: [message, ...]}` with plain strings."""
    if not isinstance(detail, dict):
        detail = {NON_FIELD: detail if isinstance(detail, list) else [detail]}
    return {
        str(name): [str(message) for message in messages]
        if isinstance(messages, list)
        else [str(messages)]
        for name, messages in detail.items()
    }


def order_line_validate(
    *, raw: RawLine, serializer: OrderLineSerializer, max_line_bytes: int = MAX_LINE_BYTES
) -> ValidLine | LineError:
    """Parse and validate one line without touching the database."""
    if raw.too_long:
        message = f"Line is longer than {max_line_bytes} bytes."
        return LineError(lineno=raw.lineno, errors={NON_FIELD: [message]})
    try:
        value = order_line_parse(raw=raw.data)
    except ValueError as exc:
        return LineError(lineno=raw.lineno, errors={NON_FIELD: [str(exc)]})
    try:
        data = serializer.run_validation(value)
    except serializers.ValidationError as exc:
        return LineError(lineno=raw.lineno, errors=_plain_errors(exc.detail))
    return ValidLine(lineno=raw.lineno, data=data)


# --- Writing ------------------------------------------------------------------------------


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    values = list(values)
    for start in range(0, len(values), QUERY_CHUNK):
        yield values[start : start + QUERY_CHUNK]


def _customer_lookup(
    *, channel: Channel, lines: Sequence[ValidLine]
) -> tuple[set[int], dict[str, int], set[int]]:
    """(pks of this channel, channel_code -> pk in this channel, pks of other channels)."""
    pks = {line.data["customer"] for line in lines if line.data.get("customer") is not None}
    codes = {
        line.data["customer_channel_code"]
        for line in lines
        if line.data.get("customer_channel_code") is not None
    }
    here: set[int] = set()
    for chunk in _chunks(pks):
        here.update(
            Customer.objects.filter(channel=channel, pk__in=chunk).values_list("pk", flat=True)
        )
    by_code: dict[str, int] = {}
    for chunk in _chunks(codes):
        by_code.update(
            Customer.objects.filter(channel=channel, channel_code__in=chunk).values_list(
                "channel_code", "pk"
            )
        )
    elsewhere: set[int] = set()
    for chunk in _chunks(pks - here):
        elsewhere.update(Customer.objects.filter(pk__in=chunk).values_list("pk", flat=True))
    return here, by_code, elsewhere


def _customer_error(
    *, data: dict[str, Any], here: set[int], by_code: dict[str, int], elsewhere: set[int]
) -> tuple[int | None, Errors | None]:
    pk = data.get("customer")
    if pk is not None:
        if pk in here:
            return pk, None
        if pk in elsewhere:
            return None, {"customer": [f"Customer {pk} belongs to another channel."]}
        message = PrimaryKeyRelatedField.default_error_messages["does_not_exist"]
        return None, {"customer": [str(message).format(pk_value=pk)]}
    code = data["customer_channel_code"]
    if code in by_code:
        return by_code[code], None
    message = SlugRelatedField.default_error_messages["does_not_exist"]
    return None, {
        "customer_channel_code": [str(message).format(slug_name="channel_code", value=code)]
    }


def _values(*, data: dict[str, Any], customer_id: int) -> dict[str, Any]:
    values = {
        "customer_id": customer_id,
        "status": data["status"],
        "currency": data["currency"],
        "amount": data["amount"],
        "discount_amount": data["discount_amount"],
        "refund_amount": data["refund_amount"],
    }
    if data.get("created_date") is not None:
        values["created_date"] = data["created_date"]
    return values


def _upsert_batch(*, channel: Channel, lines: Sequence[ValidLine], write: bool) -> BatchResult:
    result = BatchResult()
    here, by_code, elsewhere = _customer_lookup(channel=channel, lines=lines)
    existing: dict[str, Order] = {}
    # Rows are locked in number order, as the inserts below: concurrent imports cannot deadlock.
    for chunk in _chunks(sorted({line.data["number"] for line in lines})):
        locked = (
            Order.objects.select_for_update()
            .filter(channel=channel, number__in=chunk)
            .order_by("number")
        )
        existing.update((order.number, order) for order in locked)
    # Lines apply in file order: a number seen twice is created, then updated (or unchanged).
    to_create: dict[str, Order] = {}
    to_update: dict[str, Order] = {}
    for line in lines:
        customer_id, errors = _customer_error(
            data=line.data, here=here, by_code=by_code, elsewhere=elsewhere
        )
        if errors:
            result.errors.append(LineError(lineno=line.lineno, errors=errors))
            continue
        number = line.data["number"]
        values = _values(data=line.data, customer_id=customer_id)
        order = to_create.get(number) or existing.get(number)
        if order is None:
            to_create[number] = Order(channel=channel, number=number, **values)
            result.created += 1
            continue
        changes = {name: value for name, value in values.items() if getattr(order, name) != value}
        if not changes:
            result.unchanged += 1
            continue
        for name, value in changes.items():
            setattr(order, name, value)
        if number not in to_create:
            to_update[number] = order
        result.updated += 1
    if write:
        if to_create:
            Order.objects.bulk_create(
                [to_create[number] for number in sorted(to_create)], batch_size=QUERY_CHUNK
            )
        if to_update:
            _update_rows([to_update[number] for number in sorted(to_update)])
    return result


def _update_rows(orders: list[Order]) -> None:
    """One parametrised UPDATE by pk run for every order (executemany).

    Django's bulk_update builds a CASE expression per column that grows with the batch; on
    SQLite it took minutes for 100k orders where this takes seconds, on both databases.
    """
    connection = connections[router.db_for_write(Order)]
    quote = connection.ops.quote_name
    now = timezone.now()
    for order in orders:
        order.modified_date = now  # as auto_now would on save()
    fields = [Order._meta.get_field(name) for name in UPDATED_FIELDS]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = (
        f"UPDATE {quote(Order._meta.db_table)} SET {assignments} "
        f"WHERE {quote(Order._meta.pk.column)} = %s"
    )
    rows = [
        [field.get_db_prep_save(getattr(order, field.attname), connection) for field in fields]
        + [order.pk]
        for order in orders
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def orders_upsert(
    *, channel: Channel, lines: Sequence[ValidLine], write: bool = True
) -> BatchResult:
    """Upsert validated lines by `number` in one transaction.

    A line whose customer is not in `channel` is not written and comes back as an error. With
    `write=False` nothing is written but the outcome is computed the same way.
    """
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _upsert_batch(channel=channel, lines=lines, write=write)
        except IntegrityError:
            # A concurrent import inserted one of these numbers (or deleted a customer) after
            # this batch read them: read again and redo the whole batch.
            if attempt == BATCH_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def orders_import(
    *,
    channel: Channel,
    stream: IO[bytes],
    atomic: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_error: Callable[[LineError], None] | None = None,
) -> ImportSummary:
    """Import a JSON Lines stream of orders into `channel`.

    Bad lines are skipped and reported (in line order, through `on_error`); the others are
    written, a batch of `batch_size` lines per transaction. With `atomic=True` the whole stream
    is one transaction: if any line fails, nothing is written and the summary's created /
    updated / unchanged counts are 0.
    """
    if atomic:
        with transaction.atomic():
            summary = _import(
                channel=channel,
                stream=stream,
                atomic=True,
                batch_size=batch_size,
                on_error=on_error,
            )
            if summary.failed:
                transaction.set_rollback(True)
                summary.created = summary.updated = summary.unchanged = 0
                summary.rolled_back = True
        return summary
    return _import(
        channel=channel, stream=stream, atomic=False, batch_size=batch_size, on_error=on_error
    )


def _import(
    *,
    channel: Channel,
    stream: IO[bytes],
    atomic: bool,
    batch_size: int,
    on_error: Callable[[LineError], None] | None,
) -> ImportSummary:
    summary = ImportSummary()
    serializer = OrderLineSerializer()
    valid: list[ValidLine] = []
    invalid: list[LineError] = []

    def flush() -> None:
        # Under --atomic, once a line has failed the rest is only checked, never written.
        result = BatchResult()
        if valid:
            result = orders_upsert(
                channel=channel, lines=valid, write=not (atomic and (summary.failed or invalid))
            )
        summary.created += result.created
        summary.updated += result.updated
        summary.unchanged += result.unchanged
        for error in sorted([*invalid, *result.errors], key=lambda error: error.lineno):
            summary.failed += 1
            if len(summary.errors) < MAX_REPORTED_ERRORS:
                summary.errors.append(error)
            if on_error is not None:
                on_error(error)
        valid.clear()
        invalid.clear()

    for raw in order_lines_read(stream=stream):
        outcome = order_line_validate(raw=raw, serializer=serializer)
        if isinstance(outcome, LineError):
            invalid.append(outcome)
        else:
            valid.append(outcome)
        if len(valid) + len(invalid) >= batch_size:
            flush()
    if valid or invalid:
        flush()
    return summary
