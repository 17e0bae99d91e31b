"""Bulk import and export of a channel's customers (`manage.py import_customers` and
`manage.py export_customers`).

Import
------
A file of customers (JSON Lines, or CSV with a header row) is upserted by `channel_code` into
one channel. Each row is a whole customer, validated exactly as the API validates a PUT
(`CustomerSerializer`: the same messages and codes; omitted optional fields get their defaults):

- a new `channel_code` creates a customer; an existing one is updated when any value differs,
  and left alone (not written: `version` and `modified_date` kept) when none does, so importing
  the same file twice changes nothing the second time;
- `email` is unique per channel, case-insensitively: a row whose email belongs to another
  customer of the channel is rejected with the API's `unique` error, and so is a row that
  repeats the `channel_code` or the email of an earlier row of the same batch. Rows apply in
  file order (a customer that gives up an email lets a later row take it). A code repeated in
  a later batch updates the customer the earlier batch wrote.

Rows are written in batches, each batch one transaction: an interrupted import leaves whole
batches only and can simply be run again. Updates bump `version` and set `modified_date`;
inserts set `created_date`. Bulk imports write NO history rows (`CustomerHistory`): a history
entry records a change made through the API, field by field, and computing the old values of a
million rows would halve the import rate. The version bump still invalidates clients' ETags.

On PostgreSQL a batch is copied (COPY, binary) into a temporary staging table and merged with
one `INSERT ... ON CONFLICT (channel_id, channel_code) DO UPDATE ... WHERE <a value differs>
RETURNING version`; on SQLite the same upsert runs with multi-row VALUES. When the database
still refuses a batch (a concurrent writer took an email), that batch is redone one row at a
time through the API's own write path, which reports the conflict as the API does.

Reading, parsing and validation run in the calling thread while the previous batch is written
in a second thread (`saleschannel.core.bulk.BatchWriter`): the file is streamed, in constant
memory.

JSON comparison: PostgreSQL compares `jsonb` values (key order and 1 vs 1.0 do not matter);
SQLite compares the stored JSON text, so there an object whose keys come in another order
counts as changed.

Export
------
The channel's customers, filtered with the API's list filters, in pk order, with each writable
field in the API's representation: exactly what an import reads back.
"""

from __future__ import annotations

import csv
import io
import logging
import queue
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.utils import timezone
from rest_framework import exceptions, serializers

from saleschannel.channels.models import Channel
from saleschannel.core.bulk import (
    BatchResult,
    BatchWriter,
    CountingReader,
    FastValidationMixin,
    ImportInterrupted,
    ImportSummary,
    LineError,
    error_detail,
    line_error,
    parse_json_line,
    read_lines,
)
from saleschannel.core.renderers import dumps

from .models import Customer
from .selectors import customer_list
from .serializers import CUSTOMER_FIELDS, REQUIRED_FIELDS, CustomerSerializer
from .services import UNIQUE_MESSAGES, save_checked, writable_defaults

logger = logging.getLogger("saleschannel.bulk")

FORMATS = ("jsonl", "csv")
DEFAULT_BATCH_SIZE = 1000
MAX_BATCH_SIZE = 10_000
EXPORT_CHUNK = 2000
# Every field an import writes, in the API's order: the columns of an export.
WRITABLE_FIELDS = [
    name
    for name in CUSTOMER_FIELDS
    if name not in {"pk", "channel", "created_date", "modified_date"}
]
# Set by the server, ignored in an import (as the API ignores them in a body).
READ_ONLY_FIELDS = {"pk", "created_date", "modified_date"}
INVALID_JSON = str(serializers.JSONField.default_error_messages["invalid"])


class FastCustomerSerializer(CustomerSerializer, FastValidationMixin):
    """CustomerSerializer with fast validation of well-formed rows: same results and errors."""


class CustomerExportSerializer(CustomerSerializer):
    """The API's representation of the writable fields (no pk, channel or timestamps)."""

    class Meta(CustomerSerializer.Meta):
        fields = WRITABLE_FIELDS


@dataclass(slots=True)
class Row:
    """One record of the input: its decoded value, or why it cannot be read."""

    lineno: int
    data: Any = None
    error: LineError | None = None
    # CSV only: cells that are not valid JSON, `{field: [message]}`.
    cell_errors: dict[str, list[str]] | None = None


@dataclass(frozen=True, slots=True)
class ValidRow:
    lineno: int
    values: dict[str, Any]  # every writable field


@dataclass
class Batch:
    valid: list[ValidRow] = field(default_factory=list)
    invalid: list[LineError] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.valid) + len(self.invalid)


class CsvFormatError(ValueError):
    """The CSV file as a whole cannot be imported (its header)."""


# --- Reading ---------------------------------------------------------------------------------


def jsonl_rows(*, stream: IO[bytes], max_line_bytes: int) -> Iterator[Row]:
    for raw in read_lines(stream=stream, max_line_bytes=max_line_bytes):
        if raw.too_long:
            message = f"Line is longer than {max_line_bytes} bytes."
            yield Row(raw.lineno, error=line_error(raw.lineno, message, "request_too_large"))
            continue
        try:
            data = parse_json_line(raw.data)
        except exceptions.ParseError as exc:
            yield Row(raw.lineno, error=LineError(raw.lineno, error_detail(exc)))
            continue
        yield Row(raw.lineno, data=data)


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    nullable: bool
    json: bool
    boolean: bool


def csv_rows(
    *,
    stream: IO[bytes],
    max_line_bytes: int,
    on_warning: Callable[[str], None] | None = None,
) -> Iterator[Row]:
    """The records of a CSV file (UTF-8, with or without a BOM; a header row of field names).

    Cells become the JSON values the API would receive: `true`/`false` in a boolean column are
    booleans; a JSON column's cell is parsed as JSON; an empty cell is null in a nullable
    column and left out (the field's default) otherwise; any other cell is a string.
    Columns that are not customer fields are ignored (as the API ignores unknown keys).
    """
    csv.field_size_limit(max(csv.field_size_limit(), max_line_bytes))
    text = io.TextIOWrapper(
        io.BufferedReader(_Unclosable(stream)),
        encoding="utf-8-sig",
        errors="surrogateescape",
        newline="",
    )
    try:
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise CsvFormatError(f"Line 1 (the header) is not valid CSV: {exc}.") from None
        if header is None:
            return
        columns = _csv_columns(header, on_warning=on_warning)
        yield from _csv_records(reader, columns)
    finally:
        text.detach()


def _csv_columns(
    header: list[str], *, on_warning: Callable[[str], None] | None
) -> list[_Column | None]:
    names = [name.strip() for name in header]
    if any(_has_surrogate(name) for name in names):
        raise CsvFormatError("Line 1 (the header) is not valid UTF-8.")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise CsvFormatError(f"The header repeats the column(s): {', '.join(duplicates)}.")
    missing = [name for name in REQUIRED_FIELDS if name not in names]
    if missing:
        raise CsvFormatError(f"The header has no column for: {', '.join(missing)}.")
    fields = FastCustomerSerializer().fields
    columns: list[_Column | None] = []
    for name in names:
        field_ = fields.get(name)
        if field_ is None or field_.read_only:
            if name not in READ_ONLY_FIELDS and on_warning is not None:
                on_warning(f"column {name!r} is not a customer field; it is ignored.")
            columns.append(None)
            continue
        columns.append(
            _Column(
                name=name,
                nullable=field_.allow_null,
                json=isinstance(field_, serializers.JSONField),
                boolean=isinstance(field_, serializers.BooleanField),
            )
        )
    return columns


def _csv_records(reader: Any, columns: list[_Column | None]) -> Iterator[Row]:
    last_line = reader.line_num
    while True:
        lineno = last_line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            last_line = reader.line_num
            yield Row(lineno, error=line_error(lineno, f"CSV parse error - {exc}", "parse_error"))
            continue
        last_line = reader.line_num
        if not cells:
            continue  # a blank line
        if len(cells) != len(columns):
            message = f"The row has {len(cells)} cells; the header has {len(columns)}."
            yield Row(lineno, error=line_error(lineno, message, "parse_error"))
            continue
        if any(_has_surrogate(cell) for cell in cells):
            message = "CSV parse error - invalid UTF-8"
            yield Row(lineno, error=line_error(lineno, message, "parse_error"))
            continue
        yield _csv_row(lineno, columns, cells)


def _csv_row(lineno: int, columns: list[_Column | None], cells: list[str]) -> Row:
    data: dict[str, Any] = {}
    cell_errors: dict[str, list[str]] = {}
    for column, cell in zip(columns, cells, strict=True):
        if column is None:
            continue
        if cell == "":
            if column.nullable:
                data[column.name] = None
            continue
        if column.json:
            try:
                data[column.name] = parse_json_line(cell.encode())
            except exceptions.ParseError:
                cell_errors[column.name] = [INVALID_JSON]
        elif column.boolean and cell in ("true", "false"):
            data[column.name] = cell == "true"
        else:
            data[column.name] = cell
    return Row(lineno, data=data, cell_errors=cell_errors or None)


def _has_surrogate(text: str) -> bool:
    # Undecodable bytes come through `surrogateescape` as lone surrogates.
    return not text.isascii() and any("\udc80" <= char <= "\udcff" for char in text)


class _Unclosable(io.RawIOBase):
    """A view of a binary stream that the text wrapper on top of it cannot close."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self.raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# --- Validation ------------------------------------------------------------------------------

_DEFAULTS = writable_defaults()


def validate_row(row: Row, serializer: CustomerSerializer) -> ValidRow | LineError:
    """A row validated as the API validates a PUT body, with every writable field set."""
    if row.error is not None:
        return row.error
    try:
        data = serializer.run_validation(row.data)
    except (exceptions.ValidationError, DjangoValidationError) as exc:
        errors = error_detail(exc)
        if row.cell_errors:
            code = errors.pop("code")
            errors = {**errors, **row.cell_errors, "code": code}
        return LineError(row.lineno, errors)
    if row.cell_errors:
        return LineError(row.lineno, {**row.cell_errors, "code": "invalid"})
    return ValidRow(row.lineno, {**_DEFAULTS, **data})


# --- Writing ---------------------------------------------------------------------------------


def _unique_error(lineno: int, names: list[str]) -> LineError:
    """The API's error for a taken email / channel_code (services.UNIQUE_MESSAGES)."""
    exc = DjangoValidationError(
        {name: DjangoValidationError(UNIQUE_MESSAGES[name], code="unique") for name in names}
    )
    return LineError(lineno, error_detail(exc))


def _holders(
    *, connection: Any, channel: Channel, codes: list[str], emails: list[str]
) -> list[tuple[str, str]]:
    """(channel_code, email) of the channel's customers with one of these codes or emails
    (emails compared lower-cased)."""
    table = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT channel_code, email FROM {table} WHERE channel_id = %s "
                "AND (channel_code = ANY(%s) OR LOWER(email) = ANY(%s))",
                [channel.pk, codes, emails],
            )
            return cursor.fetchall()
        found: list[tuple[str, str]] = []
        step = (connection.features.max_query_params or 1000) - 1
        for column, values in (("channel_code", codes), ("LOWER(email)", emails)):
            for start in range(0, len(values), step):
                chunk = values[start : start + step]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"SELECT channel_code, email FROM {table} "
                    f"WHERE channel_id = %s AND {column} IN ({marks})",
                    [channel.pk, *chunk],
                )
                found.extend(cursor.fetchall())
        return found


def _check_unique(
    *, connection: Any, channel: Channel, rows: Sequence[ValidRow], result: BatchResult
) -> list[ValidRow]:
    """The rows that keep email and channel_code unique when applied in order; the others
    are added to `result.errors`."""
    codes = sorted({row.values["channel_code"] for row in rows})
    emails = sorted({row.values["email"].lower() for row in rows})
    email_of: dict[str, str] = {}  # channel_code -> lower-cased email
    holder: dict[str, str] = {}  # lower-cased email -> channel_code
    for code, email in _holders(connection=connection, channel=channel, codes=codes, emails=emails):
        email_of[code] = email.lower()
        holder[email.lower()] = code
    accepted = []
    seen: set[str] = set()
    for row in rows:
        code = row.values["channel_code"]
        email = row.values["email"].lower()
        taken = [
            name
            for name, clash in (
                ("email", holder.get(email, code) != code),
                ("channel_code", code in seen),
            )
            if clash
        ]
        if taken:
            result.errors.append(_unique_error(row.lineno, taken))
            continue
        seen.add(code)
        previous = email_of.get(code)
        if previous is not None and holder.get(previous) == code:
            del holder[previous]
        holder[email] = code
        email_of[code] = email
        accepted.append(row)
    return accepted


def _staging_type(name: str) -> str:
    kind = Customer._meta.get_field(name).get_internal_type()
    types = {
        "CharField": "text",
        "EmailField": "text",
        "BooleanField": "bool",
        "JSONField": "jsonb",
        "DateTimeField": "timestamptz",
        "DateField": "date",
    }
    if kind not in types:  # pragma: no cover - a new kind of field needs a staging type
        raise NotImplementedError(f"no staging type for {name} ({kind})")
    return types[kind]


STAGING_TABLE = "customer_import_staging"
STAGING_TYPES = [_staging_type(name) for name in WRITABLE_FIELDS]


def _upsert_sql(connection: Any, source: str) -> str:
    """`INSERT ... <source> ON CONFLICT (channel, channel_code) DO UPDATE ... WHERE <changed>
    RETURNING version`: a new row comes back with version 1, an updated one with more, an
    unchanged one not at all."""
    quote = connection.ops.quote_name
    table = quote(Customer._meta.db_table)
    columns = [quote(Customer._meta.get_field(name).column) for name in WRITABLE_FIELDS]
    version, modified = quote("version"), quote("modified_date")
    assignments = ", ".join(f"{column} = EXCLUDED.{column}" for column in columns)
    distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    changed = " OR ".join(f"t.{column} {distinct} EXCLUDED.{column}" for column in columns)
    return (
        f"INSERT INTO {table} AS t ({quote('channel_id')}, {', '.join(columns)}, "
        f"{quote('created_date')}, {modified}, {version}) {source} "
        f"ON CONFLICT ({quote('channel_id')}, {quote('channel_code')}) DO UPDATE SET "
        f"{assignments}, {modified} = EXCLUDED.{modified}, {version} = t.{version} + 1 "
        f"WHERE {changed} RETURNING {version}"
    )


def _write_postgresql(
    *, connection: Any, channel: Channel, rows: Sequence[ValidRow], now: Any
) -> list[int]:
    from psycopg.types.json import set_json_dumps

    columns = ", ".join(WRITABLE_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING_TABLE} ("
            + ", ".join(f"{n} {t}" for n, t in zip(WRITABLE_FIELDS, STAGING_TYPES, strict=True))
            + ")"
        )
        cursor.execute(f"TRUNCATE {STAGING_TABLE}")
        raw = cursor.cursor  # psycopg's own cursor: COPY
        set_json_dumps(dumps, context=raw)
        with raw.copy(f"COPY {STAGING_TABLE} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(STAGING_TYPES)
            for row in rows:
                values = row.values
                copy.write_row([values[name] for name in WRITABLE_FIELDS])
        source = f"SELECT %s, {columns}, %s, %s, 1 FROM {STAGING_TABLE} ORDER BY channel_code"
        # Rows are inserted and locked in channel_code order: concurrent imports cannot deadlock.
        cursor.execute(_upsert_sql(connection, source), [channel.pk, now, now])
        return [version for (version,) in cursor.fetchall()]


def _write_sqlite(
    *, connection: Any, channel: Channel, rows: Sequence[ValidRow], now: Any
) -> list[int]:
    fields = [Customer._meta.get_field(name) for name in WRITABLE_FIELDS]
    stamp = Customer._meta.get_field("created_date").get_db_prep_save(now, connection)
    width = len(fields) + 4
    per_statement = max(1, (connection.features.max_query_params or 999) // width)
    versions: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            marks = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(chunk))
            params: list[Any] = []
            for row in chunk:
                values = row.values
                params.append(channel.pk)
                params.extend(
                    field_.get_db_prep_save(values[field_.name], connection) for field_ in fields
                )
                params.extend((stamp, stamp, 1))
            cursor.execute(_upsert_sql(connection, f"VALUES {marks}"), params)
            versions.extend(version for (version,) in cursor.fetchall())
    return versions


def _write_one_by_one(*, channel: Channel, rows: Sequence[ValidRow], result: BatchResult) -> None:
    """Each row through the API's write path (services.save_checked), in file order."""
    for row in rows:
        values = row.values
        existing = (
            Customer.objects.select_for_update()
            .filter(channel=channel, channel_code=values["channel_code"])
            .first()
        )
        try:
            if existing is None:
                save_checked(Customer(channel=channel, **values), force_insert=True)
                result.created += 1
                continue
            changed = [name for name, value in values.items() if getattr(existing, name) != value]
            if not changed:
                result.unchanged += 1
                continue
            for name in changed:
                setattr(existing, name, values[name])
            existing.version += 1
            save_checked(existing, update_fields=[*changed, "version", "modified_date"])
            result.updated += 1
        except DjangoValidationError as exc:
            result.errors.append(LineError(row.lineno, error_detail(exc)))


class PlannerStatistics:
    """Keeps PostgreSQL's statistics in step with a channel that an import makes grow.

    Each batch looks its codes and emails up through the unique indexes; the planner only
    uses them if it knows the channel is large. Statistics taken before the import (or never)
    make it think the channel is tiny, and every batch would then read the whole channel.
    So the table is analyzed whenever the rows this import created since the last look are
    at least as many as the channel had then (and at least ANALYZE_MIN_ROWS): a few times for
    a million rows, each a sample of at most 30,000 rows. A no-op on other databases.
    """

    ANALYZE_MIN_ROWS = 10_000

    def __init__(self, *, channel: Channel, using: str) -> None:
        self.channel = channel
        self.using = using
        self.baseline: int | None = None
        self.created = 0

    def written(self, created: int) -> None:
        connection = connections[self.using]
        if connection.vendor != "postgresql":
            return
        if self.baseline is None:  # the first batch: the channel's size now, with it
            self.baseline = Customer.objects.using(self.using).filter(channel=self.channel).count()
            return
        self.created += created
        if self.created >= max(self.ANALYZE_MIN_ROWS, self.baseline):
            self.baseline += self.created
            self.created = 0
            table = connection.ops.quote_name(Customer._meta.db_table)
            try:
                with transaction.atomic(using=self.using), connection.cursor() as cursor:
                    cursor.execute(f"ANALYZE {table}")
            except DatabaseError as exc:  # e.g. the statement timeout: plans just stay as they are
                logger.warning("ANALYZE %s failed during an import: %s", table, exc)


def upsert_batch(*, channel: Channel, rows: Sequence[ValidRow], using: str) -> BatchResult:
    """Upsert validated rows by channel_code in one transaction (see the module docstring)."""
    result = BatchResult()
    if not rows:
        return result
    connection = connections[using]
    now = timezone.now()
    with transaction.atomic(using=using):
        accepted = _check_unique(connection=connection, channel=channel, rows=rows, result=result)
        if not accepted:
            return result
        write = _write_postgresql if connection.vendor == "postgresql" else _write_sqlite
        try:
            with transaction.atomic(using=using):
                versions = write(connection=connection, channel=channel, rows=accepted, now=now)
        except IntegrityError:
            # An email taken concurrently, or swapped between rows in a way one statement
            # cannot apply: redo this batch row by row, as the API would.
            _write_one_by_one(channel=channel, rows=accepted, result=result)
        else:
            result.created += sum(1 for version in versions if version == 1)
            result.updated += len(versions) - result.created
            result.unchanged += len(accepted) - len(versions)
    return result


# --- The import ------------------------------------------------------------------------------


def customers_import(
    *,
    channel: Channel,
    stream: IO[bytes],
    fmt: str = "jsonl",
    atomic: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_error: Callable[[LineError], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Import a JSON Lines (`fmt="jsonl"`) or CSV stream of customers into `channel`.

    Bad rows are skipped and reported through `on_error` (in line order, in the calling
    thread); the others are written, `batch_size` rows per transaction. With `atomic=True`
    the whole stream is one transaction: if any row fails, nothing is written and the
    summary's created/updated/unchanged are 0. `on_progress(rows_read, bytes_read)` is called
    after each row. On KeyboardInterrupt the batch being written is completed (or, with
    `atomic`, everything is rolled back) and ImportInterrupted carries the summary so far.
    Raises CsvFormatError for a CSV header that cannot be used (before anything is written).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    using = router.db_for_write(Customer)
    max_line_bytes = settings.MAX_REQUEST_BODY_BYTES
    counted = CountingReader(stream)
    if fmt == "csv":
        rows = csv_rows(stream=counted, max_line_bytes=max_line_bytes, on_warning=on_warning)
    else:
        rows = jsonl_rows(stream=counted, max_line_bytes=max_line_bytes)
    summary = ImportSummary()
    results: queue.SimpleQueue[BatchResult] = queue.SimpleQueue()
    failed = False
    statistics = PlannerStatistics(channel=channel, using=using)

    def write(batch: Batch) -> None:  # in the writer thread
        nonlocal failed
        result = upsert_batch(channel=channel, rows=batch.valid, using=using)
        statistics.written(result.created)
        result.errors = sorted([*batch.invalid, *result.errors], key=lambda error: error.lineno)
        failed = failed or bool(result.errors)
        results.put(result)

    def finish() -> None:  # in the writer thread, inside the --atomic transaction
        if failed:
            transaction.set_rollback(True, using=using)

    def drain() -> None:
        while True:
            try:
                result = results.get_nowait()
            except queue.Empty:
                return
            summary.add(result)
            if on_error is not None:
                for error in result.errors:
                    on_error(error)

    writer = BatchWriter(
        handle=write, using=using, atomic=atomic, finish=finish if atomic else None
    )
    writer.start()
    try:
        for batch in _batches(
            rows, channel=channel, size=batch_size, on_progress=on_progress, counted=counted
        ):
            writer.submit(batch)
            drain()
        writer.close()
    except KeyboardInterrupt:
        writer.abort()
        drain()
        if atomic:
            summary.roll_back()
        summary.interrupted = True
        summary.stop_clock()
        raise ImportInterrupted(summary) from None
    except BaseException:
        writer.abort()
        raise
    drain()
    if atomic and summary.failed:
        summary.roll_back()
    summary.stop_clock()
    return summary


def _batches(
    rows: Iterable[Row],
    *,
    channel: Channel,
    size: int,
    on_progress: Callable[[int, int], None] | None,
    counted: CountingReader,
) -> Iterator[Batch]:
    serializer = FastCustomerSerializer(context={"channel": channel})
    batch = Batch()
    for read, row in enumerate(rows, 1):
        outcome = validate_row(row, serializer)
        if isinstance(outcome, LineError):
            batch.invalid.append(outcome)
        else:
            batch.valid.append(outcome)
        if on_progress is not None:
            on_progress(read, counted.bytes_read)
        if len(batch) >= size:
            yield batch
            batch = Batch()
    if batch:
        yield batch


# --- The export ------------------------------------------------------------------------------


def customers_export(
    *,
    channel: Channel,
    params: Any,
    stream: IO[bytes],
    fmt: str = "jsonl",
    chunk_size: int = EXPORT_CHUNK,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write the channel's customers matching the API's list filters `params` (a QueryDict)
    to a binary stream, in pk order; return how many.

    JSON Lines: one object per customer with every writable field, as the API represents it.
    CSV: a header row, then one row per customer: booleans `true`/`false`, JSON fields as JSON
    text, null as an empty cell. A bad filter raises the API's ValidationError before anything
    is written. Reads `chunk_size` customers per query (keyset on pk): constant memory.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    queryset = customer_list(channel=channel, params=params).order_by("pk")
    serializer = CustomerExportSerializer()
    text = None
    if fmt == "csv":
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text)
        writer.writerow(WRITABLE_FIELDS)
    count = 0
    try:
        for customer in _keyset(queryset, chunk_size):
            data = serializer.to_representation(customer)
            if text is not None:
                writer.writerow([_csv_cell(data[name]) for name in WRITABLE_FIELDS])
            else:
                stream.write(dumps(data) + b"\n")
            count += 1
            if on_progress is not None:
                on_progress(count)
    finally:
        if text is not None:
            text.flush()
            text.detach()
    return count


def _keyset(queryset: Any, chunk_size: int) -> Iterator[Customer]:
    last = 0
    while True:
        page = list(queryset.filter(pk__gt=last)[:chunk_size])
        yield from page
        if len(page) < chunk_size:
            return
        last = page[-1].pk


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict | list):
        return dumps(value).decode()
    return str(value)
