"""`manage.py export_customers CHANNEL_ID [--format jsonl|csv] [-o FILE] [--filter KEY=VALUE ...]`.

Writes the channel's customers, in pk order, to FILE (or standard output): JSON Lines (one
object per customer) or CSV (a header row, then one row per customer). Each customer has every
writable field in the API's representation (`email`, `first_name`, ... `date_of_birth`; not
`pk`, `channel`, `created_date`, `modified_date`), so `import_customers` reads an export back
into any channel, field for field. CSV follows the import's rules: `true`/`false`, JSON fields
as JSON text, null as an empty cell (so an empty string in `phone_number`/`erp_code` comes back
as null from CSV; JSON Lines keeps the difference).

`--filter KEY=VALUE` (repeatable) takes every filter of the API's customer list, with the same
meaning and the same errors: `--filter is_active=true --filter email__startswith=ali`,
`--filter attributes__color=red`, `--filter created_date__date__gte=2024-01-01`. A bad value is
an error with the API's message; an unknown key is an error too (the API ignores it, but a
mistyped filter in a command would silently export everything). `sort`, `page` and `limit` do
not apply: an export is the whole result, in pk order.

Without `--format` the format comes from FILE's extension (`.csv`; `.jsonl`, `.ndjson`,
`.json`), JSON Lines on standard output. FILE is written under a temporary name and renamed
when complete. Memory stays constant: customers are read 2000 at a time. On a terminal,
stderr shows a progress line; at the end `{"exported": N, "seconds": S}` is printed on stderr.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path

from django.core.management.base import CommandError
from django.http import QueryDict
from rest_framework.exceptions import ValidationError

from saleschannel.core.bulk import Progress, error_detail
from saleschannel.core.commands import JSONCommand
from saleschannel.core.renderers import dumps
from saleschannel.customers.bulk import FORMATS, customers_export
from saleschannel.customers.filters import CustomerFilter
from saleschannel.customers.management.commands.import_customers import (
    EXTENSIONS,
    channel_or_error,
)
from saleschannel.customers.selectors import JSON_FILTER_FIELDS

NOT_FILTERS = {"sort", "page", "limit"}


def filter_params(pairs: list[str]) -> QueryDict:
    params = QueryDict(mutable=True)
    known = set(CustomerFilter.base_filters)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--filter {pair!r}: expected KEY=VALUE.")
        if key in NOT_FILTERS:
            raise CommandError(f"--filter {key}: exports are the whole result, in pk order.")
        json_key = any(key.startswith(f"{name}__") for name in JSON_FILTER_FIELDS)
        if key not in known and not json_key:
            raise CommandError(f"--filter {key}: not a filter of the customer list.")
        params.appendlist(key, value)
    return params


class _TextSink(io.RawIOBase):
    """Bytes written to a text stream (standard output replaced by a StringIO, in tests)."""

    def __init__(self, out) -> None:
        super().__init__()
        self.out = out

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.out.write(bytes(data).decode("utf-8"))
        return len(data)


class Command(JSONCommand):
    help = "Export a channel's customers as JSON Lines or CSV (re-importable)."

    def add_arguments(self, parser):
        parser.add_argument("channel_id", type=int, help="the channel to export")
        parser.add_argument("--format", choices=FORMATS, help="jsonl or csv")
        parser.add_argument("-o", "--output", help="the file to write (default: standard output)")
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a filter of the API's customer list (repeatable)",
        )

    def handle(self, *args, **options):
        channel = channel_or_error(options["channel_id"])
        params = filter_params(options["filter"])
        path = options["output"]
        fmt = options["format"]
        if fmt is None and path:
            fmt = EXTENSIONS.get(Path(path).suffix.lower())
            if fmt is None:
                raise CommandError(
                    f"Cannot tell the format of {path} from its name: give --format."
                )
        fmt = fmt or "jsonl"

        started = time.perf_counter()
        if path:
            count = self._to_file(channel, params, fmt, Path(path))
        else:
            out = self.stdout._out
            buffer = getattr(out, "buffer", None)
            count = self._export(
                channel, params, fmt, buffer if buffer is not None else _TextSink(out)
            )
            out.flush()
        summary = {"exported": count, "seconds": round(time.perf_counter() - started, 3)}
        self.stderr.write(dumps(summary).decode(), style_func=lambda text: text)

    def _to_file(self, channel, params, fmt, path: Path) -> int:
        directory = path.parent if str(path.parent) else Path(".")
        try:
            handle, temporary = tempfile.mkstemp(
                dir=directory, prefix=f".{path.name}.", suffix=".tmp"
            )
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror}.") from exc
        try:
            with os.fdopen(handle, "wb") as stream:
                count = self._export(channel, params, fmt, stream)
            os.chmod(temporary, 0o666 & ~_umask())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return count

    def _export(self, channel, params, fmt, stream) -> int:
        progress = None
        on_progress = None
        if self.stderr.isatty():
            progress = Progress(self.stderr._out, noun="customers")

            def on_progress(count: int) -> None:
                progress.update(count)

        try:
            count = customers_export(
                channel=channel, params=params, stream=stream, fmt=fmt, on_progress=on_progress
            )
        except ValidationError as exc:
            raise CommandError(dumps(error_detail(exc)).decode()) from exc
        if progress is not None:
            progress.close(count)
        return count


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
