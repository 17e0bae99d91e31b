"""Our OpenAPI document: valid OpenAPI 3, served without a token, and a superset of the spec."""

from __future__ import annotations

import copy
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client
from django.urls import path as url_path
from drf_spectacular.views import SpectacularAPIView

from conformance.corrected_spec import corrected
from saleschannel.core.api import ChannelScopedMixin
from saleschannel.core.openapi import SchemaFormatNegotiation

SPEC_PATH = (
    Path(__file__).resolve().parents[3].parent / "shared/spec/saleschannelcustomers.openapi.json"
)
RAW_SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text())
# The spec with its four known flaws corrected (DESIGN.md, "Known flaws of the spec").
SPEC: dict[str, Any] = corrected(RAW_SPEC)
METHODS = ("get", "put", "post", "delete", "patch")
SPEC_OPERATIONS = [
    (path, method) for path, item in SPEC["paths"].items() for method in item if method in METHODS
]
OPERATION_IDS = [f"{method.upper()} {path}" for path, method in SPEC_OPERATIONS]
# Each `?format=` request asks (by Accept) for the other format first: only the query wins.
PREFER_JSON = "application/json, */*;q=0.1"
PREFER_YAML = "application/yaml, */*;q=0.1"

# The schema view as config/urls.py should mount it (used by test_schema_format_negotiation_*).
urlpatterns = [
    url_path(
        "api/schema/",
        SpectacularAPIView.as_view(
            urlconf="config.urls", content_negotiation_class=SchemaFormatNegotiation
        ),
    )
]


def fetch(url: str, **headers: str):
    return Client().get(url, **headers)


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    response = fetch("/api/schema.json")
    assert response.status_code == 200
    return json.loads(response.content)


def deref(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref`s (local `#/...` pointers only) until a node that is not a reference."""
    seen = set()
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/") and ref not in seen, ref
        seen.add(ref)
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def flatten(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """One schema with the `$ref`/`allOf`/`oneOf`/`anyOf` wrappers merged.

    drf-spectacular writes an enum as `{"$ref": EnumComponent}`, a nullable enum as
    `{"oneOf": [EnumComponent, NullEnum], "nullable": true}` and a nested serializer as
    `{"allOf": [{"$ref": ...}], "readOnly": true}`. The result has `enum` without null and
    `nullable` set when null is allowed in any of these ways.
    """
    node = deref(doc, node)
    flat = {k: v for k, v in node.items() if k not in ("$ref", "allOf", "oneOf", "anyOf", "enum")}
    enum = [value for value in node.get("enum", []) if value is not None]
    nullable = (
        bool(node.get("nullable")) or None in node.get("enum", []) or node.get("type") == "null"
    )
    for sub in [*node.get("allOf", []), *node.get("oneOf", []), *node.get("anyOf", [])]:
        part = flatten(doc, sub)
        nullable = nullable or part["nullable"]
        enum += [value for value in part.get("enum", []) if value not in enum]
        for key, value in part.items():
            if key not in ("nullable", "enum"):
                flat.setdefault(key, value)
    if enum:
        flat["enum"] = enum
    flat["nullable"] = nullable
    return flat


def spec_parameters(path: str, method: str) -> list[dict[str, Any]]:
    item = SPEC["paths"][path]
    listed = [*item.get("parameters", []), *item[method].get("parameters", [])]
    return [deref(SPEC, parameter) for parameter in listed]


def our_parameters(ours: dict[str, Any], path: str, method: str) -> dict[str, dict[str, Any]]:
    item = ours["paths"][path]
    listed = [*item.get("parameters", []), *item[method].get("parameters", [])]
    return {p["name"]: p for p in (deref(ours, parameter) for parameter in listed)}


def content_schema(doc: dict[str, Any], response: dict[str, Any]) -> dict[str, Any] | None:
    response = deref(doc, response)
    media = response.get("content", {}).get("application/json")
    return None if media is None else media["schema"]


# --- serving the document --------------------------------------------------------------------


def test_schema_json_is_a_valid_openapi_3_document_served_without_a_token():
    response = fetch("/api/schema.json")

    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    try:
        from openapi_spec_validator import validate
    except ImportError:  # not installed: drf-spectacular's own OpenAPI 3.0 JSON-schema check
        from drf_spectacular.validation import validate_schema as validate
    validate(copy.deepcopy(document))  # raises on an invalid document


def test_schema_is_served_even_with_an_invalid_token():
    response = fetch("/api/schema.json", HTTP_AUTHORIZATION="Token not-a-real-key")

    assert response.status_code == 200
    assert json.loads(response.content)["openapi"].startswith("3.")


@pytest.mark.parametrize(
    ("url", "headers", "load"),
    [
        pytest.param(
            "/api/schema/?format=json",
            {"HTTP_ACCEPT": PREFER_YAML},
            json.loads,
        ),
        pytest.param(
            "/api/schema/?format=yaml",
            {"HTTP_ACCEPT": PREFER_JSON},
            yaml.safe_load,
        ),
        ("/api/schema.json", {}, json.loads),
        ("/api/schema.yaml", {}, yaml.safe_load),
        ("/api/schema/", {"HTTP_ACCEPT": "application/json"}, json.loads),
        ("/api/schema/", {"HTTP_ACCEPT": "application/yaml"}, yaml.safe_load),
        ("/api/schema/", {}, yaml.safe_load),
    ],
)
def test_every_schema_url_and_format_serves_the_same_document(ours, url, headers, load):
    response = fetch(url, **headers)

    assert response.status_code == 200
    media_type = response["Content-Type"].split(";")[0]
    if load is json.loads:
        assert media_type in ("application/json", "application/vnd.oai.openapi+json")
    else:
        assert media_type in ("application/yaml", "application/vnd.oai.openapi")
        assert not response.content.lstrip().startswith(b"{")  # real YAML, not JSON
    assert load(response.content) == ours


@pytest.mark.urls(__name__)
@pytest.mark.parametrize(
    ("query", "accept", "load", "media_type"),
    [
        ("?format=json", PREFER_YAML, json.loads, "application/vnd.oai.openapi+json"),
        ("?format=yaml", PREFER_JSON, yaml.safe_load, "application/vnd.oai.openapi"),
    ],
)
def test_schema_format_negotiation_lets_the_format_query_choose_the_format(
    ours, query, accept, load, media_type
):
    """The fix proposed for config/urls.py: the schema view with SchemaFormatNegotiation."""
    response = fetch(f"/api/schema/{query}", HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == media_type
    assert load(response.content) == ours


# --- operations and parameters ---------------------------------------------------------------


@pytest.mark.parametrize(("path", "method"), SPEC_OPERATIONS, ids=OPERATION_IDS)
def test_spec_operation_is_documented_with_the_spec_summary(ours, path, method):
    assert path in ours["paths"]
    assert method in ours["paths"][path]
    assert ours["paths"][path][method]["summary"] == SPEC["paths"][path][method]["summary"]


def test_only_trailing_slash_paths_are_documented(ours):
    assert ours["paths"]
    assert [path for path in ours["paths"] if not path.endswith("/")] == []


@pytest.mark.parametrize(("path", "method"), SPEC_OPERATIONS, ids=OPERATION_IDS)
def test_spec_parameters_have_the_same_location_type_and_enum(ours, path, method):
    mine = our_parameters(ours, path, method)
    expected = spec_parameters(path, method)
    assert expected
    for parameter in expected:
        name = parameter["name"]
        assert name in mine, f"{name} is not documented"
        ours_p = mine[name]
        assert ours_p["in"] == parameter["in"], name
        if parameter.get("required"):
            assert ours_p.get("required") is True, name
        want, got = flatten(SPEC, parameter["schema"]), flatten(ours, ours_p["schema"])
        assert got.get("type") == want["type"], name
        if "enum" in want:
            assert sorted(got.get("enum", [])) == sorted(want["enum"]), name
        if want["type"] == "array":
            assert flatten(ours, got["items"])["type"] == flatten(SPEC, want["items"])["type"]
        for key in ("style", "explode"):
            if key in parameter:
                assert ours_p.get(key) == parameter[key], (name, key)


@pytest.mark.parametrize("path", [p for p, m in SPEC_OPERATIONS if m == "get" and "{id}" not in p])
def test_pk_in_is_a_comma_separated_array_of_integers(ours, path):
    pk_in = our_parameters(ours, path, "get")["pk__in"]

    assert pk_in["in"] == "query"
    assert pk_in["schema"]["type"] == "array"
    assert pk_in["schema"]["items"]["type"] == "integer"
    assert (pk_in["style"], pk_in["explode"]) == ("form", False)


# --- components ------------------------------------------------------------------------------

COMPONENT_PROPERTIES = [
    (component, name)
    for component in ("Customer", "Channel")
    for name in SPEC["components"]["schemas"][component]["properties"]
]


@pytest.mark.parametrize(
    ("component", "name"), COMPONENT_PROPERTIES, ids=[f"{c}.{n}" for c, n in COMPONENT_PROPERTIES]
)
def test_component_property_matches_the_spec(ours, component, name):
    spec_property = SPEC["components"]["schemas"][component]["properties"][name]
    want = flatten(SPEC, spec_property)
    properties = ours["components"]["schemas"][component]["properties"]

    assert name in properties
    got = flatten(ours, properties[name])
    assert got.get("type") == want["type"]
    assert got["nullable"] == want["nullable"]
    if "enum" in want:
        assert sorted(got.get("enum", [])) == sorted(want["enum"])
    if "maxLength" in want:
        assert got.get("maxLength") == want["maxLength"]
    if "format" in want and want["format"] in ("date", "date-time", "email"):
        assert got.get("format") == want["format"]


def test_customer_pk_is_a_read_only_integer(ours):
    pk = flatten(ours, ours["components"]["schemas"]["Customer"]["properties"]["pk"])

    assert pk["type"] == "integer"
    assert pk["readOnly"] is True


def test_customer_required_fields_include_the_spec_required_fields(ours):
    spec_required = set(RAW_SPEC["components"]["schemas"]["Customer"]["required"])

    assert spec_required <= set(ours["components"]["schemas"]["Customer"]["required"])


@pytest.mark.parametrize(
    ("path", "method"),
    [(p, m) for p, m in SPEC_OPERATIONS if m in ("post", "put")],
    ids=lambda value: value,
)
def test_create_and_update_request_body_is_the_customer_component(ours, path, method):
    body = ours["paths"][path][method]["requestBody"]

    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Customer"
    }


def test_partial_update_request_body_has_every_customer_property_and_requires_none(ours):
    path = "/api/v1/channel/{channel_id}/customers/{id}/"
    body = ours["paths"][path]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    schema = deref(ours, body)

    assert set(schema["properties"]) == set(ours["components"]["schemas"]["Customer"]["properties"])
    assert schema.get("required", []) == []


def test_customer_detailed_has_the_channel_object_and_orders_info_totals(ours):
    detailed = ours["components"]["schemas"]["CustomerDetailed"]
    customer = ours["components"]["schemas"]["Customer"]

    channel = detailed["properties"]["channel"]
    refs = [channel.get("$ref"), *(sub.get("$ref") for sub in channel.get("allOf", []))]
    assert "#/components/schemas/Channel" in refs
    orders_info = flatten(ours, detailed["properties"]["orders_info"])
    assert orders_info["type"] == "object"
    totals = {
        name: (flatten(ours, schema)["type"], flatten(ours, schema)["nullable"])
        for name, schema in orders_info["properties"].items()
    }
    assert totals == {
        "total_order_count": ("integer", False),
        "total_order_amount": ("number", True),
        "total_discount_amount": ("number", True),
        "total_refund_amount": ("number", True),
    }
    assert set(orders_info["required"]) == set(totals)
    assert {"channel", "orders_info"} <= set(detailed["required"])
    # Every other Customer property is there, unchanged.
    for name, schema in customer["properties"].items():
        if name != "channel":
            assert detailed["properties"][name] == schema, name


# --- security --------------------------------------------------------------------------------


def test_security_scheme_is_a_token_api_key_in_the_authorization_header(ours):
    scheme = ours["components"]["securitySchemes"]["Token"]

    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")


@pytest.mark.parametrize(("path", "method"), SPEC_OPERATIONS, ids=OPERATION_IDS)
def test_spec_operation_requires_the_token_scheme_once(ours, path, method):
    security = ours["paths"][path][method].get("security", ours.get("security"))

    assert security == [{"Token": []}]


def test_login_needs_no_token_and_active_user_does(ours):
    login = ours["paths"]["/api/v1/auth/login/"]["post"]
    active_user = ours["paths"]["/api/v1/active_user/"]["get"]

    assert login.get("security", ours.get("security", [])) in ([], [{}])
    assert active_user["security"] == [{"Token": []}]


# --- responses -------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "method"), SPEC_OPERATIONS, ids=OPERATION_IDS)
def test_spec_response_statuses_are_documented(ours, path, method):
    spec_statuses = set(RAW_SPEC["paths"][path][method]["responses"]) - {"500"}
    our_statuses = set(ours["paths"][path][method]["responses"])

    assert spec_statuses <= our_statuses


@pytest.mark.parametrize(("path", "method"), SPEC_OPERATIONS, ids=OPERATION_IDS)
def test_success_response_has_the_spec_body(ours, path, method):
    for status, response in SPEC["paths"][path][method]["responses"].items():
        if not status.startswith("2"):
            continue
        want = content_schema(SPEC, response)
        got = content_schema(ours, ours["paths"][path][method]["responses"][status])
        assert got == want, status


@pytest.mark.parametrize(
    ("path", "method"),
    [(p, m) for p, item in SPEC["paths"].items() for m in item if m in METHODS]
    + [("/api/v1/auth/login/", "post"), ("/api/v1/active_user/", "get")],
    ids=lambda value: value,
)
def test_error_responses_reference_an_error_schema_with_a_code(ours, path, method):
    responses = ours["paths"][path][method]["responses"]
    errors = [status for status in ("400", "401", "403", "404") if status in responses]

    assert errors
    for status in errors:
        schema = content_schema(ours, responses[status])
        assert schema is not None and "$ref" in schema, status
        body = deref(ours, schema)
        assert body["properties"]["code"]["type"] == "string", status
        assert "code" in body["required"], status


def test_list_success_response_documents_the_paging_headers(ours):
    for path in (
        "/api/v1/channel/{channel_id}/customers/",
        "/api/v1/channel/{channel_id}/customers/detailed/",
    ):
        headers = ours["paths"][path]["get"]["responses"]["200"]["headers"]
        assert {"Link", "X-Total-Count", "X-Total-Count-Estimate"} <= set(headers), path


@pytest.mark.parametrize(("path", "method"), SPEC_OPERATIONS, ids=OPERATION_IDS)
def test_operation_description_is_not_an_internal_docstring(ours, path, method):
    internal = inspect.getdoc(ChannelScopedMixin)

    assert ours["paths"][path][method].get("description", "") != internal
