"""Builds the corrected copy of the spec that conformance tests validate responses against.

The spec (`../shared/spec/saleschannelcustomers.openapi.json`) has four known flaws (DESIGN.md,
"Known flaws of the spec"). This module applies exactly these corrections and nothing else, and
adds OpenAPI links so schemathesis can chain create -> retrieve -> update -> delete:

1. `CustomerDetailed` is `allOf: [Customer]` plus a `channel` object while `Customer.channel` is an
   integer: no value satisfies both. Corrected: every Customer property, `channel` = the Channel
   object, plus `orders_info`.
2. The `400` response is a `oneOf` of three open objects, which every error body matches more than
   once. Corrected: `anyOf`.
3. The list operations list no `400` and create lists no `404`, yet a bad filter value is a 400
   and an unknown channel is a 404 everywhere. Corrected: both added.
4. `Customer.pk` has a format but no type. Corrected: `integer`.

Usage: python -m conformance.corrected_spec [OUT]  (default: conformance/spec.corrected.json)
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO.parent / "shared" / "spec" / "saleschannelcustomers.openapi.json"
CORRECTED = REPO / "conformance" / "spec.corrected.json"

LIST_PATHS = [
    "/api/v1/channel/{channel_id}/customers/",
    "/api/v1/channel/{channel_id}/customers/detailed/",
]
ITEM = "/api/v1/channel/{channel_id}/customers/{id}/"
ITEM_DETAILED = "/api/v1/channel/{channel_id}/customers/{id}/detailed/"


def _links() -> dict[str, Any]:
    parameters = {"channel_id": "$request.path.channel_id", "id": "$response.body#/pk"}
    targets = {
        "GetCustomer": ("get", ITEM),
        "GetCustomerDetailed": ("get", ITEM_DETAILED),
        "UpdateCustomer": ("put", ITEM),
        "PatchCustomer": ("patch", ITEM),
        "DeleteCustomer": ("delete", ITEM),
    }
    return {
        name: {
            "operationRef": f"#/paths/{path.replace('/', '~1')}/{method}",
            "parameters": parameters,
        }
        for name, (method, path) in targets.items()
    }


def corrected(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    components = spec["components"]
    schemas = components["schemas"]

    # 4. pk is an integer.
    schemas["Customer"]["properties"]["pk"]["type"] = "integer"

    # 1. CustomerDetailed: Customer's properties with channel as the Channel object.
    detailed = schemas["CustomerDetailed"]
    properties = copy.deepcopy(schemas["Customer"]["properties"])
    properties["channel"] = detailed["properties"]["channel"]
    properties["orders_info"] = detailed["properties"]["orders_info"]
    schemas["CustomerDetailed"] = {
        "type": "object",
        "properties": properties,
        "required": [*schemas["Customer"]["required"], "channel", "orders_info"],
    }

    # 2. The 400 body: anyOf, not oneOf.
    body = components["responses"]["400"]["content"]["application/json"]["schema"]
    body["anyOf"] = body.pop("oneOf")

    # 3. 400 on lists, 404 on create.
    for path in LIST_PATHS:
        spec["paths"][path]["get"]["responses"].setdefault(
            "400", {"$ref": "#/components/responses/400"}
        )
    spec["paths"][LIST_PATHS[0]]["post"]["responses"].setdefault(
        "404", {"$ref": "#/components/responses/404"}
    )

    # Links for stateful testing: a created customer can be read, updated and deleted.
    spec["paths"][LIST_PATHS[0]]["post"]["responses"]["201"]["links"] = _links()
    return spec


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else CORRECTED
    data = corrected(json.loads(SPEC.read_text()))
    out.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(out)


if __name__ == "__main__":
    main(sys.argv)
