"""Profile one import in a single thread: where does the time go?

    DATABASE_URL=postgres://... python bench/import/profile_import.py CHANNEL_ID FILE [--rows 50000]

Runs the import's own steps (read, parse, validate, check uniqueness, write) one batch after
the other in this thread, under cProfile, so the writer thread's share is visible too (the
real command overlaps the two halves). Prints the time per row of each phase and the 25
functions with the most own time. Writes into the channel like a real import.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.db import transaction  # noqa: E402

from saleschannel.channels.models import Channel  # noqa: E402
from saleschannel.core.bulk import CountingReader  # noqa: E402
from saleschannel.customers import bulk  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("channel_id", type=int)
    parser.add_argument("file")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=bulk.DEFAULT_BATCH_SIZE)
    args = parser.parse_args()
    channel = Channel.objects.get(pk=args.channel_id)
    phases: dict[str, float] = {}

    def timed(name, function):
        def run(*a, **k):
            started = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - started

        return run

    bulk.validate_row = timed("validate (serializer)", bulk.validate_row)
    bulk.parse_json_line = timed("parse (JSON)", bulk.parse_json_line)
    bulk._holders = timed("uniqueness lookup (SQL)", bulk._holders)
    bulk._write_postgresql = timed("write (COPY + upsert)", bulk._write_postgresql)
    bulk._write_sqlite = timed("write (upsert)", bulk._write_sqlite)

    def run() -> int:
        done = 0
        with open(args.file, "rb") as stream:
            counted = CountingReader(stream)
            rows = itertools.islice(
                bulk.jsonl_rows(stream=counted, max_line_bytes=1 << 20), args.rows
            )
            for batch in bulk._batches(
                rows, channel=channel, size=args.batch_size, on_progress=None, counted=counted
            ):
                with transaction.atomic():
                    bulk.upsert_batch(channel=channel, rows=batch.valid, using="default")
                done += len(batch)
        return done

    profiler = cProfile.Profile()
    started = time.perf_counter()
    done = profiler.runcall(run)
    total = time.perf_counter() - started
    print(f"{done} rows in {total:.1f} s under cProfile: {done / total:,.0f} rows/s")
    for name, seconds in sorted(phases.items(), key=lambda item: -item[1]):
        print(f"  {name:<28} {seconds / done * 1e6:7.1f} us/row  {seconds / total:5.1%}")
    print(f"  {'everything else':<28} {(total - sum(phases.values())) / done * 1e6:7.1f} us/row")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
