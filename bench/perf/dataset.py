#!/usr/bin/env python3
"""Fill a migrated PostgreSQL database with the performance benchmark's data set.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scc_perf .venv/bin/python bench/perf/dataset.py
        [--quick] [--big N] [--small N] [--small-channels N] [--orders N] [--seed S] [--reset]

Default: one channel of 1,000,000 customers ("perf-big"), nine of 10,000 ("perf-small-1".."9")
and 3,000,000 orders; --quick: 100,000 + 9 x 10,000 customers and 300,000 orders.

How it loads fast, in constant memory: rows are generated on the fly and streamed with
PostgreSQL COPY (psycopg 3 `cursor.copy()` + `write_row`). In one transaction, the secondary
indexes and the foreign-key/unique constraints of the two tables are dropped, both tables are
loaded, then every dropped index/constraint is re-created from its own definition (read from
the catalog, so indexes added by later migrations are kept too); if anything fails, the
transaction rolls back and the schema is untouched. Then VACUUM ANALYZE.

What the data looks like (seeded: the same seed gives the same rows):
- Customers of all channels are interleaved in time (a channel's rows are spread over the
  table, as in a real shared table), created_date rising with the id over three years;
  modified_date = created_date, or later for 30 %; version 1.
- emails `first.last.<n>@domain` (unique per channel, lower case), first/last names from lists of
  40, phones `+90 5xx xxx xx xx` (8 % null), channel_code a 9-digit number unique per channel,
  erp_code `ERP-123456` (15 % null), attributes {"segment": gold 10 % | silver 30 % | bronze 60 %,
  "visits": 0..500, "city": one of 20}, extra_field {"source": web|app|store|marketplace,
  "newsletter": bool}, booleans with different rates, gender and user_type with nulls,
  date_joined 2012..creation (5 % null), date_of_birth 1950..2006 (20 % null).
- Orders: customers drawn with a skew (a few buy a lot, about a fifth never buy; the heavy
  buyers are spread evenly over the channels and the years); number
  `ORD-<n>` unique, status among Omnitron codes, currency mostly TRY, amount 10.00..5000.00,
  discount on 25 %, refund on 5 %, created after the customer.

The last line printed is a JSON manifest: {"channels": [{"id", "name", "customers"}], ...}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import sys
import time

import psycopg
from psycopg import sql

# Stored in each channel's conf; run.py reloads a data set made by another version.
DATASET_VERSION = "2"
DEFAULT_SEED = 20240601
BIG_NAME = "perf-big"
SMALL_PREFIX = "perf-small-"

FIRST_NAMES = (  # noqa: SIM905
    "Ahmet Mehmet Mustafa Ali Huseyin Hasan Ibrahim Ismail Osman Yusuf Murat Omer Emre Burak "
    "Can Kemal Serkan Cem Okan Kerem Ayse Fatma Emine Hatice Zeynep Elif Meryem Sultan Hacer "
    "Merve Esra Ozlem Ebru Derya Selin Ceren Deniz Gamze Irem Buse"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Yilmaz Kaya Demir Sahin Celik Yildiz Yildirim Ozturk Aydin Ozdemir Arslan Dogan Kilic "
    "Aslan Cetin Kara Koc Kurt Ozkan Simsek Polat Ozcan Korkmaz Cakir Erdogan Yavuz Can Acar "
    "Sen Aktas Guler Yalcin Gunes Bozkurt Bulut Keskin Unal Turan Gul Ozer"
).split()
DOMAINS = ["example.com", "mail.example.org", "shop.example.net", "posta.example.com.tr"]
CITIES = (  # noqa: SIM905
    "Istanbul Ankara Izmir Bursa Antalya Adana Konya Gaziantep Sanliurfa Kocaeli Mersin "
    "Diyarbakir Hatay Manisa Kayseri Samsun Balikesir Kahramanmaras Van Aydin"
).split()
SOURCES = ["web", "app", "store", "marketplace"]
CHANNEL_TYPES = (  # noqa: SIM905
    "web trendyol hepsiburada n11 amazon ciceksepeti pazarama flo emag aliexpress"
).split()
ORDER_STATUSES = ["100", "200", "300", "400", "450", "500", "510", "550", "600"]
ORDER_STATUS_WEIGHTS = [5, 5, 5, 10, 5, 55, 5, 5, 5]
CURRENCIES = ["TRY"] * 85 + ["USD"] * 7 + ["EUR"] * 6 + ["GBP"] * 2


def weighted(pairs: list[tuple[object, int]]) -> list[object]:
    """A list of 100 items in which each value appears `percent` times (index with rnd*100)."""
    table = [value for value, percent in pairs for _ in range(percent)]
    assert len(table) == 100, pairs
    return table


SEGMENTS = weighted([("gold", 10), ("silver", 30), ("bronze", 60)])
GENDERS = weighted([("female", 45), ("male", 40), (None, 15)])
USER_TYPES = weighted([("registered", 70), ("guest", 25), (None, 5)])

# Primes for the rank -> customer bijection of orders(): the first coprime with the row count.
STRIDES = [1_000_003, 999_983, 7_919, 104_729]

CUSTOMER_TABLE = "customers_customer"
ORDER_TABLE = "orders_order"
CHANNEL_TABLE = "channels_channel"


def log(message: str) -> None:
    print(message, flush=True)


class Timer:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.steps: dict[str, float] = {}

    def step(self, name: str, since: float) -> float:
        now = time.monotonic()
        self.steps[name] = round(now - since, 2)
        log(f"  {name}: {now - since:.1f} s")
        return now


def table_columns(cur: psycopg.Cursor, table: str) -> dict[str, tuple[bool, bool]]:
    """column -> (NOT NULL, has a database default or identity)."""
    cur.execute(
        "SELECT column_name, is_nullable = 'NO', column_default IS NOT NULL OR is_identity = 'YES'"
        " FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = %s ORDER BY ordinal_position",
        (table,),
    )
    return {name: (not_null, has_default) for name, not_null, has_default in cur.fetchall()}


def copy_columns(cur: psycopg.Cursor, table: str, generated: list[str]) -> list[str]:
    """The columns to COPY: `generated` (all of which must exist), after checking that every NOT
    NULL column without a default is among them (a column added by a later migration fails here
    with its name instead of half-way through the load)."""
    columns = table_columns(cur, table)
    if not columns:
        sys.exit(f"table {table} is missing: run `manage.py migrate` on this database first")
    unknown = [name for name in generated if name not in columns]
    missing = [
        name
        for name, (not_null, has_default) in columns.items()
        if not_null and not has_default and name not in generated
    ]
    if unknown or missing:
        sys.exit(
            f"{table}: the generator does not match the schema "
            f"(generated but not in the table: {unknown}; NOT NULL without a value: {missing})"
        )
    return generated


def drop_secondary(cur: psycopg.Cursor, table: str) -> list[tuple[str, str]]:
    """Drop every index and constraint of `table` except its primary key and CHECKs.

    Returns the statements that re-create them, in an order that works (unique
    constraints and indexes before the foreign keys that may depend on them)."""
    cur.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype IN ('f', 'u', 'x') ORDER BY conname",
        (table,),
    )
    constraints = cur.fetchall()
    cur.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND i.indexrelid NOT IN"
        " (SELECT conindid FROM pg_constraint WHERE conrelid = %s::regclass AND conindid <> 0)"
        " ORDER BY 1",
        (table, table),
    )
    indexes = cur.fetchall()
    recreate: list[tuple[str, str]] = []
    for name, contype, definition in constraints:
        cur.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(table), sql.Identifier(name)
            )
        )
        statement = f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"
        recreate.append((contype, statement))
    for name, definition in indexes:
        cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        recreate.append(("i", definition))
    order = {"u": 0, "x": 0, "i": 1, "f": 2}
    recreate.sort(key=lambda item: order[item[0]])
    return [(statement.split(" ON ")[0][:90], statement) for _, statement in recreate]


class Layout:
    """Which channel each customer position belongs to, without storing a list.

    Positions come in blocks: each block holds `big_per_block` rows of the big channel and one
    row of each small channel, at fixed spread-out offsets. Rows past the last block belong to
    the big channel."""

    def __init__(self, big: int, small: int, small_channels: int) -> None:
        self.blocks = small if small_channels else 0
        self.big_per_block = big // self.blocks if self.blocks else 0
        self.block = self.big_per_block + small_channels
        self.total = big + small * small_channels
        self.slots: list[int] = [0] * self.block  # 0 = big, k = small channel k
        if small_channels:
            spacing = self.block / small_channels
            for k in range(small_channels):
                self.slots[int(k * spacing + spacing / 2)] = k + 1

    def channel_index(self, position: int) -> int:
        if position >= self.blocks * self.block:
            return 0
        return self.slots[position % self.block]


def customers(
    rng: random.Random,
    layout: Layout,
    channel_ids: list[int],
    first_id: int,
    start: dt.datetime,
    span_s: float,
):
    """Yield customer rows (tuples in CUSTOMER_COLUMNS order), oldest first."""
    rnd = rng.random
    randint = rng.randint
    seq = [0] * len(channel_ids)
    nfirst, nlast, ndomain, ncity = len(FIRST_NAMES), len(LAST_NAMES), len(DOMAINS), len(CITIES)
    step = span_s / layout.total
    joined_floor = dt.datetime(2012, 1, 1, tzinfo=dt.UTC)
    birth_floor = dt.date(1950, 1, 1).toordinal()
    birth_span = dt.date(2006, 12, 31).toordinal() - birth_floor
    now_ts = start.timestamp() + span_s
    for position in range(layout.total):
        channel = layout.channel_index(position)
        seq[channel] += 1
        n = seq[channel]
        first = FIRST_NAMES[int(rnd() * nfirst)]
        last = LAST_NAMES[int(rnd() * nlast)]
        email = f"{first}.{last}.{n}@{DOMAINS[int(rnd() * ndomain)]}".lower()
        created = start + dt.timedelta(seconds=min(position * step + rnd() * 3600, span_s))
        if rnd() < 0.3:
            created_ts = created.timestamp()
            modified = created + dt.timedelta(seconds=rnd() * (now_ts - created_ts))
        else:
            modified = created
        r = rnd()
        phone = (
            None
            if r < 0.08
            else f"+90 5{randint(30, 59)} {randint(100, 999)} {randint(10, 99)} {randint(10, 99)}"
        )
        erp = None if rnd() < 0.15 else f"ERP-{randint(0, 999_999):06d}"
        attributes = (
            f'{{"segment": "{SEGMENTS[int(rnd() * 100)]}", "visits": {int(rnd() * rnd() * 501)},'
            f' "city": "{CITIES[int(rnd() * ncity)]}"}}'
        )
        extra = (
            f'{{"source": "{SOURCES[int(rnd() * 4)]}", '
            f'"newsletter": {"true" if rnd() < 0.4 else "false"}}}'
        )
        joined = None if rnd() < 0.05 else joined_floor + (created - joined_floor) * rnd()
        birth = None if rnd() < 0.2 else dt.date.fromordinal(birth_floor + int(rnd() * birth_span))
        yield (
            first_id + position,
            channel_ids[channel],
            email,
            first,
            last,
            phone,
            rnd() < 0.92,  # is_active
            str(100_000_000 + n * 7 + channel),  # channel_code, unique per channel
            erp,
            attributes,
            "{}",  # attribute_kwargs
            '{"tr": {"nickname": "' + first + '"}}' if rnd() < 0.1 else "{}",
            "{}",  # localized_attribute_kwargs
            extra,
            rnd() < 0.55,  # email_allowed
            rnd() < 0.35,  # sms_allowed
            rnd() < 0.15,  # call_allowed
            joined,
            GENDERS[int(rnd() * 100)],
            USER_TYPES[int(rnd() * 100)],
            birth,
            created,
            modified,
            1,  # version
        )


CUSTOMER_COLUMNS = [
    "id",
    "channel_id",
    "email",
    "first_name",
    "last_name",
    "phone_number",
    "is_active",
    "channel_code",
    "erp_code",
    "attributes",
    "attribute_kwargs",
    "localized_attributes",
    "localized_attribute_kwargs",
    "extra_field",
    "email_allowed",
    "sms_allowed",
    "call_allowed",
    "date_joined",
    "gender",
    "user_type",
    "date_of_birth",
    "created_date",
    "modified_date",
    "version",
]

ORDER_COLUMNS = [
    "id",
    "channel_id",
    "customer_id",
    "number",
    "status",
    "currency",
    "amount",
    "discount_amount",
    "refund_amount",
    "created_date",
    "modified_date",
]


def orders(
    rng: random.Random,
    count: int,
    layout: Layout,
    channel_ids: list[int],
    first_customer_id: int,
    first_id: int,
    start: dt.datetime,
    span_s: float,
):
    """Yield order rows (ORDER_COLUMNS order).

    A customer's rank is drawn with u**1.6 (rank 0 buys most, about a fifth of the customers
    never buy); rank k is the customer at position (k * stride) % total, a bijection that spreads
    the heavy buyers evenly over channels and ages, so that page 1 of a channel is no heavier than
    any other page."""
    rnd = rng.random
    total = layout.total
    stride = next(p for p in STRIDES if math.gcd(p, total) == 1)
    step = span_s / total
    statuses = [
        s for s, w in zip(ORDER_STATUSES, ORDER_STATUS_WEIGHTS, strict=True) for _ in range(w)
    ]
    nstatus = len(statuses)
    end_ts = start.timestamp() + span_s
    for j in range(count):
        position = (int(total * rnd() ** 1.6) * stride) % total
        customer_created = start.timestamp() + position * step
        created = dt.datetime.fromtimestamp(
            customer_created + rnd() * (end_ts - customer_created), tz=dt.UTC
        )
        cents = 1000 + int(rnd() * 499_001)
        discount = int(cents * rnd() * 0.3) if rnd() < 0.25 else 0
        refund = (cents - discount) if rnd() < 0.05 else 0
        yield (
            first_id + j,
            channel_ids[layout.channel_index(position)],
            first_customer_id + position,
            f"ORD-{first_id + j:09d}",
            statuses[int(rnd() * nstatus)],
            CURRENCIES[int(rnd() * 100)],
            f"{cents // 100}.{cents % 100:02d}",
            f"{discount // 100}.{discount % 100:02d}",
            f"{refund // 100}.{refund % 100:02d}",
            created,
            created,
        )


def copy_rows(cur: psycopg.Cursor, table: str, columns: list[str], rows, total: int) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    report_every = max(total // 10, 1)
    started = time.monotonic()
    with cur.copy(statement) as copy:
        for done, row in enumerate(rows, 1):
            copy.write_row(row)
            if done % report_every == 0:
                rate = done / (time.monotonic() - started)
                log(f"    {table}: {done:,}/{total:,} rows ({rate:,.0f} rows/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="100k + 9 x 10k customers, 300k orders"
    )
    parser.add_argument("--big", type=int, help="customers of the big channel (1,000,000)")
    parser.add_argument("--small", type=int, help="customers of each small channel (10,000)")
    parser.add_argument("--small-channels", type=int, default=9)
    parser.add_argument("--orders", type=int, help="orders in all (3,000,000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--reset", action="store_true", help="delete every channel first")
    args = parser.parse_args()
    big = args.big or (100_000 if args.quick else 1_000_000)
    small = args.small or 10_000
    n_orders = args.orders if args.orders is not None else (300_000 if args.quick else 3_000_000)
    if args.small_channels and big % small:
        sys.exit("--big must be a multiple of --small (the channels are interleaved in blocks)")

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to the PostgreSQL database to fill (migrated, and expendable)")
    timer = Timer()
    rng = random.Random(args.seed)
    layout = Layout(big, small, args.small_channels)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    span_s = 3 * 365.25 * 86400
    start = now - dt.timedelta(seconds=span_s)

    with psycopg.connect(url) as conn, conn.cursor() as cur:
        customer_columns = copy_columns(cur, CUSTOMER_TABLE, CUSTOMER_COLUMNS)
        order_columns = copy_columns(cur, ORDER_TABLE, ORDER_COLUMNS)
        cur.execute(f"SELECT count(*) FROM {CHANNEL_TABLE}")
        (existing,) = cur.fetchone()
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM {CUSTOMER_TABLE})")
        (has_customers,) = cur.fetchone()
        if (existing or has_customers) and not args.reset:
            sys.exit(
                f"the database already holds {existing} channel(s) and customers={has_customers}:"
                " pass --reset to delete every channel, customer and order first"
            )
        log(
            f"dataset: {big:,} + {args.small_channels} x {small:,} customers, {n_orders:,} orders"
            f" (seed {args.seed})"
        )
        # This session only: big sort memory for index builds, no wait for WAL flushes.
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET statement_timeout = 0")
        t = time.monotonic()
        if args.reset:
            tables = f"{CHANNEL_TABLE}, {CUSTOMER_TABLE}, {ORDER_TABLE}"
            cur.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            t = timer.step("reset (truncate)", t)

        channel_ids: list[int] = []
        names = [BIG_NAME] + [f"{SMALL_PREFIX}{k}" for k in range(1, args.small_channels + 1)]
        for k, name in enumerate(names):
            cur.execute(
                f"INSERT INTO {CHANNEL_TABLE} (name, catalog, channel_type, conf, category_tree,"
                " is_active, schema, created_date, modified_date)"
                " VALUES (%s, %s, %s, %s, NULL, true, NULL, %s, %s) RETURNING id",
                (
                    name,
                    1000 + k,
                    CHANNEL_TYPES[k % len(CHANNEL_TYPES)],
                    json.dumps(
                        {
                            "api_url": f"https://{name}.example.com",
                            "currency": "TRY",
                            "perf_dataset": f"{DATASET_VERSION}/seed {args.seed}",
                        }
                    ),
                    start,
                    start,
                ),
            )
            channel_ids.append(cur.fetchone()[0])

        cur.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {CUSTOMER_TABLE}")
        first_customer_id = cur.fetchone()[0]
        cur.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {ORDER_TABLE}")
        first_order_id = cur.fetchone()[0]

        recreate = drop_secondary(cur, ORDER_TABLE) + drop_secondary(cur, CUSTOMER_TABLE)
        t = timer.step(f"drop {len(recreate)} secondary indexes/constraints", t)

        copy_rows(
            cur,
            CUSTOMER_TABLE,
            customer_columns,
            customers(rng, layout, channel_ids, first_customer_id, start, span_s),
            layout.total,
        )
        t = timer.step(f"COPY {layout.total:,} customers", t)
        copy_rows(
            cur,
            ORDER_TABLE,
            order_columns,
            orders(
                rng,
                n_orders,
                layout,
                channel_ids,
                first_customer_id,
                first_order_id,
                start,
                span_s,
            ),
            n_orders,
        )
        t = timer.step(f"COPY {n_orders:,} orders", t)

        for label, statement in recreate:
            s = time.monotonic()
            cur.execute(statement)
            log(f"    {time.monotonic() - s:5.1f} s  {label}")
        t = timer.step("re-create indexes and constraints", t)

        for table in (CUSTOMER_TABLE, ORDER_TABLE, CHANNEL_TABLE):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        conn.commit()
        t = timer.step("commit", t)

    with psycopg.connect(url, autocommit=True) as conn:
        for table in (CUSTOMER_TABLE, ORDER_TABLE, CHANNEL_TABLE):
            conn.execute(f"VACUUM (ANALYZE) {table}")
        t = timer.step("VACUUM ANALYZE", t)

    total = time.monotonic() - timer.started
    log(f"done in {total:.1f} s")
    manifest = {
        "channels": [
            {
                "id": channel_id,
                "name": name,
                "customers": big if k == 0 else small,
            }
            for k, (channel_id, name) in enumerate(zip(channel_ids, names, strict=True))
        ],
        "orders": n_orders,
        "seed": args.seed,
        "seconds": round(total, 1),
        "steps": timer.steps,
    }
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
