"""Request middleware: a log line per request, and the body size limit."""

from __future__ import annotations

import datetime
import json
import logging
import re
import time
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

request_logger = logging.getLogger("saleschannel.requests")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestLogMiddleware:
    """One JSON log line per request; `X-Request-ID` is taken (if sane) or made, and echoed.

    The line has no query values, headers or bodies: they can hold tokens and personal data.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        user = getattr(request, "user", None)
        request_logger.info(
            json.dumps(
                {
                    "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "query_keys": sorted(request.GET.keys()),
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "user": user.pk if user is not None and user.is_authenticated else None,
                },
                ensure_ascii=False,
            )
        )
        return response


class BodySizeLimitMiddleware:
    """Refuses bodies over MAX_REQUEST_BODY_BYTES with 413 before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            size = int(length)
        except ValueError:
            return JsonResponse(
                {"detail": "Invalid Content-Length header.", "code": "invalid"}, status=400
            )
        limit = settings.MAX_REQUEST_BODY_BYTES
        if size > limit:
            return JsonResponse(
                {
                    "detail": f"Request body is larger than {limit} bytes.",
                    "code": "request_too_large",
                },
                status=413,
            )
        return self.get_response(request)
