"""Per-token request limits: a fixed window counted atomically in the Django cache.

With REDIS_URL set, the cache (and so the counters) is Redis, shared by every worker and server;
otherwise it is per-process memory. RATE_LIMIT_PER_TOKEN is "<n>/<second|minute|hour|day>" or
empty (off). Every response to a limited request carries `RateLimit-Limit`,
`RateLimit-Remaining` and `RateLimit-Reset`; a request over the limit gets 429 with
`Retry-After`.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int] | None:
    if not rate or rate.lower() in {"off", "none", "0"}:
        return None
    try:
        count, period = rate.split("/")
        return int(count), PERIODS[period.strip()[0].lower()]
    except (ValueError, KeyError, IndexError) as exc:
        raise ImproperlyConfigured(f"Bad rate {rate!r}: use e.g. 1200/minute") from exc


class TokenRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        rate = parse_rate(settings.RATE_LIMIT_PER_TOKEN)
        if rate is None or request.auth is None or not hasattr(request.auth, "pk"):
            return True
        limit, period = rate
        now = time.time()
        window = int(now // period)
        self.reset = max(1, int((window + 1) * period - now))
        key = f"ratelimit:token:{request.auth.pk}:{window}"
        cache.add(key, 0, timeout=period + 1)
        try:
            used = cache.incr(key)
        except ValueError:  # the key expired between add and incr
            cache.set(key, 1, timeout=period + 1)
            used = 1
        request._request.rate_limit = (limit, max(0, limit - used), self.reset)
        return used <= limit

    def wait(self) -> float:
        return self.reset


class RateLimitHeadersMiddleware:
    """Copies the throttle's figures of this request onto the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        figures = getattr(request, "rate_limit", None)
        if figures is not None:
            limit, remaining, reset = figures
            response["RateLimit-Limit"] = str(limit)
            response["RateLimit-Remaining"] = str(remaining)
            response["RateLimit-Reset"] = str(reset)
        return response
