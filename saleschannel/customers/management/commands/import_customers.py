"""`manage.py import_customers CHANNEL_ID FILE [--format jsonl|csv] [--atomic] [--batch-size N]`.

Upserts customers into channel CHANNEL_ID by `channel_code`. FILE is JSON Lines (one customer
object per line, as the API's PUT body) or CSV (a header row of field names); `-` reads
standard input. Without `--format` the format comes from the extension: `.csv` is CSV;
`.jsonl`, `.ndjson`, `.json` and standard input are JSON Lines. UTF-8, with or without a BOM.

Each row is a whole customer, validated as the API validates a PUT: the six required fields
(`email`, `channel_code`, `is_active`, `email_allowed`, `sms_allowed`, `call_allowed`) must be
given, omitted optional fields get their defaults, keys that are not fields are ignored
(`pk`, `channel`, `created_date`, `modified_date` as in the API). A new `channel_code` creates a
customer; an existing one is updated if a value differs and left untouched (`unchanged`: not
written, `version` and `modified_date` kept) if none does. An email belonging to another
customer of the channel, or a `channel_code`/email repeated within a batch, rejects the row
with the API's `unique` error. Bulk imports write no customer history entries.

CSV cells: `true`/`false` for booleans; JSON fields (`attributes`, `attribute_kwargs`,
`localized_attributes`, `localized_attribute_kwargs`, `extra_field`) as JSON text; an empty
cell is null in a nullable column (`phone_number`, `erp_code`, `date_joined`, `gender`,
`user_type`, `date_of_birth`) and the field's default elsewhere. The header must have a column
for each required field; unknown columns are ignored with a warning.

A bad row (not JSON, not an object, a field error, a uniqueness clash, a line over the API's
request size limit) is skipped and reported on stderr as
`line N: {"email": ["Enter a valid email address."], "code": "invalid"}` (the API's 400 body).
The file is streamed (constant memory) and written `--batch-size` rows (default 1000) per
transaction, so an interruption leaves only whole batches behind: run the import again.
`--atomic` makes the whole file one transaction: one bad row and nothing is written.

At the end one JSON summary is printed on stdout:
`{"created": 3, "updated": 1, "unchanged": 0, "failed": 1, "seconds": 0.2,
"rows_per_second": 25, "errors": [{"line": 4, "errors": {...}}]}` (`errors` lists the first
100 bad rows; `failed` counts them all). On a terminal, stderr shows a progress line.

Exit status: 0 when every row was imported; 1 when any row failed (with or without
`--atomic`) or the command cannot run (unknown channel, unreadable file, unusable CSV header);
130 when interrupted (Ctrl-C): the summary then counts the batches committed so far.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from saleschannel.core.bulk import (
    ImportInterrupted,
    ImportReporter,
    batch_size_type,
    channel_or_error,
    failure_message,
    open_input,
)
from saleschannel.core.commands import JSONCommand
from saleschannel.customers.bulk import (
    DEFAULT_BATCH_SIZE,
    FORMATS,
    MAX_BATCH_SIZE,
    CsvFormatError,
    customers_import,
)

EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def format_of(path: str, given: str | None) -> str:
    if given:
        return given
    if path == "-":
        return "jsonl"
    fmt = EXTENSIONS.get(Path(path).suffix.lower())
    if fmt is None:
        raise CommandError(f"Cannot tell the format of {path} from its name: give --format.")
    return fmt


class Command(JSONCommand):
    help = "Import customers from a JSON Lines or CSV file into a channel (upsert by channel_code)."

    def add_arguments(self, parser):
        parser.add_argument("channel_id", type=int, help="the channel to import into")
        parser.add_argument("file", help="a JSON Lines or CSV file, or - for standard input")
        parser.add_argument(
            "--format", choices=FORMATS, help="jsonl or csv (default: from the file's extension)"
        )
        parser.add_argument(
            "--atomic", action="store_true", help="all or nothing: write nothing if any row is bad"
        )
        parser.add_argument(
            "--batch-size",
            type=batch_size_type(MAX_BATCH_SIZE),
            default=DEFAULT_BATCH_SIZE,
            help=f"rows per transaction (default {DEFAULT_BATCH_SIZE})",
        )

    def handle(self, *args, **options):
        channel = channel_or_error(options["channel_id"])
        path = options["file"]
        fmt = format_of(path, options["format"])
        with open_input(path) as stream:
            summary = self._import(channel, stream, fmt, options)
        self.emit(summary.as_dict())
        if summary.failed:
            raise CommandError(failure_message(summary, "row"), returncode=1)

    def _import(self, channel, stream, fmt, options):
        reporter = ImportReporter(self.stderr, stream)
        try:
            summary = customers_import(
                channel=channel,
                stream=stream,
                fmt=fmt,
                atomic=options["atomic"],
                batch_size=options["batch_size"],
                on_error=reporter.error,
                on_warning=reporter.warning,
                on_progress=reporter.on_progress,
            )
        except CsvFormatError as exc:
            raise CommandError(str(exc)) from exc
        except ImportInterrupted as interrupted:
            reporter.close()
            self.emit(interrupted.summary.as_dict())
            if interrupted.summary.rolled_back:
                message = "Interrupted; --atomic: nothing was written."
            else:
                message = "Interrupted; the summary counts the batches written before."
            raise CommandError(message, returncode=130) from None
        reporter.close()
        return summary
