"""Write N realistic customers as JSON Lines (streamed: constant memory, any N).

    python bench/import/make_customers.py 1000000 > /tmp/customers.jsonl
    python bench/import/make_customers.py 50000 -o /tmp/customers.jsonl --seed 7

Every row is valid for `manage.py import_customers`: unique `channel_code` (C-00000001, ...) and
unique email; Turkish and Latin names, phone numbers, ERP codes, nested JSON attributes, dates;
about a third of the optional fields are null or omitted. Deterministic for a given --seed.
Standard library only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys

FIRST = [
    "Ayşe",
    "Fatma",
    "Emine",
    "Zeynep",
    "Elif",
    "Özlem",
    "Şule",
    "Gülşen",
    "Hülya",
    "İpek",
    "Mehmet",
    "Mustafa",
    "Ahmet",
    "Ali",
    "Hüseyin",
    "Hasan",
    "İbrahim",
    "Çağrı",
    "Oğuz",
    "Ümit",
    "Anna",
    "Maria",
    "Jean",
    "Luca",
    "Sofia",
    "Noah",
    "Emma",
    "José",
    "Zoë",
    "Björn",
]
LAST = [
    "Yılmaz",
    "Kaya",
    "Demir",
    "Şahin",
    "Çelik",
    "Yıldız",
    "Yıldırım",
    "Öztürk",
    "Aydın",
    "Özdemir",
    "Arslan",
    "Doğan",
    "Kılıç",
    "Aslan",
    "Çetin",
    "Kara",
    "Koç",
    "Kurt",
    "Özkan",
    "Şimşek",
    "Müller",
    "García",
    "Rossi",
    "Dubois",
    "Nowak",
    "Silva",
    "Novák",
    "Jensen",
    "O'Brien",
    "Lee",
]
DOMAINS = ["example.com", "mail.example.org", "örnek.com.tr", "shop.example.net", "example.co.uk"]
SEGMENTS = ["gold", "silver", "bronze", "new", "vip"]
SOURCES = ["web", "ios", "android", "store", "marketplace"]
CITIES = ["İstanbul", "Ankara", "İzmir", "Bursa", "Antalya", "Köln", "Paris", "Madrid"]


def ascii_slug(text: str) -> str:
    table = str.maketrans("çğıöşüÇĞİÖŞÜéèëàáíóúñäåøžšýœ'", "cgiosuCGIOSUeeeaaiounaaozsyo_")
    return text.translate(table).lower()


def customer(number: int, rng: random.Random) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    joined = dt.datetime(2015, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
        seconds=rng.randrange(300_000_000)
    )
    row = {
        "email": f"{ascii_slug(first)}.{ascii_slug(last)}.{number}@{rng.choice(DOMAINS)}",
        "channel_code": f"C-{number:08d}",
        "first_name": first,
        "last_name": last,
        "is_active": rng.random() < 0.9,
        "email_allowed": rng.random() < 0.5,
        "sms_allowed": rng.random() < 0.3,
        "call_allowed": rng.random() < 0.1,
        "phone_number": f"+90 5{rng.randrange(10**9):09d}" if rng.random() < 0.8 else None,
        "erp_code": f"ERP-{number:09d}" if rng.random() < 0.6 else None,
        "attributes": {
            "segment": rng.choice(SEGMENTS),
            "score": rng.randrange(1000),
            "city": rng.choice(CITIES),
            "tags": rng.sample(["a", "b", "c", "d", "e"], rng.randrange(4)),
        },
        "attribute_kwargs": {},
        "localized_attributes": {"tr": {"title": "Müşteri"}, "en": {"title": "Customer"}},
        "localized_attribute_kwargs": {},
        "extra_field": {"source": rng.choice(SOURCES), "newsletter": rng.random() < 0.5},
        "date_joined": joined.isoformat().replace("+00:00", "Z"),
        "gender": rng.choice(["male", "female", None]),
        "user_type": rng.choice(["guest", "registered", "registered"]),
    }
    if rng.random() < 0.7:
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000))
        row["date_of_birth"] = birth.isoformat()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("count", type=int)
    parser.add_argument("-o", "--output", help="file to write (default: standard output)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=int, default=1, help="first customer number")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        for number in range(args.start, args.start + args.count):
            out.write(json.dumps(customer(number, rng), ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()


if __name__ == "__main__":
    main()
