"""Checks a body the admin API sent against the API's own OpenAPI document (the unit, stream and integration tests
share it): the schema of one answer, or of one named component, with the document's components beside it so every
`$ref` resolves, in JSON Schema 2020-12 (the dialect of OpenAPI 3.1)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator


def answer_validator(
    document: dict[str, Any], path: str, status: int = 200, content: str = "application/json", method: str = "get"
) -> Draft202012Validator:
    """A validator for what `path` answers with `status` in `content`, as `document` declares it."""
    schema = document["paths"][path][method]["responses"][str(status)]["content"][content]["schema"]
    return Draft202012Validator({**schema, "components": document["components"]})


def component_validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    """A validator for the component schema `name` (one row of a listing, say)."""
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": document["components"]})
