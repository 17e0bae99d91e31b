"""The project's own OpenAPI document (drf-spectacular): security scheme, error bodies, hooks."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework.negotiation import DefaultContentNegotiation

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong."},
        "code": {"type": "string", "description": "Machine-readable error code."},
    },
    "required": ["detail", "code"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        'Field errors: {"<field>": ["message", ...], "code": "<code of the first error>"}; '
        'other errors: {"non_field_errors": [...], "code": ...} or {"detail": "...", "code": ...}.'
    ),
    "properties": {
        "non_field_errors": {"type": "array", "items": {"type": "string"}},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Machine-readable error code."},
    },
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "required": ["code"],
}

COMPONENTS = {"Error": ERROR_SCHEMA, "ValidationError": VALIDATION_ERROR_SCHEMA}

_DESCRIPTIONS = {
    400: "Invalid input: field errors, a bad filter value, a malformed body.",
    401: "Missing or invalid token (`WWW-Authenticate: Token`).",
    403: "The user lacks the model permission for this write.",
    404: "Not found: unknown id, or a channel that does not exist or is not granted.",
    405: "Method not allowed.",
    413: "Request body too large.",
    415: "Unsupported media type (send application/json).",
    429: "Too many requests (`Retry-After`).",
    500: "Server error (JSON, never a stack trace).",
    503: "The database is unavailable.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    responses = {}
    for status in statuses:
        ref = "ValidationError" if status == 400 else "Error"
        responses[status] = OpenApiResponse(
            response={"$ref": f"#/components/schemas/{ref}"}, description=_DESCRIPTIONS[status]
        )
    return responses


class HashedTokenScheme(OpenApiAuthenticationExtension):
    target_class = "saleschannel.accounts.authentication.HashedTokenAuthentication"
    name = "Token"

    def get_security_definition(self, auto_schema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Send `Authorization: Token <key>` ("Token", a space, the key).',
        }


class SchemaFormatNegotiation(DefaultContentNegotiation):
    """`?format=json` / `?format=yaml` on /api/schema/.

    REST_FRAMEWORK["URL_FORMAT_OVERRIDE"] is off so that `format` is an ordinary (ignored) query
    parameter on the API; the schema view alone keeps it:
    `SpectacularAPIView.as_view(content_negotiation_class=SchemaFormatNegotiation)`.
    """

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE="format")


def only_canonical_paths(endpoints, **kwargs):
    """Every path is also served without its trailing slash; document each one once."""
    return [endpoint for endpoint in endpoints if endpoint[0].endswith("/")]


def add_error_components(result: dict[str, Any], **kwargs) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
    _dedupe_security(result)
    return result


def _dedupe_security(result: dict[str, Any]) -> None:
    """List each security requirement of an operation once.

    SPECTACULAR_SETTINGS["SECURITY"] is appended to the requirement the authentication extension
    already derived from the view, so every authenticated operation listed `{"Token": []}` twice.
    """
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "security" not in operation:
                continue
            unique: list[dict[str, Any]] = []
            for requirement in operation["security"]:
                if requirement not in unique:
                    unique.append(requirement)
            operation["security"] = unique
