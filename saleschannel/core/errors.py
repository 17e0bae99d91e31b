"""One error format for the whole service: JSON with a machine-readable `code`.

Field errors:  {"email": ["Enter a valid email address."], "code": "invalid"}
Other errors:  {"non_field_errors": [...], "code": ...} or {"detail": "...", "code": ...}
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from .exceptions import ServiceUnavailable

logger = logging.getLogger("saleschannel.errors")


def first_code(codes: Any) -> str:
    """The first error code found in DRF's nested `get_codes()` structure."""
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict):
        for value in codes.values():
            found = first_code(value)
            if found:
                return found
    if isinstance(codes, list):
        for value in codes:
            found = first_code(value)
            if found:
                return found
    return "invalid"


def error_body(exc: exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, list):
            body: dict[str, Any] = {api_settings.NON_FIELD_ERRORS_KEY: detail}
        elif isinstance(detail, dict):
            body = dict(detail)
        else:
            body = {api_settings.NON_FIELD_ERRORS_KEY: [detail]}
        body["code"] = first_code(exc.get_codes())
        return body
    detail = exc.detail
    if isinstance(detail, dict | list):
        return {"detail": detail, "code": first_code(exc.get_codes())}
    return {"detail": str(detail), "code": getattr(detail, "code", None) or exc.default_code}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, OperationalError):
        logger.warning("database unavailable: %s", type(exc).__name__)
        exc = ServiceUnavailable()
    elif isinstance(exc, DataError):
        # A value the database refuses (validation should have caught it): the client's fault.
        logger.warning("database refused a value: %s", exc)
        exc = exceptions.ValidationError("A value is out of range or malformed.", code="invalid")

    set_rollback()
    if not isinstance(exc, exceptions.APIException):
        logger.exception("unhandled error", exc_info=exc)
        return Response(
            {"detail": "A server error occurred.", "code": "server_error"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    return Response(error_body(exc), status=exc.status_code, headers=headers)


# --- Django-level handlers for requests that never reach a DRF view -----------------------


def _json(detail: str, code: str, status_code: int) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status_code)


def handler400(request, exception=None):
    return _json("Bad request.", "bad_request", 400)


def handler403(request, exception=None):
    return _json("You do not have permission to perform this action.", "permission_denied", 403)


def handler404(request, exception=None):
    return _json("Not found.", "not_found", 404)


def handler500(request):
    return _json("A server error occurred.", "server_error", 500)
