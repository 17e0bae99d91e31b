"""Profile one API request in-process: where its Python time goes (cProfile, N repetitions).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scc_perf \
        .venv/bin/python bench/perf/profile_request.py '/api/v1/channel/2/customers/?limit=100'

Uses the production settings and the real token header (a token is made for the benchmark's
user), runs the request N times untimed to warm up, then N times under cProfile and prints
the mean wall time per request and the top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
os.environ.setdefault("SECRET_KEY", "profile-request")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("RATE_LIMIT_PER_TOKEN", "off")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="request path with its query string")
    parser.add_argument("-n", type=int, default=200, help="requests per phase (200)")
    parser.add_argument("--top", type=int, default=35, help="functions to print (35)")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.test import Client

    from saleschannel.accounts.services import api_user_create

    _, key = api_user_create(username="profile-request", superuser=True)
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")

    response = client.get(args.path)
    print(f"{args.path}: HTTP {response.status_code}, {len(response.content)} bytes")
    if response.status_code != 200:
        print(response.content[:500].decode(errors="replace"))
        raise SystemExit(1)
    for _ in range(args.n):
        client.get(args.path)
    started = time.perf_counter()
    for _ in range(args.n):
        client.get(args.path)
    plain = (time.perf_counter() - started) / args.n
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.n):
        client.get(args.path)
    profiler.disable()
    print(f"mean {plain * 1000:.2f} ms per request without the profiler (n={args.n})")
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
