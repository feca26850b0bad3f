"""The OCPP JSON schemas shipped with the `ocpp` package, made fit for OpenAPI 3.0, so
each command endpoint documents exactly the payload the charger will get."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import ocpp

_ROOT = Path(ocpp.__file__).parent
_FOLDER = {"v16": "v16", "v201": "v201"}
# Keys of JSON Schema draft 4/6 (or the schema generator) that OpenAPI 3.0 does not know.
_DROP = {"$schema", "$id", "javaType", "comment", "definitions", "additionalItems"}


def _file(version: str, action: str, *, response: bool) -> Path:
    if version == "v16":
        name = f"{action}Response.json" if response else f"{action}.json"
    else:
        name = f"{action}Response.json" if response else f"{action}Request.json"
    return _ROOT / _FOLDER[version] / "schemas" / name


def _inline(node, definitions: dict, depth: int = 0):
    if depth > 30:
        return {"type": "object"}
    if isinstance(node, list):
        return [_inline(item, definitions, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _inline(definitions[node["$ref"].rsplit("/", 1)[-1]], definitions, depth + 1)
    result = {}
    for key, value in node.items():
        if key in _DROP or key == "customData":
            continue
        if key == "properties":
            result[key] = {
                name: _inline(prop, definitions, depth + 1) for name, prop in value.items() if name != "customData"
            }
        elif key == "additionalProperties" and node.get("type") != "object":
            continue
        else:
            result[key] = _inline(value, definitions, depth + 1)
    return result


@cache
def openapi_schema(version: str, action: str, *, response: bool = False) -> dict:
    path = _file(version, action, response=response)
    if not path.exists():
        return {"type": "object"}
    raw = json.loads(path.read_text())
    schema = _inline(raw, raw.get("definitions", {}))
    schema.pop("id", None) if isinstance(schema.get("id"), str) else None
    return schema
