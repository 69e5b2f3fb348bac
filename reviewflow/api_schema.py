"""The OpenAPI schema generator: drf-spectacular's, plus the error responses the API gives.

drf-spectacular documents only the success response of each operation, so a client reading
the schema (and the schemathesis fuzz test, tests/reliability/test_api_fuzz.py) would take
every 400, 403 or 404 for a broken promise. Each operation here also lists the errors that
``reviewflow.errors.api_exception_handler`` and DRF can answer it with, and their bodies.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent

# ``{"detail"}`` (DRF's errors) or ``{"detail", "field"}`` (a ``ReviewflowError``).
ERROR = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, for a person to read."},
        "field": {"type": "string", "description": "The field at fault, when there is one."},
    },
    "required": ["detail"],
}
# A 400 is also DRF's validation error, keyed by field (or ``non_field_errors``), each with
# a list of messages (nested for nested fields), or an extraction's list of ``errors``.
INVALID = {
    "type": "object",
    "properties": {
        **ERROR["properties"],  # type: ignore[dict-item]
        "errors": {
            "type": "array",
            "description": "Each field (and table row and column) at fault.",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "row": {"type": "integer", "nullable": True},
                    "column": {"type": "string", "nullable": True},
                    "message": {"type": "string"},
                },
                "required": ["field", "message"],
            },
        },
    },
    "additionalProperties": {
        "description": "Messages for one field: a list of strings, or nested by sub-field.",
        "oneOf": [
            {"type": "array", "items": {}},
            {"type": "object", "additionalProperties": {}},
        ],
    },
}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class AutoSchema(SpectacularAutoSchema):
    def _component(self, name: str, schema: dict[str, Any]) -> dict[str, str]:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _error_responses(self) -> dict[str, tuple[str, dict[str, str]]]:
        error = self._component("Error", ERROR)
        has_query = any(p["in"] == "query" for p in self._get_parameters())
        errors = {
            "403": (
                "Not signed in (outside a review's URLs), or the caller's role does not allow "
                "this.",
                error,
            )
        }
        if self.method in WRITES or has_query:
            errors["400"] = (
                "The request is invalid; the body says which field.",
                self._component("ValidationError", INVALID),
            )
        if "{" in self.path or has_query:
            errors["404"] = (
                "No such object in a review the caller belongs to (or no such page); also "
                "the answer to a caller not signed in, for any review's URL.",
                error,
            )
        if self.method in WRITES:
            errors["409"] = ("The object's state does not allow this now.", error)
            errors["415"] = ("The body's content type is not one the operation takes.", error)
            errors["503"] = ("The database did not answer; nothing was changed.", error)
        return errors

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for code, (description, schema) in self._error_responses().items():
            if code in responses and responses[code].get("content"):
                continue  # the view documents this error itself
            responses[code] = {
                "description": description,
                "content": {"application/json": {"schema": schema}},
            }
        return responses
