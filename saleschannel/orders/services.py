"""Order writes: the JSON Lines import behind `manage.py import_orders`.

A file is read one line at a time and written in batches; each batch is one transaction, so a
crash never leaves half a batch behind. Orders are upserted by `number` (unique per channel):
a new number is created, an existing order with different values is updated, and one with the
same values is left alone (not written, its `modified_date` kept).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.relations import PrimaryKeyRelatedField, SlugRelatedField

from saleschannel.channels.models import Channel
from saleschannel.core.bulk import (
    MAX_REPORTED_ERRORS,
    BatchResult,
    CountingReader,
    Errors,
    ImportSummary,
    LineError,
    RawLine,
    error_detail,
    line_error,
    parse_json_line,
    read_lines,
)
from saleschannel.customers.models import Customer

from .models import Order
from .serializers import OrderLineSerializer

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "MAX_BATCH_SIZE",
    "MAX_LINE_BYTES",
    "MAX_REPORTED_ERRORS",
    "ImportSummary",
    "LineError",
    "ValidLine",
    "order_line_parse",
    "order_line_validate",
    "orders_import",
    "orders_upsert",
]

DEFAULT_BATCH_SIZE = 1000
MAX_BATCH_SIZE = 10_000
MAX_LINE_BYTES = 1024 * 1024
# Values per `IN (...)` query: below SQLite's historical limit of 999 bound parameters.
QUERY_CHUNK = 500
# A batch whose insert collides with a concurrent import of the same numbers is run again.
BATCH_ATTEMPTS = 3
# What an order line sets; `created_date` only when the line gives it.
VALUE_FIELDS = ("customer_id", "status", "currency", "amount", "discount_amount", "refund_amount")
UPDATED_FIELDS = (*VALUE_FIELDS, "created_date", "modified_date")


@dataclass(frozen=True, slots=True)
class ValidLine:
    lineno: int
    data: dict[str, Any]


# --- Parsing and validation -----------------------------------------------------------------


def order_line_parse(*, raw: bytes) -> Any:
    """One line's JSON value as the API's parser reads it, but numbers with a fraction as exact
    Decimals and integers of any size (the serializer's fields bound them).

    Raises ParseError with the API's parse-error wording for what no database could store:
    invalid UTF-8, NaN/Infinity, lone UTF-16 surrogates, nesting past the interpreter's limit.
    """
    return parse_json_line(raw, parse_float=Decimal, int64=False)


def order_line_validate(
    *, raw: RawLine, serializer: OrderLineSerializer, max_line_bytes: int = MAX_LINE_BYTES
) -> ValidLine | LineError:
    """Parse and validate one line without touching the database.

    Errors are `{"field": ["message", ...]}` (the API's 400 body without its `code`).
    """
    if raw.too_long:
        return line_error(raw.lineno, f"Line is longer than {max_line_bytes} bytes.")
    try:
        data = serializer.run_validation(order_line_parse(raw=raw.data))
    except (exceptions.ParseError, exceptions.ValidationError) as exc:
        return LineError(lineno=raw.lineno, errors=error_detail(exc, with_code=False))
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
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Import a JSON Lines stream of orders into `channel`.

    Bad lines are skipped and reported (in line order, through `on_error`); the others are
    written, a batch of `batch_size` lines per transaction. With `atomic=True` the whole stream
    is one transaction: if any line fails, nothing is written and the summary's created /
    updated / unchanged counts are 0. `on_progress(lines_read, bytes_read)` is called after
    each non-blank line.
    """
    with transaction.atomic() if atomic else nullcontext():
        summary = _import(
            channel=channel,
            stream=stream,
            atomic=atomic,
            batch_size=batch_size,
            on_error=on_error,
            on_progress=on_progress,
        )
        if atomic and summary.failed:
            transaction.set_rollback(True)
            summary.roll_back()
    return summary


def _import(
    *,
    channel: Channel,
    stream: IO[bytes],
    atomic: bool,
    batch_size: int,
    on_error: Callable[[LineError], None] | None,
    on_progress: Callable[[int, int], None] | None,
) -> ImportSummary:
    summary = ImportSummary()
    serializer = OrderLineSerializer()
    valid: list[ValidLine] = []
    invalid: list[LineError] = []
    counted = CountingReader(stream)

    def flush() -> None:
        # Under --atomic, once a line has failed the rest is only checked, never written.
        result = BatchResult()
        if valid:
            result = orders_upsert(
                channel=channel, lines=valid, write=not (atomic and (summary.failed or invalid))
            )
        result.errors = sorted([*invalid, *result.errors], key=lambda error: error.lineno)
        summary.add(result)
        if on_error is not None:
            for error in result.errors:
                on_error(error)
        valid.clear()
        invalid.clear()

    for read, raw in enumerate(read_lines(stream=counted, max_line_bytes=MAX_LINE_BYTES), 1):
        outcome = order_line_validate(raw=raw, serializer=serializer)
        if isinstance(outcome, LineError):
            invalid.append(outcome)
        else:
            valid.append(outcome)
        if on_progress is not None:
            on_progress(read, counted.bytes_read)
        if len(valid) + len(invalid) >= batch_size:
            flush()
    if valid or invalid:
        flush()
    return summary
