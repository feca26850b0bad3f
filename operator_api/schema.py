"""OpenAPI naming for views that nest their InputSerializer/OutputSerializer: components
and operation ids are named after the view, so the many nested "InputSerializer"s do not
collide."""

from __future__ import annotations

import re

from drf_spectacular.openapi import AutoSchema


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class ViewNamedSchema(AutoSchema):
    operation_prefix = "operator"

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False):
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        qualname = type(serializer).__qualname__
        if "." not in qualname:
            return name
        outer = qualname.split(".")[0].removesuffix("Api")
        patched = name.startswith("Patched")
        return ("Patched" if patched else "") + outer + name.removeprefix("Patched")

    def _get_response_bodies(self, direction="response"):
        # Post-processed here, not in get_response_serializers, which @extend_schema replaces.
        bodies = super()._get_response_bodies(direction)
        codes = list(COMMON_ERRORS) + ([409] if self.method in ("DELETE", "PATCH", "POST") else [])
        for code in codes:
            bodies.setdefault(
                str(code),
                {
                    "description": "Error",
                    "content": {"application/json": {"schema": ERROR_SCHEMA}},
                },
            )
        return bodies

    def get_operation_id(self):
        return f"{self.operation_prefix}_{_snake(type(self.view).__name__.removesuffix('Api'))}"


class OcppCoreSchema(ViewNamedSchema):
    operation_prefix = "ocppcore"


ERROR_SCHEMA = {
    "type": "object",
    "description": 'What went wrong: {"detail": ...}, or field names with their messages.',
    "additionalProperties": True,
}
# Every operator endpoint can refuse the caller or the input; say so in the schema.
COMMON_ERRORS = (400, 401, 403, 404)


def ocppcore_paths_without_trailing_slash(result: dict, generator, request, public) -> dict:
    """POSTPROCESSING_HOOKS: OCPP.Core's paths as seed 004 spells them, without a trailing
    slash (`/API/Reset/{charge_point_id}`); the routes tolerate one, which is not part of
    the contract."""
    paths = result.get("paths", {})
    result["paths"] = {(path.rstrip("/") if path.startswith("/API/") else path): item for path, item in paths.items()}
    return result
