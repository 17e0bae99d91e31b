"""Request middleware that must run before any view reads the body."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


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
