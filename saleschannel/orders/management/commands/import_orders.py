"""`manage.py import_orders CHANNEL_ID FILE [--atomic] [--batch-size N]`: import orders.

FILE is JSON Lines (UTF-8, one JSON object per line; `-` reads standard input). Each object is
one order of channel CHANNEL_ID:

| key | required | value |
| --- | --- | --- |
| `number` | yes | text, at most 128 characters; unique per channel: the key of the upsert |
| `customer` | one of these two | the customer's pk, in this channel |
| `customer_channel_code` | one of these two | the customer's `channel_code` in this channel |
| `amount` | yes | decimal, at most 12 digits and 2 places, not negative (number or string) |
| `discount_amount`, `refund_amount` | no (default 0) | as `amount` |
| `status` | yes | the Omnitron order status code, text of at most 8 characters, e.g. `"400"` |
| `currency` | yes | ISO 4217 code: three letters in any case, stored upper case |
| `created_date` | no | ISO 8601 date-time (without an offset it is UTC); default: now |

Example line:
`{"number": "ORD-1", "customer_channel_code": "C-42", "amount": "120.50", "status": "400",
"currency": "try", "created_date": "2024-05-01T10:00:00+03:00"}`

Upsert by `number`: a new number creates an order; an existing order whose values differ is
updated (an omitted `created_date` keeps the stored one); an existing order with the same values
is not written at all (its `modified_date` stays). Importing the same file twice therefore
changes nothing the second time. A number given twice in a file is applied in file order.

A bad line (not JSON, not an object, a field error, an unknown key, no customer or both
customer keys, a customer that is not in the channel, longer than 1 MiB) is skipped: nothing of
it is written, and it is reported on stderr as `line N: {"field": ["message", ...]}`. Blank
lines are ignored (they still count for line numbers). The other lines are imported.

The file is read one line at a time (constant memory) and written in batches of `--batch-size`
lines (default 1000), each batch one transaction, so an interrupted import leaves only whole
batches behind and can simply be run again. With `--atomic` the whole file is one transaction:
if any line is bad, nothing at all is written (every bad line is still reported, and the
summary's created/updated/unchanged counts are 0).

At the end one JSON summary is printed on stdout:
`{"created": 3, "updated": 1, "unchanged": 0, "failed": 1,
"errors": [{"line": 4, "errors": {"amount": ["A valid number is required."]}}]}`
(`errors` lists the first 100 bad lines; `failed` counts them all). On a terminal, stderr
shows a progress line.

Exit status: 0 when every line was imported, 1 when any line failed (with or without
`--atomic`) or when the command cannot run (unknown channel, unreadable file).
"""

from __future__ import annotations

from django.core.management.base import CommandError

from saleschannel.core.bulk import (
    ImportReporter,
    batch_size_type,
    channel_or_error,
    failure_message,
    open_input,
)
from saleschannel.core.commands import JSONCommand
from saleschannel.orders.services import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, orders_import


class Command(JSONCommand):
    help = "Import orders from a JSON Lines file into a channel (upsert by number)."

    def add_arguments(self, parser):
        parser.add_argument("channel_id", type=int, help="the channel to import into")
        parser.add_argument("file", help="a JSON Lines file, or - for standard input")
        parser.add_argument(
            "--atomic",
            action="store_true",
            help="all or nothing: write nothing if any line is bad",
        )
        parser.add_argument(
            "--batch-size",
            type=batch_size_type(MAX_BATCH_SIZE),
            default=DEFAULT_BATCH_SIZE,
            help=f"lines per transaction (default {DEFAULT_BATCH_SIZE})",
        )

    def handle(self, *args, **options):
        channel = channel_or_error(options["channel_id"])
        with open_input(options["file"]) as stream:
            reporter = ImportReporter(self.stderr, stream, noun="lines")
            try:
                summary = orders_import(
                    channel=channel,
                    stream=stream,
                    atomic=options["atomic"],
                    batch_size=options["batch_size"],
                    on_error=reporter.error,
                    on_progress=reporter.on_progress,
                )
            finally:
                reporter.close()

        self.emit(summary.as_dict(timing=False))
        if summary.failed:
            raise CommandError(failure_message(summary, "line"), returncode=1)
