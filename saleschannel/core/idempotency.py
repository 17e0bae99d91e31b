"""`Idempotency-Key` on POST: a retry gets the first response back and creates nothing.

The record and the work it guards are written in one transaction. A concurrent request with the
same key waits on the unique (user, key) index until the first one commits, then replays its
response; if the first one failed (any error response), nothing was stored and a retry runs
again. The same key with a different request is a 422. Records live IDEMPOTENCY_TTL_SECONDS
(24 h); `manage.py purge_idempotency_records` deletes older ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADERS = ("ETag", "Location")
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used with a different request."
    default_code = "idempotency_key_reused"


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # The path is served with and without its trailing slash: both are the same request.
    text = f"{request.method} {request.path.rstrip('/')}\n{body}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _cutoff() -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS)


def idempotent(request: Request, handler: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not _VALID_KEY.match(key):
        raise exceptions.ValidationError(
            {HEADER: ["Use 1 to 255 visible ASCII characters."]}, code="invalid"
        )
    fingerprint = _fingerprint(request)
    user = request.user
    with transaction.atomic():
        IdempotencyRecord.objects.filter(user=user, key=key, created__lt=_cutoff()).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=user, key=key, fingerprint=fingerprint, status_code=0
                )
        except IntegrityError:
            stored = IdempotencyRecord.objects.get(user=user, key=key)
            if stored.fingerprint != fingerprint:
                raise IdempotencyKeyReused() from None
            return Response(
                stored.response_body,
                status=stored.status_code,
                headers={**stored.response_headers, "Idempotent-Replayed": "true"},
            )
        response = handler()
        record.status_code = response.status_code
        record.response_body = response.data
        record.response_headers = {
            name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)
        }
        record.save(update_fields=["status_code", "response_body", "response_headers"])
        return response


def purge_expired() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created__lt=_cutoff()).delete()
    return deleted
